// A chaos client for the example servers (echo_server, chat_server,
// mini_redis): many connections that misbehave the way real peers do, each
// checked byte for byte where the protocol lets it be checked.
//
// Behaviours (picked per connection from a seeded generator):
// - drip:      a message one byte per write, the whole answer verified
// - halfClose: a message, then closeWrite(); the answer verified to its end
// - burst:     `burstBytes` (16 MiB by default) written while reading; verified
// - reset:     a large write, then close() with unread data (the kernel sends
//              RST): the server must just drop it
// - vanish:    connect and close at once (sometimes after a partial message)
//
// Chat: two observers stay connected throughout; every line a chaos client
// sent before its "/quit" was answered must reach both observers, and they
// must see no line nobody sent.
//
// Bounded: `connections` in total, `concurrency` at a time, every wait under
// `deadlineMs`. Used by tests/example_chaos_test.ts and tests/soak.ts.

import {
  concat,
  firstDifference,
  HOST,
  LineReader,
  mulberry32,
  readN,
  respCommand,
  writeAll,
} from "./_helpers.ts";

/** Which example protocol the server speaks. */
export type ChaosProtocol = "echo" | "chat" | "redis";

/** The misbehaviours of {@linkcode runChaos}. */
export const BEHAVIOURS = [
  "drip",
  "halfClose",
  "burst",
  "reset",
  "vanish",
] as const;
/** One misbehaviour. */
export type Behaviour = typeof BEHAVIOURS[number];

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  port: number;
  protocol: ChaosProtocol;
  /** Seeds the choice of behaviours and sizes. */
  seed: number;
  /** Connections in total. @default {40} */
  connections?: number;
  /** Connections open at a time. @default {8} */
  concurrency?: number;
  /** Bytes of a burst. @default {16 MiB} */
  burstBytes?: number;
  /** Bursts in total (each is large). @default {1} */
  bursts?: number;
  /** The whole run fails after this long. @default {60000} */
  deadlineMs?: number;
}

/** What {@linkcode runChaos} did. */
export interface ChaosReport {
  /** Connections per behaviour. */
  behaviours: Record<Behaviour, number>;
  /** Bytes checked against what the protocol must answer. */
  verifiedBytes: number;
  /** Chat only: lines checked at each observer. */
  verifiedLines: number;
}

const enc = new TextEncoder();

class ChaosError extends Error {
  override name = "ChaosError";
}

function expectBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  const at = firstDifference(got, want);
  if (at !== -1) {
    throw new ChaosError(
      `${what}: got ${got.length} bytes, want ${want.length}; first difference at ${at}`,
    );
  }
}

async function readToEnd(conn: Deno.Conn, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
    if (total > limit) throw new ChaosError(`more than ${limit} bytes`);
  }
  return concat(parts);
}

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

// Every connection open now, so that a run that outlives its deadline can
// close them (a stalled read would otherwise keep it waiting for ever).
const openConns = new Set<Deno.Conn>();

async function connect(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: HOST, port });
  openConns.add(conn);
  return conn;
}

function closeQuietly(conn: Deno.Conn): void {
  openConns.delete(conn);
  try {
    conn.close();
  } catch { /* already closed */ }
}

// ------------------------------------------------------------------ echo

async function echoConnection(
  port: number,
  behaviour: Behaviour,
  size: number,
  seed: number,
): Promise<number> {
  const conn = await connect(port);
  try {
    const message = pattern(size, seed);
    switch (behaviour) {
      case "drip": {
        const reading = readN(conn, message.length);
        for (let i = 0; i < message.length; i++) {
          await conn.write(message.subarray(i, i + 1));
        }
        expectBytes(await reading, message, "echo drip");
        return message.length;
      }
      case "halfClose":
      case "burst": {
        const reading = readToEnd(conn, message.length);
        await writeAll(conn, message);
        await conn.closeWrite();
        expectBytes(await reading, message, `echo ${behaviour}`);
        return message.length;
      }
      case "reset":
        // Unread echoed bytes make close() send RST.
        await writeAll(conn, message).catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
        return 0;
      case "vanish":
        if (seed & 1) await conn.write(message.subarray(0, 7)).catch(() => {});
        return 0;
    }
  } finally {
    closeQuietly(conn);
  }
}

