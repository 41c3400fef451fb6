// Helpers of the reactor/, net/ and integration tests: raw Deno clients that
// no server code touches, and echo servers on a bare EventLoop. Everything
// here is bounded in time; nothing here asserts a duration.

import type { NetworkHandler } from "../../net/mod.ts";
import { type Event, type EventLoop, Interest } from "../../reactor/mod.ts";

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

/** Reads until end of stream. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  while (true) {
    let r: number | null;
    try {
      r = await conn.read(buf);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (r === null) break;
    chunks.push(buf.slice(0, r));
  }
  return concat(chunks);
}

/** Reads until `text` appears in what was read (decoded as UTF-8). */
export async function readUntilText(
  conn: Deno.Conn,
  text: string,
): Promise<string> {
  let seen = "";
  const buf = new Uint8Array(4096);
  while (!seen.includes(text)) {
    const r = await conn.read(buf);
    if (r === null) throw new Error(`EOF before "${text}": got "${seen}"`);
    seen += decoder.decode(buf.subarray(0, r));
  }
  return seen;
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

/** The byte arrays `parts` joined into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
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

/** An example server run as a child process, past its `listening on` line. */
export interface ExampleProcess {
  child: Deno.ChildProcess;
  port: number;
  /** The rest of its stdout. */
  stdout: Lines;
  /** All of its stderr, once it exits. */
  stderr: Promise<string>;
}

/**
 * Starts `examples/<file>` with `--hostname 127.0.0.1 --port 0` and `extra`
 * flags, under `permissions`, and waits (30 s at most) for its first line,
 * `listening on 127.0.0.1:PORT`. Without that line the child is killed and
 * the error carries its stderr.
 */
export async function spawnExample(
  file: string,
  extra: string[] = [],
  permissions: string[] = ["--allow-net"],
): Promise<ExampleProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      `examples/${file}`,
      "--hostname",
      HOST,
      "--port",
      "0",
      ...extra,
    ],
    cwd: new URL("../..", import.meta.url),
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Response(child.stderr).text();
  try {
    const first = await within(stdout.next(), 30_000, `${file} to listen`);
    return { child, port: listeningPort(first), stdout, stderr };
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
}
