// Helpers of the hostile_* tests: a TcpServer harness that records what the
// handler saw, raw peers, subprocess example servers and RSS sampling.
// Everything here is bounded in time; nothing here asserts a duration.

import {
  type DisconnectReason,
  type NetworkHandler,
  TcpServer,
  TcpServerConfig,
  type TcpServerConfigOptions,
} from "../../net/mod.ts";
import {
  concat,
  decoder,
  encoder,
  HOST,
  readExactly,
  spawnExample,
  within,
  writeAll,
} from "./_net_helpers.ts";

// The shared basics live in _net_helpers.ts; re-exported for the hostile_*
// tests that import them from here.
export {
  decoder,
  echoHandler,
  encoder,
  HOST,
  pattern,
  readExactly,
  waitFor,
  within,
  writeAll,
} from "./_net_helpers.ts";

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

// ---------------------------------------------------------- example servers

/** An example server run as a child process. */
export interface Example {
  port: number;
  pid: number;
  child: Deno.ChildProcess;
  /** VmRSS of the child in KiB (from /proc), or NaN if unavailable. */
  rssKiB(): number;
  /** Whether the child is still running. */
  alive(): boolean;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `examples/<file>` with `--port 0` and `extra` flags. */
export async function startExample(
  file: string,
  ...extra: string[]
): Promise<Example> {
  const { child, port, stdout, stderr } = await spawnExample(file, extra, [
    "-A",
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const drain = stdout.drain().catch(() => {/* cancelled */});
  return {
    port,
    pid: child.pid,
    child,
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
      await drain;
      await stderr;
    },
  };
}

/** Closes a conn, ignoring "already closed". */
export function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch { /* already closed */ }
}