// ----------------------------------------------------------------- redis

function bulk(value: Uint8Array): Uint8Array {
  return concat([
    enc.encode(`$${value.length}\r\n`),
    value,
    enc.encode("\r\n"),
  ]);
}

const OK = enc.encode("+OK\r\n");

// SET/GET pairs totalling about `size` bytes, and the exact replies.
function redisScript(
  prefix: string,
  size: number,
  seed: number,
): { request: Uint8Array; reply: Uint8Array } {
  const requests: Uint8Array[] = [];
  const replies: Uint8Array[] = [];
  let total = 0, i = 0;
  while (total < size) {
    const value = pattern(
      Math.min(1 + ((seed + i * 7919) % 4000), 4000),
      seed + i,
    );
    // 64 keys, overwritten: each GET follows its SET on the same connection.
    const key = `${prefix}:${i++ % 64}`;
    requests.push(respCommand("SET", key, value), respCommand("GET", key));
    replies.push(OK, bulk(value));
    total += value.length * 2 + 40;
  }
  return { request: concat(requests), reply: concat(replies) };
}

async function redisConnection(
  port: number,
  behaviour: Behaviour,
  size: number,
  seed: number,
  slot: number,
): Promise<number> {
  const conn = await connect(port);
  try {
    // Keys per concurrent slot (no two live connections share one), reused
    // by later runs: the keyspace, and the server's memory, stay bounded.
    // (Resets and vanishes get their own: the server may still run their
    // commands while the slot's next connection checks its replies.)
    const unchecked = behaviour === "reset" || behaviour === "vanish";
    const { request, reply } = redisScript(
      `chaos:${unchecked ? "lost" : "live"}:${slot}`,
      size,
      seed,
    );
    switch (behaviour) {
      case "drip": {
        const reading = readN(conn, reply.length);
        for (let i = 0; i < request.length; i++) {
          await conn.write(request.subarray(i, i + 1));
        }
        expectBytes(await reading, reply, "redis drip");
        return request.length + reply.length;
      }
      case "halfClose":
      case "burst": {
        const reading = readN(conn, reply.length);
        await writeAll(conn, request);
        expectBytes(await reading, reply, `redis ${behaviour}`);
        await conn.closeWrite();
        expectBytes(
          await readToEnd(conn, 0),
          new Uint8Array(0),
          "end of stream after the half-close",
        );
        return request.length + reply.length;
      }
      case "reset":
        await writeAll(conn, request).catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
        return 0;
      case "vanish":
        if (seed & 1) await conn.write(request.subarray(0, 9)).catch(() => {});
        return 0;
    }
  } finally {
    closeQuietly(conn);
  }
}

// One client alone on the server writes 5,000 GETs of a 1 KiB value at once:
// small requests, large replies, so the server pauses reading on
// backpressure and must resume from its writable event. Alone, because
// traffic on any other connection used to release a lost wakeup.
async function redisSoloPipeline(port: number, seed: number): Promise<number> {
  const conn = await connect(port);
  try {
    const key = "chaos:fan";
    const value = pattern(1024, seed);
    const get = respCommand("GET", key);
    const request = concat([
      respCommand("SET", key, value),
      ...Array.from({ length: 5000 }, () => get),
    ]);
    const bulkReply = bulk(value);
    const reply = concat([
      OK,
      ...Array.from({ length: 5000 }, () => bulkReply),
    ]);
    const reading = readN(conn, reply.length);
    await writeAll(conn, request);
    expectBytes(await reading, reply, "redis solo pipeline");
    return request.length + reply.length;
  } finally {
    closeQuietly(conn);
  }
}

// ------------------------------------------------------------------ chat

/** A chat connection read line by line, past its welcome line. */
class ChatPeer extends LineReader {
  static async connect(port: number): Promise<ChatPeer> {
    const peer = new ChatPeer(await connect(port));
    const welcome = await peer.next();
    if (!welcome?.startsWith("* welcome ")) {
      throw new ChaosError(`chat welcome: ${JSON.stringify(welcome)}`);
    }
    return peer;
  }
}

