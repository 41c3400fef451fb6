// TcpServer with `workers`: each test runs tests/testdata/multicore_server.ts
// in a child process with --unstable-net (reusePort needs it; without it
// Deno would exit the test runner itself) and drives it over loopback.
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { EventLoop } from "../reactor/mod.ts";
import {
  encodeProxyHeader,
  PROXY_TLV_TYPES,
  TcpServer,
  TcpServerConfig,
} from "../net/mod.ts";
import { type Example, startExample, within } from "./_helpers.ts";

const SERVER = new URL("./testdata/multicore_server.ts", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Reads lines with `conn.read` (not `conn.readable`, whose end of stream
 * closes the connection: these clients must stay open until they close).
 */
class Lines {
  #source: Deno.Conn | ReadableStream<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buffered = "";
  #decoder = new TextDecoder();
  constructor(source: Deno.Conn | ReadableStream<Uint8Array>) {
    this.#source = source;
    if (source instanceof ReadableStream) this.#reader = source.getReader();
  }
  async #read(): Promise<Uint8Array | null> {
    if (this.#reader !== undefined) {
      const { value, done } = await this.#reader.read();
      return done ? null : value;
    }
    const buf = new Uint8Array(65536);
    const n = await (this.#source as Deno.Conn).read(buf);
    return n === null ? null : buf.subarray(0, n);
  }
  async next(): Promise<string | null> {
    while (!this.#buffered.includes("\n")) {
      const chunk = await this.#read();
      if (chunk === null) return null;
      this.#buffered += this.#decoder.decode(chunk, { stream: true });
    }
    const at = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return line;
  }
  async cancel(): Promise<void> {
    await this.#reader?.cancel().catch(() => {});
  }
}

class ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly out: Lines;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  port = 0;
  constructor(args: string[], unstableNet = true) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(unstableNet ? ["--unstable-net"] : []),
        SERVER.href,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.out = new Lines(this.child.stdout);
    this.#stdin = this.child.stdin.getWriter();
  }
  async json(): Promise<Record<string, unknown>> {
    const line = await this.out.next();
    assert(line !== null, "server process ended early");
    return JSON.parse(line);
  }
  async started(): Promise<this> {
    this.port = (await this.json()).port as number;
    return this;
  }
  async command(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(line + "\n"));
  }
  async stats(): Promise<Record<string, unknown>> {
    await this.command("stats");
    return await this.json();
  }
  async close(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    const status = await this.child.status;
    await this.out.cancel();
    return status;
  }
}

class Client {
  readonly conn: Deno.TcpConn;
  readonly lines: Lines;
  id = 0;
  worker = -1;
  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.lines = new Lines(conn);
  }
  static async open(port: number): Promise<Client> {
    const client = new Client(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
    await client.send("id");
    const [, id, worker] = (await client.lines.next())!.split(" ");
    client.id = Number(id);
    client.worker = Number(worker);
    return client;
  }
  async send(line: string): Promise<void> {
    await this.conn.write(encoder.encode(line + "\n"));
  }
  async ask(line: string): Promise<string> {
    await this.send(line);
    return (await this.lines.next())!;
  }
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed by the server already.
    }
  }
}

/** Closes `clients`, then shuts the server down and waits for its process. */
async function stopServer(
  server: ServerProcess,
  clients: Iterable<Client>,
): Promise<void> {
  for (const c of clients) c.close();
  await server.command("shutdown 1000");
  await server.json();
  await server.close();
}

/** Opens clients until both Workers hold at least `each` of them. */
async function spread(port: number, each: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < 64; i++) {
    clients.push(await Client.open(port));
    const on0 = clients.filter((c) => c.worker === 0).length;
    const on1 = clients.filter((c) => c.worker === 1).length;
    if (on0 >= each && on1 >= each) return clients;
  }
  throw new Error("64 connections did not reach both Workers");
}

/**
 * Opens 16 connections (pushed to `late`) while Worker 0 stalls: those the
 * kernel gives Worker 0 wait in its backlog and never answer now. Returns the
 * first one Worker 1 answered, and every reply (to settle at the end).
 */
async function arriveWhileWorker0Stalls(
  port: number,
  late: Client[],
): Promise<{ arrived: Client; replies: Promise<Client>[] }> {
  for (let i = 0; i < 16; i++) {
    const client = new Client(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
    late.push(client);
    await client.send("id");
  }
  const replies = late.map(async (client) => {
    const [, id, worker] = (await client.lines.next())!.split(" ");
    client.id = Number(id);
    client.worker = Number(worker);
    return client;
  });
  for (const reply of replies) reply.catch(() => {});
  const arrived = await within(Promise.any(replies), 10_000, "arrival");
  assertEquals(arrived.worker, 1);
  return { arrived, replies };
}

async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
): Promise<T> {
  let value = await probe();
  for (let i = 0; i < 200 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 25));
    value = await probe();
  }
  return value;
}

