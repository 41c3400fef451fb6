// A connection with a total deadline on every call (mtcp's idea in Deno's
// idiom).
//
// Deno cannot cancel a pending `conn.read()` without closing the connection.
// Instead of closing, the stream keeps the read in flight: it lands in the
// stream's own buffer whenever it completes, and the next call finds the bytes
// there (or waits for the same read). So a timed-out or cancelled read loses no
// byte and leaves the stream usable.
//
// Writes cannot be cancelled either. A timed-out or cancelled write that had
// not started yet (it was queued behind another write) is withdrawn: none of
// its bytes are sent. One that had started is finished in the background, so
// the peer never sees half a message; the next write queues behind it.
import {
  type InflightOutcome,
  stashInflightRead,
  stashPendingWrites,
  takeInflightRead,
  takePendingWrites,
} from "../../_internal/inflight.ts";
import type { Canceller } from "./canceller.ts";
import { formatValue } from "../../_internal/format.ts";
import { FifoLock } from "./_fifo_lock.ts";
import { validateCallOptions, validateStreamOptions } from "./_options.ts";
import {
  Deadline,
  DeadlineTimer,
  validateSignal,
  validateTimeout,
} from "./_deadline.ts";
import {
  CancelledError,
  IncompleteError,
  NetError,
  TimedOutError,
  TooBigError,
} from "../errors.ts";

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
   * takes. `Infinity` waits forever.
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
   * `TooBigError`.
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
   * Default `timeoutMs` of read calls. `Infinity` waits forever.
   *
   * @default {Infinity}
   */
  readTimeoutMs?: number;
  /**
   * Default `timeoutMs` of write calls. `Infinity` waits forever.
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
   * Time to establish the connection in milliseconds.
   *
   * @default {Infinity}
   */
  timeoutMs?: number;
  /** Cancels the connection attempt. */
  signal?: AbortSignal;
}

/**
 * The address of {@linkcode TcpStream.connect}, as for `Deno.connect`.
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
  | { hostname?: string; port: number; transport?: "tcp" }
  | { transport: "unix"; path: string };

const MIN_CHUNK = 4096;
const MAX_CHUNK = 65536;
const DEFAULT_MAX_LINE = 65536;
const DEFAULT_MAX_ALL = 16 * 1024 * 1024;
const noop = (): void => {};

/**
 * A connection whose every call takes a total deadline and an `AbortSignal`:
 * `read`, `readExact`, `readUntil`, `readAll`, `write`, `writeAll`.
 *
 * - A read that times out or is cancelled loses no byte: the read in flight
 *   completes into the stream's buffer and the next call gets the bytes.
 * - A write that times out or is cancelled is either withdrawn (it had not
 *   started: nothing was sent) or finished in the background (it had: the
 *   whole of it is sent); the next write queues behind it. Close the stream to
 *   drop it.
 * - Errors: `TimedOutError`, `CancelledError`, `IncompleteError` (with
 *   `partial`), `TooBigError`, a `NetError` of kind `"closed"` after `close()`,
 *   and Deno's own errors (`ConnectionReset`, `BrokenPipe`, ...) as they are.
 *
 * @example Echo one line with deadlines
 * ```ts
 * import { TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr, { timeoutMs: 1_000 });
 * using server = await listener.accept({ timeoutMs: 1_000 });
 * await client.writeAll(new TextEncoder().encode("hello\nrest"));
 * const line = await server.readUntil(new TextEncoder().encode("\n"), { timeoutMs: 1_000 });
 * assertEquals(new TextDecoder().decode(line!), "hello");
 * assertEquals(new TextDecoder().decode(await server.readExact(4)), "rest");
 * ```
 */
export class TcpStream implements Disposable {
  readonly #conn: Deno.Conn;
  readonly #canceller: Canceller | undefined;
  readonly #timer: DeadlineTimer;
  #readTimeoutMs: number;
  #writeTimeoutMs: number;