/** Collects every chat line an observer receives. */
class Observer {
  readonly peer: ChatPeer;
  readonly texts = new Set<string>();
  #waiters = new Map<string, () => void>();
  readonly done: Promise<void>;
  constructor(peer: ChatPeer) {
    this.peer = peer;
    this.done = (async () => {
      for (
        let line = await peer.next();
        line !== null;
        line = await peer.next()
      ) {
        if (line.startsWith("* ")) continue;
        // "nick: text"
        const text = line.slice(line.indexOf(": ") + 2);
        if (this.texts.has(text)) {
          throw new ChaosError(`chat line seen twice: ${text.slice(0, 40)}`);
        }
        this.texts.add(text);
        this.#waiters.get(text)?.();
      }
    })();
  }
  seen(text: string): Promise<void> {
    if (this.texts.has(text)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.set(text, resolve));
  }
}

function chatLines(size: number, seed: number): string[] {
  const lines: string[] = [];
  let total = 0, i = 0;
  while (total < size) {
    // Printable, unique, 1..2000 bytes (the server's limit is 4096).
    const pad = "x".repeat((seed + i * 131) % 2000);
    const line = `c${seed}-${i++}-${pad}`;
    lines.push(line);
    total += line.length + 1;
  }
  return lines;
}

async function chatConnection(
  port: number,
  behaviour: Behaviour,
  size: number,
  seed: number,
  sent: Set<string>,
  maybeSent: Set<string>,
): Promise<number> {
  const peer = await ChatPeer.connect(port);
  const conn = peer.conn;
  try {
    const lines = chatLines(size, seed);
    const bytes = enc.encode(lines.map((l) => l + "\n").join("") + "/quit\n");
    switch (behaviour) {
      case "drip":
      case "halfClose":
      case "burst": {
        // Read others' broadcasts all along (a peer that stops reading is
        // cut as a slow consumer); everything before "/quit" was broadcast
        // before its "* bye".
        const bye = (async () => {
          let last: string | null = "";
          while (last !== null && last !== "* bye") last = await peer.next();
          if (last === null) {
            throw new ChaosError("chat: no '* bye' after /quit");
          }
        })();
        bye.catch(() => {});
        if (behaviour === "drip") {
          for (let i = 0; i < bytes.length; i++) {
            await conn.write(bytes.subarray(i, i + 1));
          }
        } else await writeAll(conn, bytes);
        if (behaviour === "halfClose") await conn.closeWrite();
        await bye;
        for (const l of lines) sent.add(l);
        return bytes.length;
      }
      case "reset":
        for (const l of lines) maybeSent.add(l);
        await writeAll(conn, bytes.subarray(0, bytes.length - 6)).catch(
          () => {},
        );
        return 0;
      case "vanish":
        for (const l of lines.slice(0, 1)) maybeSent.add(l);
        if (seed & 1) {
          await conn.write(bytes.subarray(0, Math.min(3, bytes.length))).catch(
            () => {},
          );
        }
        return 0;
    }
  } finally {
    closeQuietly(conn);
  }
}