/** The first client on Worker 0 and the first on Worker 1. */
function firstOnEachWorker(clients: Client[]): [Client, Client] {
  return [
    clients.find((c) => c.worker === 0)!,
    clients.find((c) => c.worker === 1)!,
  ];
}

/** Waits until `asker`'s Worker lists every one of `clients` in `ids`. */
async function listsAll(asker: Client, clients: Client[]): Promise<void> {
  await eventually(
    () => asker.ask("ids"),
    (line) => line.split(" ").length === clients.length + 1,
  );
}

Deno.test("TcpServer workers: 2 without --unstable-net fails at construction naming the flag and platform", async () => {
  const server = new ServerProcess(["--workers", "2"], false);
  const line = await server.json();
  const status = await server.close();
  assertEquals(line.error, "NotSupported");
  assertEquals(
    line.message,
    "Cannot create server as 'workers' above 1 needs reusePort, which Deno offers only on Linux with the '--unstable-net' flag: received workers 2 on linux without '--unstable-net'",
  );
  assertEquals(status.code, 3, "the error was catchable (not Deno's exit 70)");
});

Deno.test("TcpServer workers: 2 ids unique across Workers, connectionIds and count server-wide", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 3);
  try {
    const ids = clients.map((c) => c.id);
    assertEquals(new Set(ids).size, ids.length, "ids are unique");
    for (const c of clients) assertEquals(c.id % 256, c.worker);
    const sorted = [...ids].sort((a, b) => a - b);
    for (const c of [clients[0]!, clients.at(-1)!]) {
      const seen = await eventually(
        () => c.ask("ids"),
        (line) => line === `ids ${sorted.join(" ")}`,
      );
      assertEquals(seen, `ids ${sorted.join(" ")}`);
      assertEquals(await c.ask("count"), `count ${clients.length}`);
    }
    // A closed connection's id is not reused by the next one.
    clients.pop()!.close();
    const next = await Client.open(server.port);
    clients.push(next);
    assert(!ids.includes(next.id));
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 connectionIds lists another Worker's arrivals and departures at once, with no message between the Workers", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 2);
  const late: Client[] = [];
  try {
    const a = clients.find((c) => c.worker === 0)!;
    const [b, victim] = clients.filter((c) => c.worker === 1);
    // Worker 0 blocks its thread: no channel message reaches its handler
    // until it answers `ids`, computed as soon as it is released.
    await a.send("stall ids");
    await eventually(() => b!.ask("gate"), (line) => line === "gate 1");
    // Meanwhile a connection arrives on Worker 1...
    const { arrived, replies } = await arriveWhileWorker0Stalls(
      server.port,
      late,
    );
    // ...and one of Worker 1 leaves (Worker 1 itself says it is gone).
    await b!.send(`close ${victim!.id}`);
    assertEquals(await b!.lines.next(), "closed true");
    assertEquals(await victim!.lines.next(), null);
    await eventually(
      () => b!.ask(`has ${victim!.id}`),
      (line) => line === "has false",
    );
    // Main thread's view, at once.
    const expected = clients.filter((c) => c !== victim).map((c) => c.id);
    await server.command("ids");
    const main = (await server.json()).ids as number[];
    for (const id of [...expected, arrived.id]) {
      assert(main.includes(id), `main misses ${id}`);
    }
    assert(!main.includes(victim!.id), "main lists the departed");
    assertEquals(await b!.ask("release"), "released");
    const seen = (await a.lines.next())!.split(" ").slice(1).map(Number);
    for (const id of expected) {
      assert(seen.includes(id), `Worker 0 misses ${id}`);
    }
    assert(seen.includes(arrived.id), "Worker 0 misses the arrival");
    assert(!seen.includes(victim!.id), "Worker 0 lists the departed");
    assertEquals(seen, [...seen].sort((x, y) => x - y));
    await Promise.allSettled(replies);
  } finally {
    await stopServer(server, [...clients, ...late]);
  }
});

