// The one helpers module of the tests (tests/, and the unit tests beside the
// library that need sockets): raw Deno clients no server code touches, echo
// servers on a bare EventLoop, a TcpServer harness that records what its
// handler saw, TcpStream pairs, and example servers run as child processes.
// Everything here is bounded in time; nothing here asserts a duration.

import {
  type DisconnectReason,
  type NetworkHandler,
  TcpServer,
  TcpServerConfig,
  type TcpServerConfigOptions,
  type TcpServerShutdownResult,
} from "../net/mod.ts";
import { TcpListener } from "../net/stream/tcp_listener.ts";
import { TcpStream } from "../net/stream/tcp_stream.ts";
import { type Event, type EventLoop, Interest } from "../reactor/mod.ts";
import { ComputePool, type ComputePoolOptions } from "../compute/mod.ts";
import type * as HostileTasks from "./testdata/compute_hostile_tasks.ts";
import { assert, assertEquals, assertLess } from "@std/assert";

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const HOST = "127.0.0.1";

/** Rejects after `ms` unless `promise` settles first; clears its timer. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads exactly `n` bytes (or fewer if the peer closes). */
export async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) return out.subarray(0, got);
    got += r;
  }
  return out;
}

/** Reads exactly `n` bytes; throws at EOF before. */
export async function readExactly(
  conn: Deno.Conn,
  n: number,
): Promise<Uint8Array> {
  const out = await readN(conn, n);
  if (out.length < n) throw new Error(`EOF after ${out.length} of ${n} bytes`);
  return out;
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Connects a plain TCP client to a server address. */
export function connectTo(addr: Deno.Addr): Promise<Deno.TcpConn> {
  const { hostname, port } = addr as Deno.NetAddr;
  return Deno.connect({ hostname, port });
}

/** Polls `predicate` every few ms until it holds, or throws after `ms`. */
export async function waitFor(
  predicate: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > ms) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A deterministic byte pattern. */
export function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return out;
}

/** mulberry32: a seeded generator of numbers in [0, 1), reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The byte arrays `parts` joined into one. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The RESP multibulk encoding of a redis command. */
export function respCommand(...args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? encoder.encode(a) : a;
    parts.push(encoder.encode(`$${b.length}\r\n`), b, encoder.encode("\r\n"));
  }
  return concat(parts);
}

/** A connection read line by line (lines end with "\n"; UTF-8). */
export class LineReader {
  readonly conn: Deno.Conn;
  #pending = "";
  #decoder = new TextDecoder();
  #buf = new Uint8Array(65536);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** What was read after the last whole line. */
  get pending(): string {
    return this.#pending;
  }

  /** The next line (without "\n"), or `null` at end of stream. */
  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      const n = await this.conn.read(this.#buf);
      if (n === null) return null;
      this.#pending += this.#decoder.decode(this.#buf.subarray(0, n), {
        stream: true,
      });
    }
  }
}

// ------------------------------------------------------------ echo servers

/** A NetworkHandler that echoes every chunk back to its connection. */
export const echoHandler: NetworkHandler = {
  onData(ctx, id, data) {
    ctx.sendTo(id, data);
  },
};

// ------------------------------------------------- servers on an EventLoop

/** An EventLoop handler that echoes what it reads and closes (flushed) at EOF. */
export function echoEvent(event: Event, loop: EventLoop): void {
  if (event.data) loop.write(event.token, event.data);
  if (event.readClosed) void loop.close(event.token, { flush: true });
}

/**
 * Registers `listener` on `loop` under token 0; each accepted conn is
 * registered under the next token with `interest` and `handler`.
 */
export function serveOnLoop(
  loop: EventLoop,
  listener: Deno.Listener<Deno.Conn, Deno.Addr>,
  handler: (event: Event, loop: EventLoop) => void = echoEvent,
  interest: Interest = Interest.READABLE,
): void {
  let next = 1;
  loop.register(listener, 0, Interest.READABLE, (event, loop) => {
    if (event.conn) loop.register(event.conn, next++, interest, handler);
  });
}

/**
 * Listens on an ephemeral loopback port served by `loop` (see
 * {@linkcode serveOnLoop}); returns the port.
 */
