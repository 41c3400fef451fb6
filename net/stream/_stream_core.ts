// What a TcpStream is under its documented face: the connection, its reader
// and writer, the default timeouts, and the discipline every call follows
// (check the arguments, make the call's deadline, one read call at a time,
// a closed stream's errors). tcp_stream.ts documents and delegates.
import {
  stashInflightRead,
  stashPendingWrites,
  takeInflightRead,
  takePendingWrites,
} from "../../_internal/inflight.ts";
import type {
  TcpStreamCallOptions,
  TcpStreamOptions,
} from "./tcp_stream_options.ts";
import { validateDelay, validateUint8Array } from "../../_internal/validate.ts";
import { acquireWithin, FifoLock } from "./_fifo_lock.ts";
import { StreamReader } from "./_stream_reader.ts";
import { closedError, StreamWriter } from "./_stream_writer.ts";
import { validateCallOptions, validateStreamOptions } from "./_options.ts";
import { Deadline, DeadlineTimer } from "../_deadline.ts";
import { NetError } from "../errors.ts";

/** A stream's state and the discipline of its calls. */
export class StreamCore {
  readonly conn: Deno.Conn;
  readonly #canceller: TcpStreamOptions["canceller"];
  readonly #timer: DeadlineTimer;
  #readTimeoutMs: number;
  #writeTimeoutMs: number;

  // The buffer and the one read in flight.
  readonly reader: StreamReader;
  // Read calls run one at a time, in call order.
  readonly #readLock = new FifoLock();

  // The write lock, the first write error and the half-close.
  readonly #out: StreamWriter;
  closed = false;
  #detached = false;

  constructor(conn: Deno.Conn, options: TcpStreamOptions) {
    validateStreamOptions("create stream", options);
    this.conn = conn;
    this.#canceller = options.canceller;
    this.#timer = new DeadlineTimer(options.canceller?.signal);
    this.#readTimeoutMs = options.readTimeoutMs ?? Infinity;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? Infinity;
    // A connection taken from the reactor may have a read in flight and
    // writes still queued there: adopt both, so no byte is lost or reordered.
    this.reader = new StreamReader(conn);
    const inherited = takeInflightRead(conn);
    if (inherited) this.reader.adopt(inherited);
    this.#out = new StreamWriter(conn, this);
    const writes = takePendingWrites(conn);
    if (writes) this.#out.adopt(writes);
  }

  get readTimeoutMs(): number {
    return this.#readTimeoutMs;
  }
  set readTimeoutMs(value: number) {
    this.#readTimeoutMs = validateDelay("set timeout", "readTimeoutMs", value, {
      allowInfinity: true,
    });
  }

  get writeTimeoutMs(): number {
    return this.#writeTimeoutMs;
  }
  set writeTimeoutMs(value: number) {
    this.#writeTimeoutMs = validateDelay(
      "set timeout",
      "writeTimeoutMs",
      value,
      { allowInfinity: true },
    );
  }

  /**
   * Runs the read call `body` under the stream's rules: `invalid` (a bad
   * argument) rejects first, then the options; calls run one at a time, in
   * call order, waiting counting against the deadline; a failure caused by
   * `close()` becomes a closed `NetError`.
   */
  async read<T>(
    action: string,
    options: TcpStreamCallOptions,
    invalid: Error | undefined,
    body: (reader: StreamReader, deadline: Deadline | undefined) => Promise<T>,
  ): Promise<T> {
    if (invalid !== undefined) throw invalid;
    using deadline = this.#deadline(action, options, this.#readTimeoutMs);
    this.throwIfClosed(action);
    if (!this.#readLock.tryAcquire()) {
      await acquireWithin(this.#readLock, deadline);
    }
    try {
      this.throwIfClosed(action);
      return await body(this.reader, deadline);
    } catch (error) {
      if (this.closed && !(error instanceof NetError)) {
        throw closedError(action, error);
      }
      throw error;
    } finally {
      this.#readLock.release();
    }
  }

  /** A write call: one write, or (`all`) every byte of `bytes`. */
  async write(
    action: string,
    bytes: Uint8Array,
    options: TcpStreamCallOptions,
    all: boolean,
  ): Promise<number> {
    validateUint8Array(action, "bytes", bytes);
    using deadline = this.#deadline(action, options, this.#writeTimeoutMs);
    this.throwIfClosed(action);
    return await this.#out.write(action, bytes, deadline, all);
  }

  /** Waits for the writes, then half-closes. */
  async closeWrite(options: TcpStreamCallOptions): Promise<void> {
    const action = "close for writing";
    using deadline = this.#deadline(action, options, this.#writeTimeoutMs);
    this.throwIfClosed(action);
    await this.#out.closeWrite(action, deadline);
  }

  /** Closes the connection at once; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#timer[Symbol.dispose]();
    try {
      this.conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /** Gives the connection up, handing buffered bytes and writes over. */
  detach(): Deno.Conn {
    const action = "detach";
    this.throwIfClosed(action);
    if (this.#readLock.busy) {
      throw new NetError(
        "closed",
        `Cannot ${action} as a read is pending: wait for it or cancel it first`,
      );
    }
    this.closed = true;
    this.#detached = true;
    this.#timer[Symbol.dispose]();
    const conn = this.conn;
    const outcome = this.reader.handOver();
    if (outcome) stashInflightRead(conn, outcome);
    const writes = this.#out.handOver();
    if (writes) stashPendingWrites(conn, writes.done, writes.bytes);
    return conn;
  }

  /** Throws the closed `NetError` of `action` once closed or detached. */
  throwIfClosed(action: string): void {
    if (this.closed) {
      throw new NetError(
        "closed",
        `Cannot ${action} as the stream is ${
          this.#detached ? "detached" : "closed"
        }`,
      );
    }
  }

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
}