Deno.test("TcpServer workers: 2 remoteAddr, localAddr (and, without proxyProtocol, proxyInfo) of another Worker's new connection are known at once, with no message between the Workers", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 1);
  const late: Client[] = [];
  try {
    const [a, b] = firstOnEachWorker(clients);
    // Worker 0 blocks; once released it answers with the addresses it sees
    // before its loop runs again (no channel message read in between).
    await a.send("stall addrs");
    await eventually(() => b.ask("gate"), (line) => line === "gate 1");
    const { arrived, replies } = await arriveWhileWorker0Stalls(
      server.port,
      late,
    );
    assertEquals(await b.ask("release"), "released");
    const seen = new Map(
      (await a.lines.next())!.split(" ").slice(1).map((entry) =>
        entry.split("=") as [string, string]
      ),
    );
    const expect = (c: Client) =>
      `127.0.0.1:${
        (c.conn.localAddr as Deno.NetAddr).port
      }>${server.port}/none`;
    assertEquals(seen.get(String(arrived.id)), expect(arrived));
    for (const c of clients) assertEquals(seen.get(String(c.id)), expect(c));
    await Promise.allSettled(replies);
  } finally {
    await stopServer(server, [...clients, ...late]);
  }
});

Deno.test("TcpServer workers: 2 connectionIds under churn: long-lived connections always listed, nothing unknown, exact once it settles", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const stable = await spread(server.port, 2);
  const stableIds = new Set(stable.map((c) => c.id));
  const churned = new Set<number>();
  const others = new Set<number>();
  let churning = true;
  // Four churners open a connection, learn its id, close it, 25 times each.
  const churners = Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 25 && churning; i++) {
      const client = await Client.open(server.port);
      churned.add(client.id);
      client.close();
    }
  });
  try {
    const probes = [
      stable.find((c) => c.worker === 0)!,
      stable.find((c) => c.worker === 1)!,
    ];
    for (let round = 0; round < 40; round++) {
      const asker = probes[round % 2]!;
      const ids = (await asker.ask("ids")).split(" ").slice(1).map(Number);
      for (const id of stableIds) {
        assert(ids.includes(id), `Worker ${asker.worker} misses ${id}`);
      }
      // A churner's id may be listed before the churner has read it:
      // checked once they are done.
      for (const id of ids) if (!stableIds.has(id)) others.add(id);
      await server.command("ids");
      const main = (await server.json()).ids as number[];
      for (const id of stableIds) {
        assert(main.includes(id), `main misses ${id}`);
      }
    }
    await Promise.all(churners);
    assertGreater(churned.size, 50);
    for (const id of others) assert(churned.has(id), `unknown id ${id}`);
    // Every churned connection is gone once the Workers read their ends.
    const expected = [...stableIds].sort((a, b) => a - b);
    const settled = await eventually(async () => {
      await server.command("ids");
      return (await server.json()).ids as number[];
    }, (ids) => ids.length === expected.length);
    assertEquals(settled, expected);
    for (const asker of probes) {
      assertEquals(await asker.ask("ids"), `ids ${expected.join(" ")}`);
    }
  } finally {
    churning = false;
    await Promise.allSettled(churners);
    await stopServer(server, stable);
  }
});