export function listenOnLoop(
  loop: EventLoop,
  handler: (event: Event, loop: EventLoop) => void = echoEvent,
  interest: Interest = Interest.READABLE,
): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  serveOnLoop(loop, listener, handler, interest);
  return listener.addr.port;
}

// ---------------------------------------------------------- child processes

/** Lines of a child's stdout, read on demand. */
export class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, or `null` at end of stream. */
  async next(): Promise<string | null> {
    while (!this.#buffer.includes("\n")) {
      if (this.#done) {
        if (this.#buffer === "") return null;
        const rest = this.#buffer;
        this.#buffer = "";
        return rest;
      }
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
    const i = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, i);
    this.#buffer = this.#buffer.slice(i + 1);
    return line;
  }
  /** Reads lines until one equals `line` (returns the skipped ones). */
  async expect(line: string, ms = 5000): Promise<string[]> {
    const skipped: string[] = [];
    await within(
      (async () => {
        while (true) {
          const got = await this.next();
          if (got === null) {
            throw new Error(
              `EOF waiting for "${line}"; saw ${JSON.stringify(skipped)}`,
            );
          }
          if (got === line) return;
          skipped.push(got);
        }
      })(),
      ms,
      `line "${line}"`,
    );
    return skipped;
  }
  /** Everything left until end of stream. */
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (
      let line = await this.next();
      line !== null;
      line = await this.next()
    ) {
      out.push(line);
    }
    return out;
  }
  /** Reads to end of stream, keeping nothing. */
  async drain(): Promise<void> {
    this.#buffer = "";
    while (!this.#done) {
      const { done } = await this.#reader.read();
      if (done) this.#done = true;
    }
  }
  /** Stops reading: the rest of the stream is discarded. */
  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

/**
 * The port of an example server's first line, exactly
 * `listening on 127.0.0.1:PORT`; throws on any other line.
 */
export function listeningPort(line: string | null): number {
  const port = Number(line?.match(/^listening on 127\.0\.0\.1:(\d+)$/)?.[1]);
  if (!(Number.isInteger(port) && port > 0)) {
    throw new Error(`Unexpected first line: ${JSON.stringify(line)}`);
  }
  return port;
}

/** User plus system CPU time of process `pid` in clock ticks (Linux /proc). */
export function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th fields of the whole line.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Reads until end of stream (a reset counts as the end); returns the bytes
 * and how it ended. Stops with an error past `limit` bytes.
 */
export async function readToEnd(
  conn: Deno.Conn,
  limit = 64 * 1024 * 1024,
): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  let reset = false;
  for (;;) {
    let r: number | null;
    try {
      r = await conn.read(buf);
    } catch (error) {
      if (
        error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BrokenPipe
      ) {
        reset = true;
        break;
      }
      throw error;
    }
    if (r === null) break;
    chunks.push(buf.slice(0, r));
    total += r;
    if (total > limit) throw new Error(`more than ${limit} bytes before EOF`);
  }
  const bytes = concat(chunks);
  return { bytes, reset };
}

/** Reads until end of stream (a reset counts as the end); the bytes only. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  return (await readToEnd(conn, Infinity)).bytes;
}

/**
 * Reads until the peer ends the stream cleanly; the bytes. A reset throws
 * (where {@linkcode readAll} counts it as the end).
 */
export async function readUntilClosed(conn: Deno.Conn): Promise<Uint8Array> {
  const { bytes, reset } = await readToEnd(conn, Infinity);
  if (reset) {
    throw new Error(`Connection reset after ${bytes.length} bytes, not closed`);
  }
  return bytes;
}

/** Reads until `text` appears (UTF-8); throws at EOF before it. */
export async function readUntilText(
  conn: Deno.Conn,
  text: string,
  limit = 16 * 1024 * 1024,
): Promise<string> {
  let seen = "";
  const buf = new Uint8Array(16384);
  const dec = new TextDecoder();
  while (!seen.includes(text)) {
    const r = await conn.read(buf);
    if (r === null) throw new Error(`EOF before "${text}": got "${seen}"`);
    seen += dec.decode(buf.subarray(0, r), { stream: true });
    if (seen.length > limit) throw new Error(`no "${text}" in ${limit} bytes`);
  }
  return seen;
}

