// The write side of a TcpStream: writes run one at a time, in call order.
// Deno cannot cancel a write either. A timed-out or cancelled write that had
// not started yet (it was queued behind another write) is withdrawn: none of
// its bytes are sent. One that had started is finished in the background, so
// the peer never sees half a message; the next write queues behind it (a
// write finishing in the background holds the lock until it is done).
//
// The methods take the call's deadline (already checked for cancellation by
// TcpStream) and the stream's closed state, which close() changes at any time.
import type { PendingWrites } from "../../_internal/inflight.ts";
import type { Deadline } from "../_deadline.ts";
import { CancelledError, NetError, TimedOutError } from "../errors.ts";
import { acquireWithin, FifoLock } from "./_fifo_lock.ts";

const noop = (): void => {};

/** What the writer asks of its stream: is it closed (or detached)? */
export interface StreamState {
  readonly closed: boolean;
  throwIfClosed(action: string): void;
}

/** The `NetError` of a call that failed because the stream was closed. */
export function closedError(action: string, cause: unknown): NetError {
  return new NetError("closed", `Cannot ${action} as the stream was closed`, {
    cause,
  });
}

/** The write lock, the first write error and the half-close of one stream. */
export class StreamWriter {
  readonly #conn: Deno.Conn;
  readonly #state: StreamState;
  readonly #lock = new FifoLock();
  #error: unknown;
  #closed = false;
  // Bytes of the write in progress still to go (counted for a hand-over),
  // and the writes of a previous owner this writer waits for.
  #unwritten = 0;
  #adopted: PendingWrites | undefined = undefined;

  constructor(conn: Deno.Conn, state: StreamState) {
    this.#conn = conn;
    this.#state = state;
  }

  /**
   * Writes another owner left in progress (the reactor's, through
   * `_internal/inflight.ts`) finish before this writer's first.
   */
  adopt(writes: PendingWrites): void {
    this.#lock.tryAcquire();
    this.#adopted = writes;
    writes.done.then(noop, noop).then(() => {
      this.#adopted = undefined;
      this.#lock.release();
    });
  }

  /**
   * What the next owner of the connection must wait for before it writes (the
   * writes in progress, and how many of their bytes are left), or
   * `undefined` if none.
   */
  handOver(): PendingWrites | undefined {
    if (!this.#lock.busy) return undefined;
    const lock = this.#lock;
    return {
      done: lock.acquire().then(() => lock.release()),
      bytes: () => this.#unwritten + (this.#adopted?.bytes() ?? 0),
    };
  }

  /**
   * Writes `bytes` (all of them when `all`, else at least one) after the
   * writes before it; resolves with the count written.
   */
  async write(
    action: string,
    bytes: Uint8Array,
    deadline: Deadline | undefined,
    all: boolean,
  ): Promise<number> {
    const state = this.#state;
    if (this.#closed) {
      throw new NetError(
        "closed",
        `Cannot ${action} as the stream was closed for writing`,
      );
    }
    if (this.#error !== undefined) throw this.#error;

    // Queued behind other writes: if the deadline passes or the signal aborts
    // while waiting, this write is withdrawn (nothing of it is sent).
    if (!this.#lock.tryAcquire()) await acquireWithin(this.#lock, deadline);
    let abandoned = false;
    let job: Promise<number>;
    try {
      state.throwIfClosed(action);
      if (this.#error !== undefined) throw this.#error;
      if (bytes.length === 0) {
        this.#lock.release();
        return 0;
      }
      // Started: from here on the write completes even if the caller gives up.
      this.#unwritten = bytes.length;
      job = this.#conn.write(bytes).then(async (n) => {
        if (all || abandoned) {
          this.#unwritten = bytes.length - n;
          await this.#writeFully(bytes.subarray(n));
        }
        this.#unwritten = 0;
        return all ? bytes.length : n;
      });
    } catch (error) {
      this.#lock.release();
      throw error;
    }
    job.then(
      () => this.#lock.release(),
      (error) => {
        this.#error ??= error;
        this.#unwritten = 0;
        this.#lock.release();
      },
    );
    try {
      return await (deadline ? deadline.race(job) : job);
    } catch (error) {
      if (error instanceof TimedOutError || error instanceof CancelledError) {
        abandoned = true; // finish in the background
        throw error;
      }
      if (state.closed && !(error instanceof NetError)) {
        throw closedError(action, error);
      }
      throw error;
    }
  }

  /** Waits for the writes before it, then half-closes (once). */
  async closeWrite(
    action: string,
    deadline: Deadline | undefined,
  ): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await acquireWithin(this.#lock, deadline);
    try {
      this.#state.throwIfClosed(action);
      await this.#conn.closeWrite();
    } finally {
      this.#lock.release();
    }
  }

  async #writeFully(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const n = await this.#conn.write(bytes.subarray(offset));
      offset += n;
      this.#unwritten -= n;
    }
  }
}
