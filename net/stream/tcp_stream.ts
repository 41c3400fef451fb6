// A connection with a total deadline on every call (mtcp's idea in Deno's
// idiom).
//
// Deno cannot cancel a pending `conn.read()` without closing the connection.
// Instead of closing, the stream keeps the read in flight: it lands in the
// stream's own buffer whenever it completes, and the next call finds the bytes
// there (or waits for the same read). So a timed-out or cancelled read loses no
// byte and leaves the stream usable.
//
// Writes cannot be cancelled either: see _stream_writer.ts.
import type { Codec } from "../codec/codec.ts";
import type {
  ReadAllOptions,
  ReadUntilOptions,
  TcpStreamAddress,
  TcpStreamCallOptions,
  TcpStreamConnectOptions,
  TcpStreamOptions,
} from "./tcp_stream_options.ts";
import { parseAddress, toDenoAddress } from "../_address.ts";
import { connectWithDeadline } from "../_connect.ts";
import { StreamCore } from "./_stream_core.ts";
import {
  argumentError,
  bytesError,
  copyDelimiter,
  lengthError,
  validateCodec,
  validateMaxLength,
  validateStreamOptions,
} from "./_options.ts";
import { validateSignal, validateTimeout } from "../_deadline.ts";

const DEFAULT_MAX_LINE = 65536;
const DEFAULT_MAX_ALL = 16 * 1024 * 1024;

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
  readonly #core: StreamCore;

  /**
   * Wraps an open connection. The stream owns it from now on: read and write
   * through the stream only, or bytes may be lost.
   *
   * @example Wrap a Deno connection
   * ```ts
   * import { TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
   * using stream = new TcpStream(conn, { readTimeoutMs: 1_000 });
   * assertEquals(stream.readTimeoutMs, 1_000);
   * ```
   *
   * @param conn The connection, for example from `Deno.connect`.
   * @param options Default timeouts and canceller.
   * @throws {TypeError | RangeError} For bad options.
   */
  constructor(conn: Deno.Conn, options: TcpStreamOptions = {}) {
    this.#core = new StreamCore(conn, options);
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
   * @throws {TimedOutError} If `timeoutMs` passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {TypeError | RangeError} For a bad address or options.
   * @throws {Deno.errors.ConnectionRefused} And Deno's other connect errors.
   */
  static async connect(
    address: TcpStreamAddress | Deno.Addr,
    options: TcpStreamConnectOptions = {},
  ): Promise<TcpStream> {
    const action = "connect";
    validateStreamOptions(action, options);
    validateTimeout(action, "timeoutMs", options.timeoutMs);
    validateSignal(action, options.signal);
    const conn = await connectWithDeadline(
      toDenoAddress(parseAddress(action, address, false)),
      options.timeoutMs,
      [options.signal, options.canceller?.signal],
    );
    return new TcpStream(conn, options);
  }

  /** The local address. */
  get localAddr(): Deno.Addr {
    return this.#core.conn.localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): Deno.Addr {
    return this.#core.conn.remoteAddr;
  }

  /** Default `timeoutMs` of read calls (`Infinity`: none). */
  get readTimeoutMs(): number {
    return this.#core.readTimeoutMs;
  }
  /**
   * Sets the default `timeoutMs` of read calls: from 0 to 2 ** 31 - 1 ms,
   * or `Infinity`.
   */
  set readTimeoutMs(value: number) {
    this.#core.readTimeoutMs = value;
  }

  /** Default `timeoutMs` of write calls (`Infinity`: none). */
  get writeTimeoutMs(): number {
    return this.#core.writeTimeoutMs;
  }
  /**
   * Sets the default `timeoutMs` of write calls: from 0 to 2 ** 31 - 1 ms,
   * or `Infinity`.
   */
  set writeTimeoutMs(value: number) {
    this.#core.writeTimeoutMs = value;
  }

  /** Number of bytes received and not yet read. */
  get bufferedBytes(): number {
    return this.#core.reader.buffered;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Disables Nagle's algorithm (TCP only; a no-op on Unix sockets).
   *
   * @example Usage
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using stream = await TcpStream.connect(listener.addr);
   * stream.setNoDelay(true);
   * ```
   *
   * @param noDelay `true` to send small writes at once.
   */
  setNoDelay(noDelay = true): void {
    const conn = this.#core.conn as Partial<Deno.TcpConn>;
    conn.setNoDelay?.(noDelay);
  }

  /**
   * Enables TCP keep-alive (TCP only; a no-op on Unix sockets).
   *
   * @example Usage
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using stream = await TcpStream.connect(listener.addr);
   * stream.setKeepAlive(true);
   * ```
   *
   * @param keepAlive `true` to send keep-alive probes (the OS's interval).
   */
  setKeepAlive(keepAlive = true): void {
    const conn = this.#core.conn as Partial<Deno.TcpConn>;
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  read(
    buffer: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<number | null> {
    return this.#core.read(
      "read",
      options,
      bytesError("read", "buffer", buffer),
      (reader, deadline) => reader.read(buffer, deadline),
    );
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
   * @param length Number of bytes: an integer from 0 to 1 GiB.
   * @param options One deadline for the whole call, and a signal.
   * @returns A new array of `length` bytes.
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  readExact(
    length: number,
    options: TcpStreamCallOptions = {},
  ): Promise<Uint8Array> {
    const action = "read exactly";
    return this.#core.read(
      action,
      options,
      lengthError(action, length),
      (reader, deadline) => reader.readExact(length, deadline),
    );
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  readUntil(
    delimiter: Uint8Array,
    options: ReadUntilOptions = {},
  ): Promise<Uint8Array | null> {
    const action = "read until delimiter";
    let needle = delimiter;
    let maxLength = 0;
    const invalid = argumentError(() => {
      needle = copyDelimiter(action, delimiter);
      maxLength = validateMaxLength(
        action,
        options.maxLength,
        DEFAULT_MAX_LINE,
      );
    });
    const keep = options.includeDelimiter ?? false;
    return this.#core.read(
      action,
      options,
      invalid,
      (reader, deadline) =>
        reader.readUntil(action, needle, keep, maxLength, deadline),
    );
  }

  /**
   * Reads one frame with `codec` (e.g. a `LineCodec` or a
   * `LengthPrefixedCodec`), with the same deadline and cancellation as the
   * other reads. Bytes after the frame stay buffered for the next call, and
   * on timeout, cancellation or a `FrameTooLargeError` nothing is consumed.
   * The frame is the caller's (a copy, unlike a server's `onFrame` view).
   *
   * @example Read length-prefixed frames
   * ```ts
   * import { LengthPrefixedCodec, TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using client = await TcpStream.connect(listener.addr);
   * using server = await listener.accept();
   * const codec = new LengthPrefixedCodec({ lengthFieldLength: 2 });
   * await client.writeAll(codec.encode(new Uint8Array([1, 2, 3])));
   * assertEquals(await server.readFrame(codec, { timeoutMs: 1_000 }), new Uint8Array([1, 2, 3]));
   * ```
   *
   * @param codec The framing format.
   * @param options One deadline for the whole call, a signal.
   * @returns The frame, or `null` at end of stream between frames.
   * @throws {FrameTooLargeError} The frame passes the codec's limit.
   * @throws {IncompleteError} The peer closed the stream inside a frame.
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For a bad codec or options.
   */
  readFrame<F, E>(
    codec: Codec<F, E>,
    options: TcpStreamCallOptions = {},
  ): Promise<F | null> {
    const action = "read frame";
    return this.#core.read(
      action,
      options,
      argumentError(() => validateCodec(action, codec)),
      (reader, deadline) =>
        reader.readFrame(action, codec.createDecoder(), deadline),
    );
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  readAll(options: ReadAllOptions = {}): Promise<Uint8Array> {
    const action = "read all";
    let maxLength = 0;
    const invalid = argumentError(() => {
      maxLength = validateMaxLength(action, options.maxLength, DEFAULT_MAX_ALL);
    });
    return this.#core.read(
      action,
      options,
      invalid,
      (reader, deadline) => reader.readAll(action, maxLength, deadline),
    );
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  write(
    bytes: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<number> {
    return this.#core.write("write", bytes, options, false);
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  async writeAll(
    bytes: Uint8Array,
    options: TcpStreamCallOptions = {},
  ): Promise<void> {
    await this.#core.write("write all", bytes, options, true);
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
   * @throws {TimedOutError} If the deadline passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the stream is or gets closed.
   * @throws {TypeError | RangeError} For bad arguments or options.
   */
  async closeWrite(options: TcpStreamCallOptions = {}): Promise<void> {
    await this.#core.closeWrite(options);
  }

  /**
   * Closes the connection at once: pending calls reject with a `NetError` of
   * kind `"closed"`, background writes are dropped. Idempotent.
   *
   * @example Usage
   * ```ts
   * import { NetError, TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertRejects } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * const stream = await TcpStream.connect(listener.addr);
   * stream.close();
   * await assertRejects(() => stream.read(new Uint8Array(1)), NetError, "closed");
   * ```
   *
   * @throws {Error} Deno's error if closing fails other than by the
   * connection being closed already.
   */
  close(): void {
    this.#core.close();
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
   * @throws {NetError} Of kind `"closed"` if the stream is closed or a read is
   * pending.
   */
  detach(): Deno.Conn {
    return this.#core.detach();
  }

  /**
   * Closes the connection (see {@linkcode TcpStream.close}).
   *
   * @example Usage
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * const stream = await TcpStream.connect(listener.addr);
   * {
   *   using _scoped = stream;
   * }
   * assert(stream.closed);
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }
}