/** Index of the first difference, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: HOST, port });
}

/** Echo round trip of `text` on a connection to an echo server. */
export async function echoOnce(conn: Deno.Conn, text: string): Promise<void> {
  await writeAll(conn, encoder.encode(text));
  const got = decoder.decode(
    await readExactly(conn, encoder.encode(text).length),
  );
  if (got !== text) throw new Error(`echo: sent "${text}", got "${got}"`);
}

/** An echo round trip of `text` on a new connection (within `ms`). */
export async function echoOnNewConnection(
  port: number,
  text: string,
  ms = 10_000,
): Promise<void> {
  using conn = await connect(port);
  await within(echoOnce(conn, text), ms, `echo of "${text}"`);
}

/**
 * Sends `data` to an echo server on a new connection, half-closes it, and
 * asserts that every byte comes back in order (within 30 s) and that the
 * server then ends the stream (no reset).
 */
export async function assertHalfClosedEcho(
  port: number,
  data: Uint8Array,
): Promise<void> {
  using conn = await connect(port);
  const what = `echo of ${data.length}`;
  const reading = within(readToEnd(conn), 30_000, what);
  await writeAll(conn, data);
  await conn.closeWrite();
  const { bytes, reset } = await reading;
  assertEquals(reset, false, what);
  assertEquals(bytes.length, data.length, what);
  assertEquals(firstDifference(bytes, data), -1, what);
}

/** What a {@linkcode Harness} saw. */
export interface Seen {
  connects: number[];
  disconnects: [number, DisconnectReason][];
  errors: [string, number | undefined][];
}

/** A running TcpServer on its own loop with a record of its callbacks. */
export interface Harness<T> {
  server: TcpServer<T>;
  port: number;
  seen: Seen;
  reasonOf(id: number): DisconnectReason | undefined;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `handler` (wrapped to record connects, disconnects and errors;
 * the wrapped callbacks still throw what they throw) on a server of its own.
 */
export function startServer<T = unknown>(
  handler: NetworkHandler<T>,
  options: TcpServerConfigOptions = {},
): Harness<T> {
  const seen: Seen = { connects: [], disconnects: [], errors: [] };
  const wrapped: NetworkHandler<T> = {
    ...handler,
    onConnect(ctx, id) {
      seen.connects.push(id);
      handler.onConnect?.(ctx, id);
    },
    onDisconnect(ctx, id, reason) {
      seen.disconnects.push([id, reason]);
      handler.onDisconnect?.(ctx, id, reason);
    },
    onError(ctx, error, id) {
      let text: string;
      try {
        text = String(error);
      } catch {
        text = "<unprintable>";
      }
      seen.errors.push([text, id]);
      handler.onError?.(ctx, error, id);
    },
  };
  const server = new TcpServer<T>(
    new TcpServerConfig({ hostname: HOST, port: 0, ...options }),
    wrapped,
  );
  const done = server.run();
  const port = (server.addr as Deno.NetAddr).port;
  return {
    server,
    port,
    seen,
    reasonOf(id) {
      return seen.disconnects.find(([i]) => i === id)?.[1];
    },
    async [Symbol.asyncDispose]() {
      await within(server.close(), 10_000, "server.close()");
      await within(done, 10_000, "server.run() to resolve");
    },
  };
}

/** A TcpServer running `handler` as it is (no recording), and its `run()`. */
export function serveTcp<T>(
  handler: NetworkHandler<T>,
  options: TcpServerConfigOptions = {},
): { server: TcpServer<T>; running: Promise<void> } {
  const server = new TcpServer<T>(new TcpServerConfig(options), handler);
  const running = server.run();
  return { server, running };
}

/** Closes a server from {@linkcode serveTcp} and waits for its `run()`. */
export async function stopTcp(
  server: TcpServer<unknown> | TcpServer<never>,
  running: Promise<void>,
): Promise<void> {
  await (server as TcpServer<unknown>).close();
  await running;
}

/**
 * Starts `server` on a loop of the test's own (to spy on or size it) and
 * runs the loop; undo with {@linkcode stopOnLoop}.
 */
export function runOnLoop<T>(
  server: TcpServer<T>,
  loop: EventLoop,
): Promise<void> {
  server.start(loop);
  return loop.run();
}

/**
 * Closes a server from {@linkcode runOnLoop}, then stops and disposes of its
 * loop; resolves with what the close reported.
 */
export async function stopOnLoop<T>(
  server: TcpServer<T>,
  loop: EventLoop,
  running: Promise<void>,
): Promise<TcpServerShutdownResult> {
  const result = await server.close();
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
  return result;
}

/** What {@linkcode floodUntilStalled} saw. */
export interface Flood {
  /** Bytes whose writes completed. */
  sent: number;
  /** Whether a write was not taken within 1 s. */
  stalled: boolean;
  /** The highest RSS of the example seen, `rssKiB` included. */
  maxRssKiB: number;
}

/**
 * Writes `chunk` to `conn` again and again (a failed write counts as taken),
 * for at most 10 s and `maxBytes`, until one write is not taken within 1 s:
 * TCP flow control stopped us, as the server stopped reading. Samples `ex`'s
 * RSS every `sampleEvery` chunks and at the end.
 */
export async function floodUntilStalled(
  conn: Deno.Conn,
  chunk: Uint8Array,
  ex: Example,
  options: { maxBytes: number; sampleEvery: number; rssKiB: number },
): Promise<Flood> {
  let sent = 0;
  let stalled = false;
  let maxRssKiB = options.rssKiB;
  const deadline = performance.now() + 10_000;
  while (sent < options.maxBytes && performance.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      writeAll(conn, chunk).then(() => true, () => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 1000)),
    ]);
    clearTimeout(timer);
    if (!done) {
      stalled = true;
      break;
    }
    sent += chunk.length;
    if ((sent / chunk.length) % options.sampleEvery === 0) {
      maxRssKiB = Math.max(maxRssKiB, ex.rssKiB());
    }
  }
  maxRssKiB = Math.max(maxRssKiB, ex.rssKiB());
  return { sent, stalled, maxRssKiB };
}

