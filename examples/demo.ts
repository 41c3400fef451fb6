// `deno task demo`: a self-contained tour of millrace that ends by itself in a
// few seconds. Everything runs in this process on 127.0.0.1 with ephemeral
// ports; nothing is left open when it exits.
//
//   1. reactor: an echo server written against the EventLoop directly, with
//      three clients; prints what the loop counted.
//   2. net: the chat server (examples/chat_server.ts) with three clients
//      talking, a line that is too long, a /quit; prints the transcript, the
//      server's stats and how the graceful shutdown went.
//   3. compute: a ComputePool with two workers; twelve low-priority jobs are
//      queued, then one critical job overtakes them.

import { type Event, EventLoop, Interest } from "@millrace/io/reactor";
import { TcpServerConfig, TcpStream } from "@millrace/io/net";
import { ComputePool, TaskPriority } from "@millrace/io/compute";
import { createChatServer } from "./chat_server.ts";
import type * as Tasks from "./compute_server/tasks.ts";
import { print, printListening } from "./_args.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = encoder.encode("\n");

function heading(title: string): void {
  print("");
  print(`== ${title}`);
}

async function reactorEcho(): Promise<void> {
  heading("reactor: echo on the EventLoop");
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const LISTENER = 0;
  let next = 1;
  // The handler of every connection: echo what arrives, close on EOF. The
  // bytes are valid during the callback only, so they are copied on write.
  const onConn = (event: Event, l: EventLoop): void => {
    if (event.data) l.write(event.token, event.data.slice());
    if (event.readClosed && !event.closed) void l.close(event.token);
  };
  loop.register(listener, LISTENER, Interest.READABLE, (event, l) => {
    if (event.conn) l.register(event.conn, next++, Interest.READABLE, onConn);
  });
  const running = loop.run();
  printListening(listener.addr);

  const rounds = 200;
  const clients = await Promise.all(
    [1, 2, 3].map(() => TcpStream.connect(listener.addr, { timeoutMs: 2000 })),
  );
  await Promise.all(clients.map(async (client, i) => {
    const line = encoder.encode(`client ${i + 1} says hello\n`);
    for (let r = 0; r < rounds; r++) {
      await client.writeAll(line, { timeoutMs: 2000 });
      const echoed = await client.readUntil(NEWLINE, { timeoutMs: 2000 });
      if (echoed === null || echoed.length !== line.length - 1) {
        throw new Error(`Cannot echo as client ${i + 1} got a short reply`);
      }
    }
  }));
  print(`3 clients x ${rounds} round trips echoed byte-exact`);
  for (const client of clients) client.close();
  const m = loop.metrics();
  print(
    `loop metrics: ${m.ticks} ticks, ${m.eventsDispatched} events, ${m.reads} reads, ${m.writes} writes, ${m.bytesRead} B in, ${m.bytesWritten} B out`,
  );
  loop.stop();
  await running;
}

/** A chat client that records every line it receives. */
class ChatClient {
  readonly name: string;
  readonly lines: string[] = [];
  #stream: TcpStream;
  #reading: Promise<void>;

  constructor(name: string, stream: TcpStream) {
    this.name = name;
    this.#stream = stream;
    this.#reading = this.#readLines();
  }

  async #readLines(): Promise<void> {
    while (true) {
      const line = await this.#stream.readUntil(NEWLINE, {
        maxLength: 8192,
        timeoutMs: 5000,
      });
      if (line === null) break;
      this.lines.push(decoder.decode(line));
    }
    // The server ended the stream (a /quit, or its graceful shutdown): leave.
    this.#stream.close();
  }

  async say(text: string): Promise<void> {
    await this.#stream.writeAll(encoder.encode(text + "\n"));
  }

  /** Waits until a received line satisfies `test`. */
  async waitFor(test: (line: string) => boolean): Promise<void> {
    const deadline = Date.now() + 3000;
    while (!this.lines.some(test)) {
      if (Date.now() > deadline) {
        throw new Error(`Cannot find the expected line: ${this.name} waited`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Resolves once the server has ended the stream and we have left. */
  done(): Promise<void> {
    return this.#reading;
  }
}

async function chat(): Promise<void> {
  heading("net: chat server with three clients");
  const config = TcpServerConfig.builder()
    .hostname("127.0.0.1")
    .port(0)
    .maxConnections(100)
    .idleTimeoutMs(10_000)
    .build();
  const server = createChatServer(config);
  const serving = server.run();
  printListening(server.addr);

  const join = async (name: string): Promise<ChatClient> => {
    const client = new ChatClient(
      name,
      await TcpStream.connect(server.addr, { timeoutMs: 2000 }),
    );
    await client.waitFor((l) => l.startsWith("* welcome"));
    await client.say(`/nick ${name}`);
    await client.waitFor((l) => l.endsWith(`is now ${name}`));
    return client;
  };
  const alice = await join("alice");
  const bob = await join("bob");
  const carol = await join("carol");

  await alice.say("hi all, the millrace is running");
  await bob.waitFor((l) => l.startsWith("alice: hi all"));
  await bob.say("hi alice");
  await carol.waitFor((l) => l === "bob: hi alice");
  await carol.say("x".repeat(5000)); // over the 4 KiB line limit
  await carol.waitFor((l) => l.startsWith("error: line too long"));
  await carol.say("oops, that line was too long");
  await bob.waitFor((l) => l.startsWith("carol: oops"));
  await bob.say("/quit");
  await bob.waitFor((l) => l === "* bye");
  await carol.waitFor((l) => l === "* bob left");

  const stats = server.stats();
  const result = await server.shutdown({ timeoutMs: 1000 });
  await Promise.all([alice.done(), bob.done(), carol.done()]);
  await serving;

  for (const client of [alice, bob, carol]) {
    print(`-- ${client.name} saw:`);
    for (const line of client.lines) {
      print(`   ${line.length > 60 ? line.slice(0, 57) + "..." : line}`);
    }
  }
  print(
    `server stats: ${stats.accepted} accepted, peak ${stats.peakConnections}, ${stats.dataEvents} data events, ${stats.bytesReceived} B received, ${stats.bytesQueued} B queued`,
  );
  print(
    `graceful shutdown: ${result.closedGracefully} closed gracefully, ${result.forced} forced`,
  );
}

async function compute(): Promise<void> {
  heading("compute: a critical job overtakes twelve low ones");
  await using pool = new ComputePool<typeof Tasks>(
    new URL("./compute_server/tasks.ts", import.meta.url),
    { workers: 2 },
  );
  await pool.ready();
  const order: string[] = [];
  const job = (name: string, priority: TaskPriority) =>
    pool.run("hash", { text: name, iterations: 300_000 }, { priority })
      .then((hex) => {
        order.push(name);
        return hex;
      });
  const low = Array.from(
    { length: 12 },
    (_, i) => job(`low-${i + 1}`, TaskPriority.Low),
  );
  const critical = job("critical", TaskPriority.Critical);
  const hex = await critical;
  await Promise.all(low);
  print(
    `critical job finished as number ${
      order.indexOf("critical") + 1
    } of ${order.length}: ${hex}`,
  );
  print(`completion order: ${order.join(", ")}`);
  const m = pool.metrics();
  print(
    `pool metrics: ${m.tasksSubmitted} submitted, ${m.tasksCompleted} completed, ${m.tasksFailed} failed, run time p50 ${
      m.runTime.p50.toFixed(2)
    } ms, wait time p99 ${m.waitTime.p99.toFixed(2)} ms`,
  );
}

if (import.meta.main) {
  const started = performance.now();
  await reactorEcho();
  await chat();
  await compute();
  heading(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
