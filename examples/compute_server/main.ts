// A TCP job server: clients send one job per line and get answers from a
// ComputePool attached to the server's event loop (`loop.spawnCompute`).
//
//   hash <priority> <text>   → `hash <n> <hex>`: iterated hash of <text>,
//                              priority critical|high|normal|low; <n> numbers
//                              the client's jobs from 1 (answers may come out
//                              of order: a critical job overtakes low ones)
//   stats                    → one line of JSON: the pool's metrics
//   quit                     → closes the connection
//
//   deno run --allow-net --allow-read examples/compute_server/main.ts --port 7001 \
//     [--workers 2] [--iterations 200000]
//   socat - TCP:127.0.0.1:7001
//
// A client that disconnects has its queued jobs removed and its running ones
// cancelled; a client may have 100 jobs pending, the pool queues 10,000.
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import { EventLoop } from "@millrace/io/reactor";
import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";
import { ComputePool, TaskPriority } from "@millrace/io/compute";
import { type LineSink, LineSplitter } from "./line_splitter.ts";
import {
  integerFlag,
  printError,
  printListening,
  serverConfig,
} from "../_args.ts";
import type * as Tasks from "./tasks.ts";

// A Map, not an object literal: a client's word must not find
// Object.prototype members (`hash constructor x`).
const PRIORITIES: ReadonlyMap<string, TaskPriority> = new Map([
  ["critical", TaskPriority.Critical],
  ["high", TaskPriority.High],
  ["normal", TaskPriority.Normal],
  ["low", TaskPriority.Low],
]);

/** Per-connection state. */
export interface JobClient {
  splitter: LineSplitter;
  sink: LineSink;
  jobs: number;
  inFlight: number;
  abort: AbortController;
}

/** Options of {@linkcode createComputeHandler}. */
export interface ComputeHandlerOptions {
  /** Rounds of the iterated hash per job. @default {200000} */
  iterations?: number;
  /** Jobs one client may have pending; more are refused. @default {100} */
  maxJobsPerClient?: number;
  /** Where diagnostics go. */
  log?: (line: string) => void;
}

/** The job protocol's handler; jobs go to the pool attached to `loop`. */
export function createComputeHandler(
  loop: EventLoop,
  pool: ComputePool<typeof Tasks>,
  options: ComputeHandlerOptions = {},
): NetworkHandler<JobClient> {
  const { iterations = 200_000, maxJobsPerClient = 100, log = () => {} } =
    options;
  return {
    onConnect(ctx, id) {
      const client: JobClient = {
        splitter: new LineSplitter(4096),
        jobs: 0,
        inFlight: 0,
        abort: new AbortController(),
        sink: {
          line(line) {
            const [command = "", priorityName = "", ...words] = line.trim()
              .split(" ");
            if (command === "hash") {
              const priority = PRIORITIES.get(priorityName);
              if (priority === undefined || words.length === 0) {
                ctx.sendTo(
                  id,
                  "error: usage: hash critical|high|normal|low <text>\n",
                );
                return;
              }
              const n = ++client.jobs;
              if (client.inFlight >= maxJobsPerClient) {
                // A client cannot queue unbounded work.
                ctx.sendTo(
                  id,
                  `error ${n} busy: ${maxJobsPerClient} jobs already pending\n`,
                );
                return;
              }
              client.inFlight++;
              loop.spawnCompute("hash", { text: words.join(" "), iterations }, {
                priority,
                signal: client.abort.signal,
              }).then(
                (hex) => ctx.has(id) && ctx.sendTo(id, `hash ${n} ${hex}\n`),
                (error: Error) => {
                  if (ctx.has(id)) {
                    ctx.sendTo(
                      id,
                      `error ${n} ${error.name}: ${error.message}\n`,
                    );
                  }
                },
              ).finally(() => client.inFlight--);
            } else if (command === "stats") {
              ctx.sendTo(id, JSON.stringify(pool.metrics()) + "\n");
            } else if (command === "quit") {
              ctx.closeConnection(id, { flush: true });
            } else if (command !== "") {
              ctx.sendTo(id, `error: unknown command '${command}'\n`);
            }
          },
          tooLong() {
            ctx.sendTo(id, "error: line too long\n");
          },
        },
      };
      ctx.setData(id, client);
    },
    onData(ctx, id, data) {
      const client = ctx.getData(id)!;
      client.splitter.push(data, client.sink);
    },
    onDisconnect(ctx, id) {
      // Its queued jobs leave the queue, its running ones see ctx.cancelled().
      ctx.getData(id)?.abort.abort();
    },
    onError(_ctx, error, id) {
      log(`connection ${id ?? "-"}: ${error.message}`);
    },
  };
}