/**
 * The paced-flood check of a hostile test: a peer writes `chunk` again and
 * again and never reads. TCP flow control must stall it (the server stops
 * reading a peer that does not read its answers); `check`, a well-behaved
 * client, must be served meanwhile and after the flooder is gone (closed
 * with data in flight: a reset); `ex`'s RSS may grow by at most 150 MiB over
 * `options.rssKiB` (unless that is NaN: no /proc).
 */
export async function assertPacedFlood(
  ex: Example,
  chunk: Uint8Array,
  options: { maxBytes: number; sampleEvery: number; rssKiB: number },
  check: () => Promise<void>,
): Promise<void> {
  const flooder = await connect(ex.port);
  let maxRss = options.rssKiB;
  try {
    const flood = await floodUntilStalled(flooder, chunk, ex, options);
    maxRss = flood.maxRssKiB;
    assert(flood.stalled, `the server kept reading: ${flood.sent} bytes sent`);
    await check();
    assert(ex.alive());
  } finally {
    closeQuietly(flooder);
  }
  await sleep(50);
  await check();
  const rss0 = options.rssKiB;
  if (!Number.isNaN(rss0)) {
    assertLess(maxRss - rss0, 150 * 1024, `RSS ${rss0} -> ${maxRss} KiB`);
  }
}

/**
 * Sends `wire`, a pipelined flood, on a new connection to `ex` while reading
 * every answer back (within 30 s and 64 MiB), with `check` served meanwhile;
 * returns the answers and whether the connection ended with a reset.
 */
export async function answersToFlood(
  ex: Example,
  wire: Uint8Array,
  check: () => Promise<void>,
): Promise<{ bytes: Uint8Array; reset: boolean }> {
  using conn = await connect(ex.port);
  const reading = within(
    readToEnd(conn, 64 * 1024 * 1024),
    30_000,
    "flood answers",
  );
  await writeAll(conn, wire);
  await check();
  return await reading;
}

/** Closes a conn, ignoring "already closed". */
export function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch { /* already closed */ }
}

