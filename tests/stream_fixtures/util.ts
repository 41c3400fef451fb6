// Helpers shared by the stream API's tests (net/*_test.ts, tests/stream_*).
import { TcpListener } from "../../net/stream/tcp_listener.ts";
import { TcpStream } from "../../net/stream/tcp_stream.ts";

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

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