// ------------------------------------------------------------------- run

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ChaosError(`timed out after ${ms} ms: ${what}`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Runs chaos connections against the example server on `port`. Rejects with
 * the first mismatch (or when the run outlives its deadline).
 *
 * @param options The server, the seed and the bounds.
 * @returns What was done and checked.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const {
    port,
    protocol,
    seed,
    connections = 40,
    concurrency = 8,
    burstBytes = 16 * 1024 * 1024,
    bursts = 1,
    deadlineMs = 60_000,
  } = options;
  const random = mulberry32(seed);
  const behaviours = Object.fromEntries(
    BEHAVIOURS.map((b) => [b, 0]),
  ) as Record<
    Behaviour,
    number
  >;
  // The plan: every behaviour at least once, bursts bounded.
  const plan: Behaviour[] = [];
  let burstsLeft = bursts;
  for (let i = 0; i < connections; i++) {
    let b: Behaviour = i < BEHAVIOURS.length
      ? BEHAVIOURS[i]!
      : BEHAVIOURS[Math.floor(random() * BEHAVIOURS.length)]!;
    if (b === "burst" && burstsLeft-- <= 0) b = "halfClose";
    plan.push(b);
  }
  const report: ChaosReport = {
    behaviours,
    verifiedBytes: 0,
    verifiedLines: 0,
  };
  const sent = new Set<string>();
  const maybeSent = new Set<string>();
  let observers: Observer[] = [];
  if (protocol === "chat") {
    observers = [
      new Observer(await ChatPeer.connect(port)),
      new Observer(await ChatPeer.connect(port)),
    ];
  }
  const one = async (i: number, slot: number): Promise<void> => {
    const behaviour = plan[i]!;
    behaviours[behaviour]++;
    const connSeed = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
    const size = behaviour === "burst"
      ? burstBytes
      : behaviour === "drip"
      ? 1 + (connSeed % 300)
      : 1 + (connSeed % 100_000);
    const what = `${protocol} ${behaviour} #${i} (seed ${seed})`;
    const run = protocol === "echo"
      ? echoConnection(port, behaviour, size, connSeed)
      : protocol === "redis"
      ? redisConnection(port, behaviour, size, connSeed, slot)
      : chatConnection(port, behaviour, size, connSeed, sent, maybeSent);
    const verified = await run.catch((error) => {
      throw new ChaosError(`${what}: ${error?.message ?? error}`, {
        cause: error,
      });
    });
    report.verifiedBytes += verified;
  };
  const work = (async () => {
    let next = 0;
    const workers = Array.from({ length: concurrency }, async (_, slot) => {
      while (next < plan.length) await one(next++, slot);
    });
    await Promise.all(workers);
    if (protocol === "redis") {
      report.verifiedBytes += await redisSoloPipeline(port, seed);
    }
    if (protocol === "chat") {
      // Each observer's marker reaches the other after every earlier line.
      const [a, b] = observers as [Observer, Observer];
      const marks = [`mark-a-${seed}`, `mark-b-${seed}`];
      await writeAll(a.peer.conn, enc.encode(`${marks[0]}\n`));
      await writeAll(b.peer.conn, enc.encode(`${marks[1]}\n`));
      await Promise.all([b.seen(marks[0]!), a.seen(marks[1]!)]);
      for (const [name, o] of [["a", a], ["b", b]] as const) {
        for (const text of sent) {
          if (!o.texts.has(text)) {
            throw new ChaosError(
              `chat observer ${name} missed a line: ${text.slice(0, 40)}`,
            );
          }
        }
        for (const text of o.texts) {
          if (
            !sent.has(text) && !maybeSent.has(text) && !marks.includes(text)
          ) {
            // A reset client's partial last line may arrive cut short.
            const known = [...maybeSent].some((m) => m.startsWith(text));
            if (!known) {
              throw new ChaosError(
                `chat observer ${name} saw a line nobody sent: ${
                  text.slice(0, 40)
                }`,
              );
            }
          }
        }
        report.verifiedLines += sent.size;
      }
    }
  })();
  try {
    await within(work, deadlineMs, `${protocol} chaos run (seed ${seed})`);
  } catch (error) {
    for (const conn of [...openConns]) closeQuietly(conn);
    throw error;
  } finally {
    for (const o of observers) closeQuietly(o.peer.conn);
    await Promise.allSettled(observers.map((o) => o.done));
    // Let the connections still being torn down settle.
    await work.catch(() => {});
  }
  // The server still answers a well-behaved client.
  await within(checkAlive(port, protocol), 10_000, `${protocol} still serves`);
  return report;
}

async function checkAlive(
  port: number,
  protocol: ChaosProtocol,
): Promise<void> {
  const conn = await connect(port);
  try {
    if (protocol === "echo") {
      await writeAll(conn, enc.encode("ping"));
      expectBytes(await readN(conn, 4), enc.encode("ping"), "echo alive");
    } else if (protocol === "redis") {
      await writeAll(conn, enc.encode("PING\r\n"));
      expectBytes(
        await readN(conn, 7),
        enc.encode("+PONG\r\n"),
        "redis alive",
      );
    } else {
      const welcome = await new LineReader(conn).next();
      if (!welcome?.startsWith("* welcome ")) {
        throw new ChaosError(`chat alive: ${JSON.stringify(welcome)}`);
      }
    }
  } finally {
    closeQuietly(conn);
  }
}
