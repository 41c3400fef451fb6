/**
 * An upload server that starts on the reactor and finishes on a stream: the
 * hand-over of a connection from an `EventLoop` to a `TcpStream`.
 *
 * The loop reads the request line, `PUT <name> <bytes>\n`, of every client
 * (thousands of idle ones cost a small buffer each), answers `READY\n`
 * through its write queue and checks the quota asynchronously. Then it lets
 * go of the connection (`deregister`) and a `TcpStream` reads the body with
 * one total deadline (`readExact(n, { timeoutMs })`), which is awkward to
 * express as events. Nothing is lost at the switch: bytes that arrived after
 * the line come along, the read the loop had in flight is adopted by the
 * stream, and `READY\n`, still queued on the loop, goes out before the
 * stream's reply: `OK <bytes> <fnv1a32 hex>\n`, or `ERR <reason>\n`.
 *
 * Usage:
 *   deno run --allow-net examples/upload_server.ts [--hostname 127.0.0.1] [--port 0]
 *     [--deadline-ms 10000] [--max-bytes 16777216] [--proxy-protocol v1|v2|any|optional]
 *
 * Behind HAProxy (`send-proxy-v2`), `--proxy-protocol` strips the PROXY
 * header with the incremental `ProxyHeaderParser` before the request line.
 *
 * Prints `listening on HOST:PORT` first; SIGINT/SIGTERM stop it with exit 0.
 *
 * @module
 */
import { type Event, EventLoop, Interest } from "@millrace/io/reactor";
import {
  ProxyHeaderParser,
  type ProxyProtocolMode,
  TcpStream,
  TimedOutError,
} from "@millrace/io/net";
import {
  flag,
  portFlag,
  printError,
  printListening,
  proxyProtocolFlag,
} from "./_args.ts";

const MAX_LINE = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FNV-1a, 32 bits: the body's checksum in the reply. */
export function fnv1a32(bytes: Uint8Array, hash = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) {
    hash = Math.imul(hash ^ bytes[i]!, 0x01000193) >>> 0;
  }
  return hash;
}

