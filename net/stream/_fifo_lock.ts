// A first-in-first-out lock that allocates nothing when uncontended: calls on
// one stream (reads; writes) run one at a time, in call order.

const RESOLVED: Promise<void> = Promise.resolve();

/** A FIFO mutex; `acquire()` resolves when the caller holds it. */
export class FifoLock {
  #busy = false;
  #waiters: (() => void)[] = [];

  /** Whether someone holds the lock. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Takes the lock if free; returns whether it did. */
  tryAcquire(): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    return true;
  }

  /**
   * Resolves when the caller holds the lock. A caller that stops waiting (its
   * deadline passed) must pass `abandon(promise)` so that the lock moves on.
   */
  acquire(): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return RESOLVED;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** For a caller that gave up waiting: releases the lock once it gets it. */
  abandon(acquiring: Promise<void>): void {
    acquiring.then(() => this.release());
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#busy = false;
  }
}
