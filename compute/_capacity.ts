// Backpressure signals of a pool: `whenCapacity()` waiters (resolved once
// fewer than maxQueue tasks wait) and the `drain` event (the queue emptied).
// Creating and dispatching an Event costs microseconds: it happens only when
// someone listens.

/** Capacity waiters and `drain` bookkeeping. */
export class Capacity {
  #maxQueue: number;
  #waiters: (() => void)[] = [];
  /** A task was queued since the last `drain`. */
  #mayDrain = false;
  /** Someone listens for `drain`. */
  heard = false;

  constructor(maxQueue: number) {
    this.#maxQueue = maxQueue;
  }

  /** A task was queued. */
  queued(): void {
    this.#mayDrain = true;
  }

  /** Whether `waiting()` needs reading at all after a drain. */
  get watching(): boolean {
    return this.#waiters.length > 0 || (this.#mayDrain && this.heard);
  }

  /** Resolves when fewer than `maxQueue` tasks wait (see `whenCapacity`). */
  wait(waiting: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (waiting < this.#maxQueue) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(done);
    });
  }

  /**
   * After a drain: wakes the capacity waiters if there is room; returns
   * whether to fire `drain`.
   */
  update(waiting: number): boolean {
    if (this.#waiters.length > 0 && waiting < this.#maxQueue) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
    if (this.#mayDrain && this.heard && waiting === 0) {
      this.#mayDrain = false;
      return true;
    }
    return false;
  }
}
