// The options and address types of `TcpStream` (re-exported by
// `tcp_stream.ts`), kept apart so that the stream's file holds its logic.
import type { Canceller } from "./canceller.ts";

/**
 * Options shared by every call of {@linkcode TcpStream}.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, TcpStream, type TcpStreamCallOptions, TimedOutError } from "@millrace/io/net";
 * import { assertRejects } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr);
 * using _server = await listener.accept();
 * const options: TcpStreamCallOptions = { timeoutMs: 10 };
 * await assertRejects(() => client.read(new Uint8Array(16), options), TimedOutError);
 * ```
 */
export interface TcpStreamCallOptions {
  /**
   * Total time for the call in milliseconds, however many reads or writes it
   * takes: from 0 to 2 ** 31 - 1 (fractions allowed), or `Infinity` to wait
   * forever.
   *
   * @default {the stream's `readTimeoutMs` or `writeTimeoutMs`}
   */
  timeoutMs?: number;
  /** Cancels the call; it rejects with `CancelledError`. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode TcpStream.readUntil}.
 *
 * @example Usage
 * ```ts
 * import { type ReadUntilOptions, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr);
 * using server = await listener.accept();
 * await client.writeAll(new TextEncoder().encode("PING\r\n"));
 * const options: ReadUntilOptions = { maxLength: 1024, includeDelimiter: false, timeoutMs: 1_000 };
 * const line = await server.readUntil(new TextEncoder().encode("\r\n"), options);
 * assertEquals(new TextDecoder().decode(line!), "PING");
 * ```
 */
export interface ReadUntilOptions extends TcpStreamCallOptions {
  /**
   * Largest number of bytes before the delimiter; more is a `TooBigError`.
   * An integer from 0 to 1 GiB, or `Infinity`.
   *
   * @default {65536}
   */
  maxLength?: number;
  /**
   * Whether the returned bytes end with the delimiter.
   *
   * @default {false}
   */
  includeDelimiter?: boolean;
}

/**
 * Options for {@linkcode TcpStream.readAll}.
 *
 * @example Usage
 * ```ts
 * import { type ReadAllOptions, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr);
 * using server = await listener.accept();
 * await client.writeAll(new TextEncoder().encode("all of it"));
 * await client.closeWrite();
 * const options: ReadAllOptions = { maxLength: 1024, timeoutMs: 1_000 };
 * assertEquals(new TextDecoder().decode(await server.readAll(options)), "all of it");
 * ```
 */
export interface ReadAllOptions extends TcpStreamCallOptions {
  /**
   * Largest number of bytes to read before end of stream; more is a
   * `TooBigError`. An integer from 0 to 1 GiB, or `Infinity`.
   *
   * @default {16777216} (16 MiB)
   */
  maxLength?: number;
}

/**
 * Options for {@linkcode TcpStream} (its constructor and `connect`).
 *
 * @example Usage
 * ```ts
 * import { TcpStream, type TcpStreamOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const options: TcpStreamOptions = { readTimeoutMs: 5_000, writeTimeoutMs: 1_000 };
 * using stream = new TcpStream(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }), options);
 * assertEquals(stream.readTimeoutMs, 5_000);
 * ```
 */
export interface TcpStreamOptions {
  /**
   * Default `timeoutMs` of read calls: from 0 to 2 ** 31 - 1, or `Infinity`
   * to wait forever.
   *
   * @default {Infinity}
   */
  readTimeoutMs?: number;
  /**
   * Default `timeoutMs` of write calls: from 0 to 2 ** 31 - 1, or
   * `Infinity` to wait forever.
   *
   * @default {Infinity}
   */
  writeTimeoutMs?: number;
  /** Every call of the stream is cancelled by this canceller. */
  canceller?: Canceller;
}

/**
 * Options for {@linkcode TcpStream.connect}.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, TcpStream, type TcpStreamConnectOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * const options: TcpStreamConnectOptions = { timeoutMs: 1_000, signal: AbortSignal.timeout(2_000), readTimeoutMs: 5_000 };
 * using client = await TcpStream.connect(listener.addr, options);
 * assertEquals(client.readTimeoutMs, 5_000);
 * ```
 */
export interface TcpStreamConnectOptions extends TcpStreamOptions {
  /**
   * Time to establish the connection: from 0 to 2 ** 31 - 1 ms, or
   * `Infinity`.
   *
   * @default {Infinity}
   */
  timeoutMs?: number;
  /** Cancels the connection attempt. */
  signal?: AbortSignal;
}

/**
 * The address of {@linkcode TcpStream.connect}: as for `Deno.connect`, or a
 * `"host:port"` string (`"127.0.0.1:8080"`, `"[::1]:8080"`) as `TcpClient`
 * takes.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, TcpStream, type TcpStreamAddress } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * const address: TcpStreamAddress = { hostname: "127.0.0.1", port };
 * using client = await TcpStream.connect(address);
 * assertEquals((client.remoteAddr as Deno.NetAddr).port, port);
 * ```
 */
export type TcpStreamAddress =
  | string
  | { hostname?: string; port: number; transport?: "tcp" }
  | { transport: "unix"; path: string };