// ---------------------------------------------------------- example servers

/** How {@linkcode startExample} runs an example. */
export interface ExampleOptions {
  /** Flags after `--hostname 127.0.0.1 --port 0`. */
  args?: string[];
  /** Deno permission flags. @default {["--allow-net"]} */
  permissions?: string[];
  /**
   * Whether the test reads the child's stdout (`stdout.next()`); otherwise it
   * is drained in the background so that the child never blocks on it.
   * @default {false}
   */
  readStdout?: boolean;
}

/** An example server run as a child process, past its `listening on` line. */
export interface Example {
  child: Deno.ChildProcess;
  pid: number;
  port: number;
  /** The rest of its stdout (drained unless `readStdout`). */
  stdout: Lines;
  /** All of its stderr, once it exits. */
  stderr: Promise<string>;
  /** VmRSS of the child in KiB (from /proc), or NaN if unavailable. */
  rssKiB(): number;
  /** Whether the child is still running. */
  alive(): boolean;
  /** SIGTERM (SIGKILL after 10 s), then waits for the exit and the pipes. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `examples/<file>` with `--hostname 127.0.0.1 --port 0` and
 * `options.args`, under `options.permissions`, and waits (30 s at most) for
 * its first line, `listening on 127.0.0.1:PORT`. Without that line the child
 * is killed and the error carries its stderr.
 */
export async function startExample(
  file: string,
  options: ExampleOptions = {},
): Promise<Example> {
  const { args = [], permissions = ["--allow-net"], readStdout = false } =
    options;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      `examples/${file}`,
      "--hostname",
      HOST,
      "--port",
      "0",
      ...args,
    ],
    cwd: new URL("..", import.meta.url),
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Response(child.stderr).text();
  let port: number;
  try {
    const first = await within(stdout.next(), 30_000, `${file} to listen`);
    port = listeningPort(first);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await stdout.cancel();
    throw new Error(
      `${file} did not start: ${
        (error as Error).message
      }; stderr: ${await stderr}`,
      { cause: error },
    );
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const drained = readStdout
    ? Promise.resolve()
    : stdout.drain().catch(() => {/* cancelled */});
  return {
    child,
    pid: child.pid,
    port,
    stdout,
    stderr,
    rssKiB() {
      try {
        const s = Deno.readTextFileSync(`/proc/${child.pid}/status`);
        const v = s.match(/^VmRSS:\s+(\d+) kB/m);
        return v ? Number(v[1]) : NaN;
      } catch {
        return NaN;
      }
    },
    alive() {
      return !exited;
    },
    async [Symbol.asyncDispose]() {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited */ }
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 10_000);
      await status;
      clearTimeout(killer);
      if (readStdout) await stdout.cancel().catch(() => {});
      await drained;
      await stderr;
    },
  };
}

/** Starts `examples/http_hello/main.ts` with `args` (see {@linkcode startExample}). */
export function startHttpHello(...args: string[]): Promise<Example> {
  return startExample("http_hello/main.ts", { args, permissions: ["-A"] });
}

/** Starts `examples/mini_redis/main.ts` with `args` (see {@linkcode startExample}). */
export function startMiniRedis(...args: string[]): Promise<Example> {
  return startExample("mini_redis/main.ts", { args, permissions: ["-A"] });
}

/**
 * Sends `wire` on a new connection to `ex` and returns every reply until the
 * server closes (within 15 s and 1 MiB). A write the server cuts short is
 * fine: a server may close before it has read everything.
 */
export async function repliesUntilClose(
  ex: Example,
  wire: Uint8Array,
): Promise<string> {
  using conn = await connect(ex.port);
  const reading = within(
    readToEnd(conn, 1024 * 1024),
    15_000,
    "replies and close",
  );
  try {
    await writeAll(conn, wire);
  } catch {
    // Closed before everything was read: allowed.
  }
  return decoder.decode((await reading).bytes);
}

// ------------------------------------------------------------ compute pools

/** The task module of the compute tests: well-behaved and hostile tasks. */
export const HOSTILE_TASKS = new URL(
  "./testdata/compute_hostile_tasks.ts",
  import.meta.url,
);