/**
 * A short self-contained run for `deno task demo`: the job server on an
 * ephemeral port with a 2-worker pool, a client queueing low-priority jobs
 * and then a critical one (which overtakes them), then `stats`. Resolves
 * with the lines it printed; everything is stopped when it returns.
 */
export async function computeDemo(
  print: (line: string) => void = () => {},
): Promise<string[]> {
  const out: string[] = [];
  const say = (line: string) => {
    out.push(line);
    print(line);
  };
  const pool = new ComputePool<typeof Tasks>(
    new URL("./tasks.ts", import.meta.url),
    { workers: 2 },
  );
  const loop = new EventLoop();
  loop.attachCompute(pool);
  const server = new TcpServer(
    TcpServerConfig.builder().hostname("127.0.0.1").port(0).build(),
    createComputeHandler(loop, pool, { iterations: 300_000 }),
  );
  server.start(loop);
  const running = loop.run();
  try {
    const { port } = server.addr as Deno.NetAddr;
    say(`compute server on 127.0.0.1:${port} (2 workers)`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      let jobs = "";
      for (let i = 1; i <= 8; i++) jobs += `hash low job-${i}\n`;
      jobs += "hash critical urgent\nstats\n";
      say("client> 8 × 'hash low job-N', then 'hash critical urgent', 'stats'");
      await conn.write(new TextEncoder().encode(jobs));
      const decoder = new TextDecoder();
      const buf = new Uint8Array(16384);
      let text = "";
      const deadline = Date.now() + 10_000;
      // 9 answers and a stats line (stats answers at once, jobs later).
      while (text.split("\n").length <= 10 && Date.now() < deadline) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += decoder.decode(buf.subarray(0, n), { stream: true });
      }
      for (const line of text.trim().split("\n")) {
        say(
          line.startsWith("{")
            ? `server> stats (when the jobs were queued): ${
              line.slice(0, 160)
            }…`
            : `server> ${line}`,
        );
      }
      const m = pool.metrics();
      say(
        `pool: ${m.tasksCompleted} done, run p50 ${
          m.runTime.p50.toFixed(2)
        } ms, wait p99 ${m.waitTime.p99.toFixed(2)} ms, utilization ${
          (m.utilization * 100).toFixed(0)
        } %`,
      );
    } finally {
      conn.close();
    }
  } finally {
    await server.shutdown({ timeoutMs: 1000 });
    loop.stop();
    await running;
    await loop[Symbol.asyncDispose]();
    await pool.close();
  }
  return out;
}

if (import.meta.main) {
  const workers = integerFlag(
    Deno.args,
    "workers",
    String(navigator.hardwareConcurrency),
  );
  const iterations = integerFlag(Deno.args, "iterations", "200000");
  // Bounded queue: beyond it jobs are refused with an error line.
  const pool = new ComputePool<typeof Tasks>(
    new URL("./tasks.ts", import.meta.url),
    { workers, maxQueue: 10_000 },
  );
  const loop = new EventLoop();
  loop.attachCompute(pool);
  const config = serverConfig(Deno.args);
  const server = new TcpServer(
    config,
    createComputeHandler(loop, pool, { iterations, log: printError }),
  );
  server.start(loop);
  const running = loop.run();
  printListening(server.addr);
  {
    using _signals = shutdownOnSignals({
      async shutdown(options) {
        const result = await server.shutdown(options);
        loop.stop();
        return result;
      },
    }, { timeoutMs: 2000 });
    await running;
  }
  await loop[Symbol.asyncDispose](); // aborts jobs still pending
  await pool.close();
}