Deno.test("TcpServer workers: 2 routed sendTo, broadcast and closeConnection across Workers are byte-exact", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 2);
  try {
    const [a, b] = firstOnEachWorker(clients);
    // Every client must be in every Worker's view before routing to it.
    await eventually(
      () => a.ask("count"),
      (line) => line === `count ${clients.length}`,
    );
    await listsAll(a, clients);
    const payload = "héllo ünïcode " + "x".repeat(3000);
    await a.send(`to ${b.id} ${payload}`);
    assertEquals(await a.lines.next(), "ok true");
    assertEquals(await b.lines.next(), payload);
    await b.send(`to ${a.id} back`);
    assertEquals(await b.lines.next(), "ok true");
    assertEquals(await a.lines.next(), "back");
    // Broadcast from worker 1 reaches every connection on both, once.
    await b.send(`all ${payload}`);
    assertEquals(await b.lines.next(), payload);
    assertEquals(await b.lines.next(), `sent ${clients.length}`);
    for (const c of clients) {
      if (c !== b) assertEquals(await c.lines.next(), payload);
    }
    // closeConnection from worker 0 closes a connection of worker 1.
    const victim = clients.filter((c) => c.worker === 1).at(-1)!;
    await a.send(`close ${victim.id}`);
    assertEquals(await a.lines.next(), "closed true");
    assertEquals(await victim.lines.next(), null);
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 maxConnections and stats hold server-wide", async () => {
  const server = await new ServerProcess(["--workers", "2", "--max", "4"])
    .started();
  const clients: Client[] = [];
  let extra: Deno.TcpConn | undefined;
  try {
    for (let i = 0; i < 4; i++) clients.push(await Client.open(server.port));
    // The kernel takes a fifth connection into a backlog; no Worker accepts it.
    extra = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await extra.write(encoder.encode("id\n"));
    const reply = new Uint8Array(64);
    const reading = extra.read(reply);
    const early = await Promise.race([
      reading,
      new Promise((r) => setTimeout(() => r("none"), 300)),
    ]);
    assertEquals(early, "none", "a fifth connection was served at the limit");
    const stats = await eventually(
      () => server.stats(),
      (s) => s.accepted === 4,
    );
    assertEquals(stats.connections, 4);
    assertEquals(stats.peakConnections, 4);
    assertEquals(stats.accepted, 4);
    // One leaves (on whichever Worker): the fifth is served.
    clients.shift()!.close();
    const n = await reading;
    assertMatch(decoder.decode(reply.subarray(0, n!)), /^id \d+ [01]\n/);
    const after = await eventually(
      () => server.stats(),
      (s) => s.accepted === 5 && s.closed === 1,
    );
    assertEquals(after.connections, 4);
    assertEquals(after.peakConnections, 4);
    assertEquals(
      (after.disconnects as Record<string, number>)["peer closed"],
      1,
    );
  } finally {
    extra?.close();
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 stats() counts a stalled Worker's last events at once, with no publishing turn", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 1);
  try {
    const [a, b] = firstOnEachWorker(clients);
    // Settled: every client sent one "id\n".
    const before = await eventually(
      () => server.stats(),
      (s) => s.dataEvents === clients.length,
    );
    assertEquals(before.bytesReceived, 3 * clients.length);
    // Worker 1 counts the "stall" line, then blocks its thread in the same
    // turn: nothing it does after the count can reach the main thread.
    await b.send("stall");
    let asks = 0;
    await eventually(async () => {
      asks++;
      return await a.ask("gate");
    }, (line) => line === "gate 1");
    const during = await server.stats();
    assertEquals(during.dataEvents, clients.length + 1 + asks);
    assertEquals(
      during.bytesReceived,
      3 * clients.length + "stall\n".length + asks * "gate\n".length,
    );
    assertEquals(during.accepted, clients.length);
    assertEquals(await a.ask("release"), "released");
    assertEquals(await b.lines.next(), "resumed");
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 stats() shows a Worker's pending bytes while a peer does not read, and none once it did", async () => {
  const server = await new ServerProcess([
    "--workers",
    "2",
    "--max-write-buffer",
    String(64 << 20),
  ]).started();
  const clients = await spread(server.port, 1);
  try {
    const size = 16 << 20;
    const reader = clients.find((c) => c.worker === 1)!;
    await reader.send(`big ${size}`);
    // More than the kernel's socket buffers hold: most of it stays queued.
    const full = await eventually(
      () => server.stats(),
      (s) => (s.bytesPending as number) > 0,
    );
    assertGreater(full.bytesPending as number, 0);
    let read = 0;
    const buf = new Uint8Array(1 << 16);
    while (read < size) {
      const n = await reader.conn.read(buf);
      assert(n !== null, "closed early");
      read += n;
    }
    const drained = await eventually(
      () => server.stats(),
      (s) => s.bytesPending === 0,
    );
    assertEquals(drained.bytesPending, 0);
    assertEquals(drained.bytesQueued as number >= size, true);
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 a routed sendTo or broadcast to a stalled Worker past maxOutboxBytes is refused and reported, nothing accepted is lost or doubled", async () => {
  // Outboxes of 64 KiB: past the 1 MiB channel ring and 64 KiB waiting in
  // the sender, a routed message to the stalled Worker is refused. Once it
  // resumes, it writes over 1 MiB to one client at once: room for that.
  const server = await new ServerProcess([
    "--workers",
    "2",
    "--outbox",
    "65536",
    "--max-write-buffer",
    "16777216",
  ])
    .started();
  const clients = await spread(server.port, 1);
  try {
    const [a, b] = firstOnEachWorker(clients);
    await listsAll(a, clients);
    // Worker 1 blocks its thread; Worker 0 floods it with 3,000 lines of
    // ~1 KiB (3 MiB), then broadcasts, then lets it go.
    await b.send("stall");
    // b reads all along (a client that stops reading would be cut off as a
    // slow consumer); what it gets before END is checked below.
    const collected = (async () => {
      const got: number[] = [];
      let resumed = 0;
      for (;;) {
        const line = await within(b.lines.next(), 10_000, "flooded line");
        if (line === "END") return { got, resumed };
        if (line === "resumed") resumed++;
        else {
          assertMatch(line!, /^f\d+ x{1000}$/);
          got.push(Number(line!.slice(1, line!.indexOf(" "))));
        }
      }
    })();
    collected.catch(() => {}); // awaited below; a failure before must not leak
    // a is on Worker 0: the broadcast reaches it before the answer.
    const during = `during stall ${"x".repeat(1000)}`;
    assertEquals(await a.ask(`flood ${b.id} 3000 1000`), during);
    const flood = JSON.parse(
      (await a.lines.next())!.slice("flood ".length),
    ) as { accepted: number[]; sent: number; errors: Record<string, number> };
    const refused = 3000 - flood.accepted.length;
    assertGreater(
      refused,
      0,
      "every message was taken: the outbox is unbounded",
    );
    assertGreater(
      flood.accepted.length,
      1000,
      "the ring and outbox took little",
    );
    // What was taken is a prefix: the outbox refuses only once it is full.
    assertEquals(flood.accepted, [...Array(flood.accepted.length).keys()]);
    const bound = `'maxOutboxBytes' is 65536`;
    assertEquals(flood.errors, {
      [`TooBigError ${b.id} Cannot send to connection as the outbox to Worker 1 is full (the Worker is not keeping up): ${bound}`]:
        refused,
      [`TooBigError undefined Cannot broadcast as the outbox to Worker 1 is full (the Worker is not keeping up): ${bound}`]:
        1,
    });
    // The broadcast's count leaves Worker 1's connections out.
    const on0 = clients.filter((c) => c.worker === 0);
    assertEquals(flood.sent, on0.length);
    for (const c of on0) {
      if (c !== a) assertEquals(await c.lines.next(), during);
    }
    // Once Worker 1 drains, a marker routed after the flood is taken; before
    // it, b gets every accepted line once, in order, and nothing else.
    let marker = "";
    for (let i = 0; i < 200 && marker !== "route taken"; i++) {
      marker = await a.ask(`route ${b.id} END`);
      if (marker !== "route taken") await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(marker, "route taken");
    const { got, resumed } = await collected;
    assertEquals(resumed, 1);
    assertEquals(got, flood.accepted);
    // The server keeps serving: a new connection, and a broadcast that now
    // reaches every connection on both Workers.
    clients.push(await Client.open(server.port));
    await eventually(
      () => b.ask("ids"),
      (line) => line.split(" ").length === clients.length + 1,
    );
    await b.send("all after");
    assertEquals(await b.lines.next(), "after");
    assertEquals(await b.lines.next(), `sent ${clients.length}`);
    for (const c of clients) {
      if (c !== b) assertEquals(await c.lines.next(), "after");
    }
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 with proxyProtocol v2: every Worker sees each connection's header address", async () => {
  const server = await new ServerProcess(["--proxy", "v2"]).started();
  const clients: Client[] = [];
  try {
    // Open until both Workers hold a connection; each sends its own header.
    for (let i = 0; i < 64; i++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      const client = new Client(conn);
      await conn.write(encodeProxyHeader({
        version: 2,
        source: { transport: "tcp", hostname: "127.3.2.1", port: 4000 + i },
        destination: { transport: "tcp", hostname: "127.0.0.1", port: 443 },
        tlvs: [
          { type: PROXY_TLV_TYPES.AUTHORITY, value: encoder.encode("a.test") },
          { type: PROXY_TLV_TYPES.UNIQUE_ID, value: encoder.encode(`u${i}`) },
        ],
      }));
      const [, id, worker] = (await client.ask("id")).split(" ");
      client.id = Number(id);
      client.worker = Number(worker);
      clients.push(client);
      if (new Set(clients.map((c) => c.worker)).size === 2) break;
    }
    assertEquals(new Set(clients.map((c) => c.worker)).size, 2);
    await new Promise((r) => setTimeout(r, 200)); // the gossip has arrived
    // Every client asks about every connection: its own Worker's and the
    // other's must tell the same header.
    for (const asker of [clients[0]!, clients.at(-1)!]) {
      for (const [i, about] of clients.entries()) {
        const answer = await asker.ask(`addr ${about.id}`);
        const port = 4000 + i;
        assertEquals(
          JSON.parse(answer.slice("addr ".length)),
          {
            remote: { transport: "tcp", hostname: "127.3.2.1", port },
            fromHeader: true,
            source: { transport: "tcp", hostname: "127.3.2.1", port },
            authority: "a.test",
            uniqueId: `u${i}`,
            tlvBytes: true,
          },
          `worker ${asker.worker} asking about ${about.id} (worker ${about.worker})`,
        );
      }
    }
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 2 graceful shutdown drains every Worker with one deadline", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 2);
  // Clients close as soon as they read end of stream: all graceful.
  await server.command("shutdown 5000");
  for (const c of clients) {
    assertEquals(await c.lines.next(), null);
    c.close();
  }
  const { result } = await server.json();
  assertEquals(result, { closedGracefully: clients.length, forced: 0 });
  assertEquals((await server.json()).exited, true);
  assertEquals((await server.close()).code, 0);
});

Deno.test("TcpServer workers: 2 shutdown deadline and forced shutdown close every Worker's connections", async () => {
  for (const mode of ["deadline", "force"]) {
    const server = await new ServerProcess(["--workers", "2"]).started();
    const clients = await spread(server.port, 2);
    // Clients never close: the deadline (or the forcing call) closes them.
    await server.command(
      mode === "deadline" ? "shutdown 200" : "shutdown 60000",
    );
    if (mode === "force") await server.command("force");
    const { result } = await server.json();
    assertEquals(result, { closedGracefully: 0, forced: clients.length });
    for (const c of clients) {
      let line: string | null = "";
      while (line !== null) line = await c.lines.next().catch(() => null);
      c.close();
    }
    assertEquals((await server.json()).exited, true);
    assertEquals((await server.close()).code, 0);
  }
});

Deno.test("TcpServer workers: 2 a crashed Worker is reported and restarted while the other serves", async () => {
  const server = await new ServerProcess(["--workers", "2"]).started();
  const clients = await spread(server.port, 2);
  try {
    const survivors = clients.filter((c) => c.worker === 0);
    const doomed = clients.filter((c) => c.worker === 1);
    await eventually(
      () => survivors[0]!.ask("ids"),
      (line) => line.split(" ").length === clients.length + 1,
    );
    await doomed[0]!.send("crash");
    assertEquals(await server.json(), { workerError: 1 });
    // Once the crash is reported, no view lists its connections.
    const sortedIds = (cs: Client[]) =>
      cs.map((c) => c.id).sort((x, y) => x - y);
    await server.command("ids");
    assertEquals((await server.json()).ids, sortedIds(survivors));
    // Its connections died with it...
    for (const c of doomed) {
      assertEquals(await c.lines.next().catch(() => null), null);
    }
    // ...and the replacement reported each as "worker crashed", which the
    // test handler broadcasts to the survivors.
    for (const c of survivors) {
      const gone = new Set<string>();
      for (let i = 0; i < doomed.length; i++) {
        gone.add((await within(c.lines.next(), 10_000, "'gone' notice"))!);
      }
      assertEquals(
        gone,
        new Set(doomed.map((d) => `gone ${d.id} worker crashed`)),
      );
      assertMatch(await c.ask("id"), /^id \d+ 0$/);
    }
    // The restarted Worker 1 serves new connections.
    const fresh: Client[] = [];
    for (let i = 0; i < 64 && !fresh.some((c) => c.worker === 1); i++) {
      fresh.push(await Client.open(server.port));
    }
    clients.push(...fresh);
    assert(fresh.some((c) => c.worker === 1), "no connection reached Worker 1");
    // The restarted Worker's connections are listed as soon as they answer.
    await server.command("ids");
    assertEquals(
      (await server.json()).ids,
      sortedIds([...survivors, ...fresh]),
    );
    assertEquals(
      await survivors[0]!.ask("ids"),
      `ids ${sortedIds([...survivors, ...fresh]).join(" ")}`,
    );
    const stats = await eventually(
      () => server.stats(),
      (s) =>
        (s.disconnects as Record<string, number>)["worker crashed"] ===
          doomed.length,
    );
    assertEquals(
      (stats.disconnects as Record<string, number>)["worker crashed"],
      doomed.length,
    );
    assertEquals(stats.connections, survivors.length + fresh.length);
    assertNotEquals(fresh.find((c) => c.worker === 1)!.id, doomed[0]!.id);
    assertGreater(fresh.at(-1)!.id, Math.max(...doomed.map((c) => c.id)));
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: 1 runs the handler module in-process on one loop, without a Worker or flags", async () => {
  const handlerModule = new URL(
    "./testdata/multicore_handler.ts",
    import.meta.url,
  );
  const beat = new SharedArrayBuffer(4);
  const word = new Int32Array(beat);
  const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
    handlerModule,
    workerData: { beat },
  });
  assertThrows(() => server.context, Deno.errors.NotConnected);
  const serving = server.run();
  const { port } = await server.listening() as Deno.NetAddr;
  const client = await Client.open(port);
  assertEquals(client.worker, 0);
  assertEquals(await client.ask("thread"), "thread main");
  assertEquals(await client.ask("count"), "count 1");
  // The context is the one-loop server's own, usable from this thread.
  assertEquals(server.context.connectionIds(), [client.id]);
  assert(server.context.sendTo(client.id, "from main\n"));
  assertEquals(await client.lines.next(), "from main");
  assertEquals(server.stats().accepted, 1);
  const result = server.shutdown({ timeoutMs: 1000 });
  assertEquals(await client.lines.next(), null);
  client.close();
  assertEquals(await result, { closedGracefully: 1, forced: 0 });
  await serving;
  assertEquals(server.stats().state, "closed");
  assert(Atomics.load(word, 0) > 0, "the handler's timer ran");
});

Deno.test("TcpServer workers: 1 shut down while the module loads, or by the run signal, ends cleanly", async () => {
  const handlerModule = new URL(
    "./testdata/multicore_handler.ts",
    import.meta.url,
  );
  const early = new TcpServer({ port: 0 }, { handlerModule });
  const serving = early.run();
  assertEquals(await early.shutdown({ timeoutMs: 100 }), {
    closedGracefully: 0,
    forced: 0,
  });
  await serving;
  await assertRejects(() => early.listening(), Deno.errors.Interrupted);
  assertEquals(early.stats().state, "closed");

  const controller = new AbortController();
  const server = new TcpServer({ port: 0 }, { handlerModule });
  const running = server.run({ signal: controller.signal });
  const { port } = await server.listening() as Deno.NetAddr;
  const client = await Client.open(port);
  controller.abort();
  assertEquals(await client.lines.next(), null);
  client.close();
  await running;
  assertEquals(server.stats().state, "closed");
});

Deno.test("TcpServer workers: 1 reports a handler module that fails to load or has no handler", async () => {
  const config = new TcpServerConfig({ port: 0 });
  const missing = new TcpServer(config, {
    handlerModule: new URL("./testdata/no_such_module.ts", import.meta.url),
  });
  await assertRejects(() => missing.run(), Error);
  await assertRejects(() => missing.listening(), Error);
  assertEquals(missing.stats().state, "closed");
  const empty = new TcpServer(config, {
    handlerModule: `data:text/javascript,${encodeURIComponent("export {}")}`,
  });
  await assertRejects(
    () => empty.run(),
    TypeError,
    "Cannot start server as the handler module must export a NetworkHandler as 'default' or return one from 'init()': received undefined",
  );
});

Deno.test("TcpServer workers rejects bad options clearly", () => {
  const config = new TcpServerConfig({ port: 0 });
  const handlerModule = new URL(
    "./testdata/multicore_handler.ts",
    import.meta.url,
  );
  assertThrows(
    () => new TcpServer(config, { handlerModule, workers: 0 }),
    RangeError,
    `Cannot create server as 'workers' must be an integer from 1 to 256 or "auto": received 0`,
  );
  for (const bad of [0, -1, 1.5, NaN]) {
    assertThrows(
      () => new TcpServer(config, { handlerModule, maxOutboxBytes: bad }),
      RangeError,
      `Cannot create server as 'maxOutboxBytes' must be`,
    );
  }
  assertThrows(
    () =>
      new TcpServer(config, {
        handlerModule,
        maxOutboxBytes: "1" as unknown as number,
      }),
    TypeError,
    `Cannot create server as 'maxOutboxBytes' must be`,
  );
  assertThrows(
    () => new TcpServer(config, { handlerModule: "./handler.ts" }),
    TypeError,
    "Cannot create server as 'handlerModule' must be an absolute URL",
  );
  assertThrows(
    () =>
      new TcpServer(new TcpServerConfig({ path: "/tmp/x.sock" }), {
        handlerModule,
        workers: 2,
      }),
    TypeError,
    `Cannot create server as 'workers' above 1 needs transport "tcp": received "unix"`,
  );
  assertThrows(
    () => new TcpServer(config, { handlerModule }).start(new EventLoop()),
    TypeError,
    "Cannot start server on a loop as it serves from Workers: use 'run()'",
  );
});

/** Starts an example with --unstable-net; resolves with its port. */
// An example with `--workers`: needs --unstable-net (reusePort) and
// --allow-read (the Workers load the handler module).
function startWorkersExample(name: string, args: string[]): Promise<Example> {
  return startExample(name, {
    args,
    permissions: ["--unstable-net", "--allow-net", "--allow-read"],
    readStdout: true,
  });
}

// SIGTERM must end it with exit code 0.
async function stopWorkersExample(example: Example): Promise<void> {
  example.child.kill("SIGTERM");
  assertEquals((await example.child.status).code, 0);
  await example.stdout.cancel();
  await example.stderr;
}

Deno.test("TcpServer workers: 1 in a main module that is its own handler module does not wait for itself", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./testdata/self_handler_server.ts", import.meta.url).href,
      "1",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = new Lines(child.stdout);
  const stdin = child.stdin.getWriter();
  try {
    const line = await within(out.next(), 10_000, "listening line");
    const { port } = JSON.parse(line!);
    const client = new Client(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
    assertEquals(await client.ask("echo me"), "echo me");
    client.close();
  } finally {
    await stdin.close().catch(() => {});
    // A hung child (the old behaviour) would never end by itself.
    const timer = setTimeout(() => child.kill(), 10_000);
    const status = await child.status;
    clearTimeout(timer);
    await out.cancel();
    assertEquals(status.code, 0);
  }
});

Deno.test("examples/chat_server.ts --workers 2 broadcasts chat lines across Workers", async () => {
  const chat = await startWorkersExample("chat_server.ts", ["--workers", "2"]);
  const clients: Client[] = [];
  try {
    // guest<id>: the id's low byte is the Worker; open until both serve.
    const workersSeen = new Set<number>();
    for (let i = 0; i < 64 && workersSeen.size < 2; i++) {
      const client = new Client(
        await Deno.connect({ hostname: "127.0.0.1", port: chat.port }),
      );
      const welcome = (await client.lines.next())!;
      client.id = Number(/guest(\d+)/.exec(welcome)![1]);
      client.worker = client.id % 256;
      workersSeen.add(client.worker);
      clients.push(client);
    }
    assertEquals(workersSeen.size, 2);
    // Each client hears of every later one (notices routed between Workers
    // may arrive in either order).
    for (const [i, c] of clients.entries()) {
      const heard = new Set<string>();
      for (let j = i + 1; j < clients.length; j++) {
        heard.add((await c.lines.next())!);
      }
      assertEquals(
        heard,
        new Set(clients.slice(i + 1).map((d) => `* guest${d.id} joined`)),
      );
    }
    const speaker = clients.at(-1)!;
    const text = "grüße an alle " + "z".repeat(2000);
    await speaker.send(text);
    for (const c of clients) {
      if (c !== speaker) {
        assertEquals(await c.lines.next(), `guest${speaker.id}: ${text}`);
      }
    }
  } finally {
    for (const c of clients) c.close();
    await stopWorkersExample(chat);
  }
});

Deno.test("examples/http_hello/main.ts --workers 2 answers from two Worker threads", async () => {
  const hello = await startWorkersExample("http_hello/main.ts", [
    "--workers",
    "2",
  ]);
  try {
    let threads = 0;
    for (const entry of Deno.readDirSync(`/proc/${hello.child.pid}/task`)) {
      const comm = Deno.readTextFileSync(
        `/proc/${hello.child.pid}/task/${entry.name}/comm`,
      );
      if (comm.startsWith("worker-")) threads++;
    }
    assertEquals(threads, 2);
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${hello.port}/`, {
        headers: { connection: "close" },
      });
      assertEquals(response.status, 200);
      assert((await response.text()).length > 0);
    }
  } finally {
    await stopWorkersExample(hello);
  }
});

Deno.test("TcpServer workers: 2 with a health port: Worker 0 answers it, the others do not bind it", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const healthPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const server = await new ServerProcess([
    "--workers",
    "2",
    "--health-port",
    String(healthPort),
  ]).started();
  const clients = await spread(server.port, 1);
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: healthPort,
    });
    const lines = new Lines(conn);
    assertEquals(await lines.next(), "up ready");
    conn.close();
  } finally {
    await stopServer(server, clients);
  }
});

Deno.test("TcpServer workers: a Worker that cannot bind makes run() reject with the bind error", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const server = new TcpServer(
      { port: (taken.addr as Deno.NetAddr).port },
      {
        handlerModule: new URL(
          "./testdata/multicore_handler.ts",
          import.meta.url,
        ),
      },
    );
    await assertRejects(() => server.run(), Deno.errors.AddrInUse);
    await assertRejects(() => server.listening(), Deno.errors.AddrInUse);
    assertEquals(server.stats().state, "closed");
  } finally {
    taken.close();
  }
});