/**
 * Runs `fn` on a ComputePool of {@linkcode HOSTILE_TASKS} once its workers
 * are ready (within 30 s), then terminates it (within 10 s) and asserts that
 * no worker is left: Workers are invisible to the sanitizers.
 */
export async function withTasksPool(
  options: ComputePoolOptions,
  fn: (pool: ComputePool<typeof HostileTasks>) => Promise<void>,
): Promise<void> {
  const pool = new ComputePool<typeof HostileTasks>(HOSTILE_TASKS, options);
  try {
    await within(pool.ready(), 30_000, "pool ready");
    await fn(pool);
  } finally {
    await within(pool.terminate(), 10_000, "terminate");
  }
  assertEquals(pool.liveWorkers, 0);
}

// ------------------------------------------------------------ TcpStream pairs

/** A connected client/server pair over loopback, closed on dispose. */
export interface Pair extends Disposable {
  listener: TcpListener;
  client: TcpStream;
  server: TcpStream;
}

/** Connects a `TcpStream` pair over 127.0.0.1. */
export async function pair(
  options: { readTimeoutMs?: number; writeTimeoutMs?: number } = {},
): Promise<Pair> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept({ timeoutMs: 5_000 });
  const client = await TcpStream.connect(listener.addr, {
    timeoutMs: 5_000,
    ...options,
  });
  const server = await accepted;
  return {
    listener,
    client,
    server,
    [Symbol.dispose]() {
      client.close();
      server.close();
      listener.close();
    },
  };
}

/** Bytes of `text` in UTF-8. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `bytes` decoded as UTF-8. */
export function text(data: Uint8Array | null | undefined): string {
  return data == null ? "<null>" : new TextDecoder().decode(data);
}

/**
 * A fake `Deno.Conn` whose reads return the given chunks in order, one per
 * read (then EOF), so that tests control exactly where packets split.
 */
export class ChunkConn {
  #chunks: Uint8Array[];
  written: Uint8Array[] = [];
  closed = false;
  reads = 0;

  constructor(chunks: Uint8Array[]) {
    this.#chunks = [...chunks];
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null);
    if (chunk.length > buffer.length) {
      buffer.set(chunk.subarray(0, buffer.length));
      this.#chunks.unshift(chunk.subarray(buffer.length));
      return Promise.resolve(buffer.length);
    }
    buffer.set(chunk);
    return Promise.resolve(chunk.length);
  }

  write(data: Uint8Array): Promise<number> {
    this.written.push(data.slice());
    return Promise.resolve(data.length);
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }

  asConn(): Deno.Conn {
    return this as unknown as Deno.Conn;
  }
}

/**
 * Thread ids of this process that run a Worker (Deno names them `worker-N`);
 * empty off Linux.
 */
export function workerThreadIds(): Set<string> {
  const ids = new Set<string>();
  if (Deno.build.os !== "linux") return ids;
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    try {
      const comm = Deno.readTextFileSync(`/proc/self/task/${entry.name}/comm`);
      if (comm.startsWith("worker-")) ids.add(entry.name);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ids;
}

/** Threads of this process that run a Worker (Deno names them `worker-N`). */
export function workerThreads(): number {
  return workerThreadIds().size;
}

/** What {@linkcode runScript} saw of its child. */
export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `program` with `args` and `input` on its stdin (then closed), killed
 * after `ms`; its exit status and output.
 */
export async function runWithInput(
  program: string,
  args: readonly string[],
  input: string,
  ms = 30_000,
): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(program, {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(ms),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  return await child.output();
}

/**
 * Runs `script` in a child `deno run <flags> -` (the script on stdin),
 * killed after 30 s: for tests whose subject is the process exiting by
 * itself, or what a program does without a permission.
 */
export async function runScript(
  script: string,
  flags: readonly string[] = ["--allow-read"],
): Promise<ScriptResult> {
  const { code, stdout, stderr } = await runWithInput(
    Deno.execPath(),
    ["run", ...flags, "-"],
    script,
  );
  return {
    code,
    stdout: decoder.decode(stdout).trim(),
    stderr: decoder.decode(stderr),
  };
}