/** A quota store; async, as a real one (a database) would be. */
class Quota {
  #used = new Map<string, number>();
  constructor(readonly maxBytes: number) {}
  async reserve(name: string, bytes: number): Promise<boolean> {
    // Stands for a round trip to the store: a macrotask or more, during
    // which the loop goes on reading this connection.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const used = this.#used.get(name) ?? 0;
    if (used + bytes > this.maxBytes) return false;
    this.#used.set(name, used + bytes);
    return true;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** What the loop knows of one connection until it hands it over. */
interface Pending {
  head: Uint8Array;
  /** Body bytes delivered to us after the line (handed on to the stream). */
  early: Uint8Array[];
  checking: boolean;
  /** The PROXY header parser, until the header is in. */
  proxy: ProxyHeaderParser | undefined;
}

/** Serves uploads on `listener` until `signal` aborts. */
export async function serveUploads(
  listener: Deno.Listener,
  options: {
    deadlineMs: number;
    maxBytes: number;
    signal: AbortSignal;
    proxyProtocol?: ProxyProtocolMode | undefined;
  },
): Promise<void> {
  const quota = new Quota(options.maxBytes);
  const streams = new Set<Promise<void>>();
  const loop = new EventLoop();
  const pending = new Map<number, Pending>();

  const reply = (token: number, text: string) => {
    loop.write(token, encoder.encode(text));
    void loop.close(token, { flush: true });
    pending.delete(token);
  };

  // The body, on a stream with one deadline for all of it.
  const receive = async (
    stream: TcpStream,
    early: Uint8Array[],
    size: number,
  ) => {
    let hash = 0x811c9dc5;
    let got = 0;
    for (const chunk of early) {
      const part = chunk.subarray(0, size - got);
      hash = fnv1a32(part, hash);
      got += part.length;
    }
    try {
      if (got < size) {
        const rest = await stream.readExact(size - got, {
          timeoutMs: options.deadlineMs,
        });
        hash = fnv1a32(rest, hash);
      }
      await stream.writeAll(
        encoder.encode(`OK ${size} ${hash.toString(16).padStart(8, "0")}\n`),
        { timeoutMs: options.deadlineMs },
      );
    } catch (error) {
      const reason = error instanceof TimedOutError ? "timeout" : "incomplete";
      await stream.writeAll(encoder.encode(`ERR ${reason}\n`), {
        timeoutMs: 1000,
      }).catch(() => {});
    } finally {
      stream.close();
    }
  };

  const onConnection = async (event: Event, loop: EventLoop) => {
    const token = event.token;
    const state = pending.get(token);
    if (state === undefined) return;
    if (event.readClosed || event.error) {
      pending.delete(token);
      if (!event.closed) void loop.close(token);
      return;
    }
    let data = event.data;
    if (data === undefined) return;
    if (state.proxy !== undefined) {
      let result;
      try {
        result = state.proxy.push(data);
      } catch {
        reply(token, "ERR bad proxy header\n");
        return;
      }
      if (result.status === "need-more") return;
      state.proxy = undefined;
      data = result.status === "done"
        ? data.subarray(result.consumed)
        : concat(result.held, data);
      if (data.length === 0) return;
    }
    if (state.checking) {
      // Events are not held back during our await below: keep the bytes.
      state.early.push(data.slice());
      return;
    }
    const head = new Uint8Array(state.head.length + data.length);
    head.set(state.head);
    head.set(data, state.head.length);
    const newline = head.indexOf(10);
    if (newline < 0) {
      if (head.length > MAX_LINE) reply(token, "ERR line too long\n");
      else state.head = head;
      return;
    }
    const match = /^PUT (\S{1,64}) (\d{1,12})$/.exec(
      decoder.decode(head.subarray(0, newline)).trimEnd(),
    );
    const size = Number(match?.[2]);
    if (!match || size > options.maxBytes) {
      reply(token, "ERR bad request\n");
      return;
    }
    state.early.push(head.slice(newline + 1, newline + 1 + size));
    state.checking = true;
    loop.write(token, encoder.encode("READY\n"));
    // The loop issues the next read as this handler returns: it may be in
    // flight, or done and undelivered, when we let go of the connection.
    const granted = await quota.reserve(match[1]!, size);
    pending.delete(token);
    if (!loop.has(token)) return; // the peer went away meanwhile
    if (!granted) {
      reply(token, "ERR quota\n");
      return;
    }
    // Hand-over: the stream adopts the read in flight and waits for READY.
    const stream = new TcpStream(loop.deregister(token) as Deno.Conn);
    const done = receive(stream, state.early, size);
    streams.add(done);
    void done.finally(() => streams.delete(done));
  };

  let next = 1;
  loop.register(listener, 0, Interest.READABLE, (event, loop) => {
    const conn = event.conn;
    if (conn === undefined) return; // accept error: the loop backs off
    const token = next++;
    pending.set(token, {
      head: new Uint8Array(0),
      early: [],
      checking: false,
      proxy: options.proxyProtocol === undefined
        ? undefined
        : new ProxyHeaderParser({ mode: options.proxyProtocol }),
    });
    loop.register(conn, token, Interest.READABLE, onConnection);
  });
  await loop.run({ signal: options.signal });
  await loop[Symbol.asyncDispose]();
  await Promise.all(streams);
}

if (import.meta.main) {
  const deadlineMs = Number(flag(Deno.args, "deadline-ms", "10000"));
  const maxBytes = Number(flag(Deno.args, "max-bytes", String(16 << 20)));
  const proxyProtocol = proxyProtocolFlag(Deno.args);
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1) {
    printError(`error: --deadline-ms must be a positive integer`);
    Deno.exit(2);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    printError(`error: --max-bytes must be a non-negative integer`);
    Deno.exit(2);
  }
  const listener = Deno.listen({
    hostname: flag(Deno.args, "hostname", "127.0.0.1"),
    port: portFlag(Deno.args, "0"),
  });
  const shutdown = new AbortController();
  const stop = (): void => shutdown.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  printListening(listener.addr);
  await serveUploads(listener, {
    deadlineMs,
    maxBytes,
    signal: shutdown.signal,
    proxyProtocol,
  });
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}