  // Unread bytes are #buffer[#start, #end).
  #buffer: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  // The read in flight (at most one), into #chunk; it appends to #buffer when
  // it lands and never rejects (errors go to #readError).
  #inflight: Promise<void> | undefined;
  #chunk: Uint8Array | undefined;
  #chunkSize = MIN_CHUNK;
  #eof = false;
  #readError: unknown;
  // Read calls run one at a time, in call order.
  readonly #readLock = new FifoLock();

  // Writes run one at a time, in call order; a write finishing in the
  // background holds the lock until it is done.
  readonly #writeLock = new FifoLock();
  #writeError: unknown;
  #writeClosed = false;
  #closed = false;
  #detached = false;

  /**
   * Wraps an open connection. The stream owns it from now on: read and write
   * through the stream only, or bytes may be lost.
   *
   * @param conn The connection, for example from `Deno.connect`.
   * @param options Default timeouts and canceller.
   */
  constructor(conn: Deno.Conn, options: TcpStreamOptions = {}) {
    validateStreamOptions("create stream", options);
    this.#conn = conn;
    this.#canceller = options.canceller;
    this.#timer = new DeadlineTimer(options.canceller?.signal);
    this.#readTimeoutMs = options.readTimeoutMs ?? Infinity;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? Infinity;
    // A connection taken from the reactor may have a read in flight and
    // writes still queued there: adopt both, so no byte is lost or reordered.
    const inherited = takeInflightRead(conn);
    if (inherited) {
      this.#inflight = inherited.then((outcome) => {
        this.#inflight = undefined;
        if (outcome.data !== undefined) this.#append(outcome.data);
        else if (outcome.eof) this.#eof = true;
        else this.#readError = outcome.error ?? new Error("Read failed");
      });
    }
    const writes = takePendingWrites(conn);
    if (writes) {
      this.#writeLock.tryAcquire();
      writes.then(noop, noop).then(() => this.#writeLock.release());
    }
  }

  /**
   * Connects to `address` (as `Deno.connect`), within `timeoutMs`.
   *
   * @example Connect with a deadline
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using stream = await TcpStream.connect(listener.addr, { timeoutMs: 1_000, readTimeoutMs: 5_000 });
   * ```
   *
   * @param address Hostname and port, or a Unix socket path.
   * @param options Connect deadline, signal, canceller and stream defaults.
   * @returns The connected stream.
   */
  static async connect(
    address: TcpStreamAddress | Deno.Addr,
    options: TcpStreamConnectOptions = {},
  ): Promise<TcpStream> {
    const action = "connect";
    validateStreamOptions(action, options);
    validateTimeout(action, "timeoutMs", options.timeoutMs);
    validateSignal(action, options.signal);
    const connectOptions = toConnectOptions(address);
    using deadline = new Deadline(action, options.timeoutMs, [
      options.signal,
      options.canceller?.signal,
    ]);
    deadline.throwIfAborted();
    // Deno.connect takes one signal and rejects with its reason: abort it with
    // our own error, so that the caller gets TimedOutError/CancelledError.
    const controller = new AbortController();
    const attempt = Deno.connect({
      ...connectOptions,
      signal: controller.signal,
    } as Deno.ConnectOptions);
    try {
      const conn = await deadline.race(attempt);
      return new TcpStream(conn, options);
    } catch (error) {
      if (error instanceof TimedOutError || error instanceof CancelledError) {
        controller.abort(error);
        // The attempt rejects with our error (or a conn that won the race and
        // must be closed).
        attempt.then((conn) => conn.close(), noop);
      }
      throw error;
    }
  }

  /** The local address. */
  get localAddr(): Deno.Addr {
    return this.#conn.localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Default `timeoutMs` of read calls (`Infinity`: none). */
  get readTimeoutMs(): number {
    return this.#readTimeoutMs;
  }
  set readTimeoutMs(value: number) {
    validateTimeout("set timeout", "readTimeoutMs", value);
    if (value === undefined) {
      throw new TypeError(
        "Cannot set timeout as 'readTimeoutMs' must be a number: received undefined",
      );
    }
    this.#readTimeoutMs = value;
  }

  /** Default `timeoutMs` of write calls (`Infinity`: none). */
  get writeTimeoutMs(): number {
    return this.#writeTimeoutMs;
  }
  set writeTimeoutMs(value: number) {
    validateTimeout("set timeout", "writeTimeoutMs", value);
    if (value === undefined) {
      throw new TypeError(
        "Cannot set timeout as 'writeTimeoutMs' must be a number: received undefined",
      );
    }
    this.#writeTimeoutMs = value;
  }

  /** Number of bytes received and not yet read. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Disables Nagle's algorithm (TCP only; a no-op on Unix sockets). */
  setNoDelay(noDelay = true): void {
    const conn = this.#conn as Partial<Deno.TcpConn>;
    conn.setNoDelay?.(noDelay);
  }

  /** Enables TCP keep-alive (TCP only; a no-op on Unix sockets). */
  setKeepAlive(keepAlive = true): void {
    const conn = this.#conn as Partial<Deno.TcpConn>;
    conn.setKeepAlive?.(keepAlive);
  }

  /**
   * Reads up to `buffer.length` bytes into `buffer`; resolves with the number
   * of bytes read, or `null` at end of stream.
   *
   * @example Read with a deadline
   * ```ts
   * import { TcpListener, TcpStream, TimedOutError } from "@millrace/io/net";
   * import { assertRejects } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using _server = await listener.accept();
   * await assertRejects(() => client.read(new Uint8Array(16), { timeoutMs: 10 }), TimedOutError);
   * ```
   *
   * @param buffer Where to put the bytes.
   * @param options Deadline and signal.
   * @returns The number of bytes read, or `null` at end of stream.
   */
  read(
    buffer: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<number | null> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot read as 'buffer' must be a Uint8Array: received ${
            formatValue(buffer)
          }`,
        ),
      );
    }
    return this.#readCall("read", options, async (deadline) => {
      if (buffer.length === 0) return 0;
      while (true) {
        const available = this.#end - this.#start;
        if (available > 0) {
          const n = Math.min(available, buffer.length);
          buffer.set(this.#buffer.subarray(this.#start, this.#start + n));
          this.#consume(n);
          return n;
        }
        this.#throwIfReadFailed();
        if (this.#eof) return null;
        if (
          deadline === undefined && this.#inflight === undefined &&
          buffer.length >= MIN_CHUNK
        ) {
          // Nothing can interrupt this call: read straight into the caller's
          // buffer, saving a copy.
          return await this.#directRead(buffer);
        }
        await this.#fill(deadline);
      }
    });
  }

  /**
   * Reads exactly `length` bytes. Rejects with `IncompleteError` if the stream
   * ends first: its `partial` holds the bytes that did arrive (empty when the
   * stream ended cleanly before this call). On timeout or cancellation the
   * bytes received so far stay buffered for the next call.
   *
   * @example Read a length-prefixed frame
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * await client.writeAll(new Uint8Array([3, 7, 8, 9]));
   * const [length] = await server.readExact(1, { timeoutMs: 1_000 });
   * assertEquals(await server.readExact(length!, { timeoutMs: 1_000 }), new Uint8Array([7, 8, 9]));
   * ```
   *
   * @param length Number of bytes, a non-negative integer.
   * @param options One deadline for the whole call, and a signal.
   * @returns A new array of `length` bytes.
   */
  readExact(
    length: number,
    options: TcpStreamCallOptions = {},
  ): Promise<Uint8Array> {
    if (!Number.isSafeInteger(length) || length < 0) {
      return Promise.reject(
        new RangeError(
          `Cannot read exactly as 'length' must be a non-negative integer: received ${
            formatValue(length)
          }`,
        ),
      );
    }
    return this.#readCall("read exactly", options, async (deadline) => {
      while (this.#end - this.#start < length) {
        this.#throwIfReadFailed();
        if (this.#eof) {
          const partial = this.#take(this.#end - this.#start);
          throw new IncompleteError(
            `Cannot read ${length} bytes as the peer closed the stream: received ${partial.length}`,
            partial,
          );
        }
        await this.#fill(deadline, length - (this.#end - this.#start));
      }
      return this.#take(length);
    });
  }

  /**
   * Reads until `delimiter` and resolves with the bytes before it (the
   * delimiter is consumed; `includeDelimiter` keeps it). Bytes after the
   * delimiter stay buffered for the next call. Resolves with `null` at end of
   * stream with nothing buffered; rejects with `IncompleteError` at end of
   * stream after a partial line, and with `TooBigError` when more than
   * `maxLength` bytes arrive without a delimiter (those bytes stay buffered;
   * the stream is usually closed then).
   *
   * @example Read lines
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * const crlf = new TextEncoder().encode("\r\n");
   * await client.writeAll(new TextEncoder().encode("a\r\nbc\r\n"));
   * await client.closeWrite();
   * const lines: string[] = [];
   * for (let line; (line = await server.readUntil(crlf, { maxLength: 1024, timeoutMs: 1_000 })) !== null;) {
   *   lines.push(new TextDecoder().decode(line));
   * }
   * assertEquals(lines, ["a", "bc"]);
   * ```
   *
   * @param delimiter One or more bytes.
   * @param options `maxLength`, one deadline for the whole call, a signal.
   * @returns The bytes before the delimiter, or `null` at end of stream.
   */
  readUntil(
    delimiter: Uint8Array,
    options: ReadUntilOptions = {},
  ): Promise<Uint8Array | null> {
    const action = "read until delimiter";
    if (!(delimiter instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot ${action} as 'delimiter' must be a Uint8Array: received ${
            formatValue(delimiter)
          }`,
        ),
      );
    }
    if (delimiter.length === 0) {
      return Promise.reject(
        new RangeError(
          `Cannot ${action} as 'delimiter' must not be empty: received 0 bytes`,
        ),
      );
    }
    const maxLength = options.maxLength ?? DEFAULT_MAX_LINE;
    const invalid = checkMaxLength(action, maxLength);
    if (invalid) return Promise.reject(invalid);
    // Copy: the caller may reuse its array while the call waits.
    const needle = delimiter.slice();
    const keep = options.includeDelimiter ?? false;
    return this.#readCall(action, options, async (deadline) => {
      let searched = 0; // bytes of the buffer already searched, from #start
      while (true) {
        const available = this.#end - this.#start;
        const from = Math.max(0, searched - needle.length + 1);
        const index = indexOf(
          this.#buffer.subarray(this.#start, this.#end),
          needle,
          from,
        );
        if (index !== -1 && index <= maxLength) {
          const line = this.#take(keep ? index + needle.length : index);
          if (!keep) this.#consume(needle.length);
          return line;
        }
        if (index > maxLength || available >= maxLength + needle.length) {
          throw new TooBigError(
            `Cannot ${action} as it exceeds 'maxLength': ${maxLength}`,
          );
        }
        searched = available;
        this.#throwIfReadFailed();
        if (this.#eof) {
          if (available === 0) return null;
          const partial = this.#take(available);
          throw new IncompleteError(
            `Cannot ${action} as the peer closed the stream: received ${partial.length} bytes without it`,
            partial,
          );
        }
        await this.#fill(deadline);
      }
    });
  }

  /**
   * Reads until end of stream, at most `maxLength` bytes (more is a
   * `TooBigError`; the bytes stay buffered).
   *
   * @example Read a whole response
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * await server.writeAll(new TextEncoder().encode("bye"));
   * await server.closeWrite();
   * const body = await client.readAll({ maxLength: 1024, timeoutMs: 1_000 });
   * assertEquals(new TextDecoder().decode(body), "bye");
   * ```
   *
   * @param options `maxLength`, one deadline for the whole call, a signal.
   * @returns Every byte up to end of stream.
   */
  readAll(options: ReadAllOptions = {}): Promise<Uint8Array> {
    const action = "read all";
    const maxLength = options.maxLength ?? DEFAULT_MAX_ALL;
    const invalid = checkMaxLength(action, maxLength);
    if (invalid) return Promise.reject(invalid);
    return this.#readCall(action, options, async (deadline) => {
      while (true) {
        const available = this.#end - this.#start;
        if (available > maxLength) {
          throw new TooBigError(
            `Cannot ${action} as it exceeds 'maxLength': ${maxLength}`,
          );
        }
        this.#throwIfReadFailed();
        if (this.#eof) return this.#take(available);
        await this.#fill(deadline, maxLength + 1 - available);
      }
    });
  }

  /**
   * Writes once: resolves with the number of bytes the kernel took, which may
   * be fewer than `bytes.length` (use `writeAll` for all of them). On timeout
   * or cancellation after the write started, the rest of `bytes` is written in
   * the background: do not modify `bytes` until a later write resolves.
   *
   * @example Write with a deadline
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using _server = await listener.accept();
   * const n = await client.write(new Uint8Array([1, 2, 3]), { timeoutMs: 1_000 });
   * assert(n > 0);
   * ```
   *
   * @param bytes What to write.
   * @param options Deadline and signal.
   * @returns The number of bytes written.
   */
  write(
    bytes: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<number> {
    return this.#writeCall("write", bytes, options, false);
  }

  /**
   * Writes every byte of `bytes`, within one deadline for the whole call. On
   * timeout or cancellation, a write that had not started is withdrawn (nothing
   * sent); one that had started is finished in the background and the next
   * write queues behind it. Do not modify `bytes` until then.
   *
   * @example Write a message
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * await client.writeAll(new TextEncoder().encode("ping"), { timeoutMs: 1_000 });
   * assertEquals(new TextDecoder().decode(await server.readExact(4)), "ping");
   * ```
   *
   * @param bytes What to write.
   * @param options One deadline for the whole call, and a signal.
   * @returns Resolves when every byte was handed to the kernel.
   */
  async writeAll(
    bytes: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<void> {
    await this.#writeCall("write all", bytes, options, true);
  }

  /**
   * Waits for the queued and background writes, then half-closes: the peer
   * reads end of stream and can still write back.
   *
   * @example Half-close
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * await client.closeWrite();
   * assertEquals(await server.read(new Uint8Array(1)), null);
   * ```
   *
   * @param options Deadline and signal for the wait.
   * @returns Resolves once half-closed.
   */
  async closeWrite(options: TcpStreamCallOptions = {}): Promise<void> {
    const action = "close for writing";
    using deadline = this.#deadline(action, options, this.#writeTimeoutMs);
    this.#throwIfClosed(action);
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    await this.#lock(this.#writeLock, deadline);
    try {
      this.#throwIfClosed(action);
      await this.#conn.closeWrite();
    } finally {
      this.#writeLock.release();
    }
  }

  /**
   * Closes the connection at once: pending calls reject with a `NetError` of
   * kind `"closed"`, background writes are dropped. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer[Symbol.dispose]();
    try {
      this.#conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /**
   * Gives the connection up without closing it, for example to register it
   * with an `EventLoop`: the bytes already buffered and the read in flight are
   * handed over through `_internal/inflight.ts` (the next reader, loop or
   * `TcpStream`, gets them first) and writes still in progress finish before
   * the next writer's. The stream is unusable afterwards (calls reject with a
   * `NetError` of kind `"closed"`; `close()` does nothing).
   *
   * @example Hand a connection over
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * const server = await listener.accept();
   * await client.writeAll(new TextEncoder().encode("head\nbody"));
   * await server.readUntil(new TextEncoder().encode("\n"));
   * using next = new TcpStream(server.detach());
   * assertEquals(new TextDecoder().decode(await next.readExact(4)), "body");
   * ```
   *
   * @returns The connection, still open.
   */
  detach(): Deno.Conn {
    const action = "detach";
    this.#throwIfClosed(action);
    if (this.#readLock.busy) {
      throw new NetError(
        "closed",
        `Cannot ${action} as a read is pending: wait for it or cancel it first`,
      );
    }
    this.#closed = true;
    this.#detached = true;
    this.#timer[Symbol.dispose]();
    const conn = this.#conn;
    const inflight = this.#inflight;
    if (inflight || this.#end > this.#start || this.#eof) {
      const outcome = (inflight ?? Promise.resolve()).then(
        (): InflightOutcome => {
          if (this.#end > this.#start) {
            return { data: this.#take(this.#end - this.#start), eof: false };
          }
          if (this.#eof) return { eof: true };
          return { eof: false, error: this.#readError };
        },
      );
      stashInflightRead(conn, outcome);
    } else if (this.#readError !== undefined) {
      stashInflightRead(
        conn,
        Promise.resolve({ eof: false, error: this.#readError }),
      );
    }
    if (this.#writeLock.busy) {
      const lock = this.#writeLock;
      stashPendingWrites(conn, lock.acquire().then(() => lock.release()));
    }
    return conn;
  }

  /** Closes the connection (see {@linkcode TcpStream.close}). */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- reading ------------------------------------------------------------

  #deadline(
    action: string,
    options: TcpStreamCallOptions,
    defaultTimeoutMs: number,
  ): Deadline | undefined {
    validateCallOptions(action, options);
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    // The canceller's signal is watched once per stream by #timer.
    const signals = [options.signal];
    if (timeoutMs === Infinity && !options.signal && !this.#canceller) {
      return undefined;
    }
    const deadline = new Deadline(action, timeoutMs, signals, this.#timer);
    try {
      deadline.throwIfAborted();
    } catch (error) {
      deadline[Symbol.dispose]();
      throw error;
    }
    return deadline;
  }

  async #readCall<T>(
    action: string,
    options: TcpStreamCallOptions,
    body: (deadline: Deadline | undefined) => Promise<T>,
  ): Promise<T> {
    using deadline = this.#deadline(action, options, this.#readTimeoutMs);
    this.#throwIfClosed(action);
    // One read call at a time, in call order; waiting counts against the
    // deadline.
    if (!this.#readLock.tryAcquire()) {
      await this.#lock(this.#readLock, deadline);
    }
    try {
      this.#throwIfClosed(action);
      return await body(deadline);
    } catch (error) {
      if (this.#closed && !(error instanceof NetError)) {
        throw closedError(action, error);
      }
      throw error;
    } finally {
      this.#readLock.release();
    }
  }

  /** Waits for `lock` within the deadline; gives the turn up on failure. */
  async #lock(lock: FifoLock, deadline: Deadline | undefined): Promise<void> {
    const acquiring = lock.acquire();
    if (!deadline) return await acquiring;
    try {
      await deadline.race(acquiring);
    } catch (error) {
      lock.abandon(acquiring);
      throw error;
    }
  }

  /** Waits until the read in flight (started if none) lands, or the deadline. */
  async #fill(deadline: Deadline | undefined, wanted = 0): Promise<void> {
    if (!this.#inflight) this.#startRead(wanted);
    await (deadline ? deadline.race(this.#inflight!) : this.#inflight);
  }

  #startRead(wanted: number): void {
    const size = Math.min(MAX_CHUNK, Math.max(this.#chunkSize, wanted));
    if (!this.#chunk || this.#chunk.length !== size) {
      this.#chunk = new Uint8Array(size);
    }
    const chunk = this.#chunk;
    this.#inflight = this.#conn.read(chunk).then(
      (n) => {
        this.#inflight = undefined;
        if (n === null) {
          this.#eof = true;
          return;
        }
        this.#append(chunk.subarray(0, n));
        // Adaptive chunk: grow while reads come back full, shrink when small,
        // so that an idle stream pins little memory.
        if (n === chunk.length) {
          this.#chunkSize = Math.min(MAX_CHUNK, chunk.length * 2);
        } else if (n < chunk.length / 8) {
          this.#chunkSize = Math.max(MIN_CHUNK, chunk.length / 2);
        }
      },
      (error) => {
        this.#inflight = undefined;
        this.#readError = error;
      },
    );
  }

  async #directRead(buffer: Uint8Array): Promise<number | null> {
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      this.#readError = error;
      throw error;
    }
    if (n === null) this.#eof = true;
    return n;
  }

  #throwIfReadFailed(): void {
    if (this.#readError !== undefined) throw this.#readError;
  }

  #append(bytes: Uint8Array): void {
    const length = this.#end - this.#start;
    if (this.#end + bytes.length > this.#buffer.length) {
      if (length + bytes.length <= this.#buffer.length) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(
          Math.max(length + bytes.length, this.#buffer.length * 2, MIN_CHUNK),
        );
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // Do not keep a large buffer around for an idle stream.
      if (this.#buffer.length > MAX_CHUNK * 2) this.#buffer = new Uint8Array(0);
    }
  }

  #take(n: number): Uint8Array {
    const bytes = this.#buffer.slice(this.#start, this.#start + n);
    this.#consume(n);
    return bytes;
  }

  // --- writing ------------------------------------------------------------

  async #writeCall(
    action: string,
    bytes: Uint8Array,
    options: TcpStreamCallOptions,
    all: boolean,
  ): Promise<number> {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot ${action} as 'bytes' must be a Uint8Array: received ${
          formatValue(bytes)
        }`,
      );
    }
    using deadline = this.#deadline(action, options, this.#writeTimeoutMs);
    this.#throwIfClosed(action);
    if (this.#writeClosed) {
      throw new NetError(
        "closed",
        `Cannot ${action} as the stream was closed for writing`,
      );
    }
    if (this.#writeError !== undefined) throw this.#writeError;

    // Queued behind other writes: if the deadline passes or the signal aborts
    // while waiting, this write is withdrawn (nothing of it is sent).
    if (!this.#writeLock.tryAcquire()) {
      await this.#lock(this.#writeLock, deadline);
    }
    let abandoned = false;
    let job: Promise<number>;
    try {
      this.#throwIfClosed(action);
      if (this.#writeError !== undefined) throw this.#writeError;
      if (bytes.length === 0) {
        this.#writeLock.release();
        return 0;
      }
      // Started: from here on the write completes even if the caller gives up.
      job = this.#conn.write(bytes).then(async (n) => {
        if (all || abandoned) await this.#writeFully(bytes.subarray(n));
        return all ? bytes.length : n;
      });
    } catch (error) {
      this.#writeLock.release();
      throw error;
    }
    job.then(
      () => this.#writeLock.release(),
      (error) => {
        this.#writeError ??= error;
        this.#writeLock.release();
      },
    );
    try {
      return await (deadline ? deadline.race(job) : job);
    } catch (error) {
      if (error instanceof TimedOutError || error instanceof CancelledError) {
        abandoned = true; // finish in the background
        throw error;
      }
      if (this.#closed && !(error instanceof NetError)) {
        throw closedError(action, error);
      }
      throw error;
    }
  }

  async #writeFully(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  #throwIfClosed(action: string): void {
    if (this.#closed) {
      throw new NetError(
        "closed",
        `Cannot ${action} as the stream is ${
          this.#detached ? "detached" : "closed"
        }`,
      );
    }
  }
}

function closedError(action: string, cause: unknown): NetError {
  return new NetError("closed", `Cannot ${action} as the stream was closed`, {
    cause,
  });
}

function checkMaxLength(
  action: string,
  value: unknown,
): RangeError | undefined {
  if (
    typeof value === "number" &&
    (Number.isSafeInteger(value) && value >= 0 || value === Infinity)
  ) return undefined;
  return new RangeError(
    `Cannot ${action} as 'maxLength' must be a non-negative integer: received ${
      formatValue(value)
    }`,
  );
}

function toConnectOptions(
  address: TcpStreamAddress | Deno.Addr,
): Deno.ConnectOptions | Deno.UnixConnectOptions {
  if (address === null || typeof address !== "object") {
    throw new TypeError(
      `Cannot connect as 'address' must be an object: received ${
        formatValue(address)
      }`,
    );
  }
  if (address.transport === "unix") {
    return { transport: "unix", path: address.path };
  }
  if (address.transport !== undefined && address.transport !== "tcp") {
    throw new TypeError(
      `Cannot connect as 'transport' must be "tcp" or "unix": received ${
        formatValue(address.transport)
      }`,
    );
  }
  const { port } = address;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(
      `Cannot connect as 'port' must be an integer from 1 to 65535: received ${
        formatValue(port)
      }`,
    );
  }
  return address.hostname === undefined
    ? { port }
    : { hostname: address.hostname, port };
}

/** Index of `needle` in `haystack` at or after `from`, or -1. */
function indexOf(
  haystack: Uint8Array,
  needle: Uint8Array,
  from: number,
): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  for (
    let i = haystack.indexOf(first, from);
    i !== -1 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
