// A first-in-first-out lock that allocates nothing when uncontended: calls on
// one stream (reads; writes) run one at a time, in call order.

import type { Deadline } from "../_deadline.ts";
import { RESOLVED } from "../../_internal/resolved.ts";

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

/**
 * Waits for `lock` within `deadline` (none: no limit); gives the turn up when
 * the deadline passes or its signal aborts first.
 */
export async function acquireWithin(
  lock: FifoLock,
  deadline: Deadline | undefined,
): Promise<void> {
  const acquiring = lock.acquire();
  if (!deadline) return await acquiring;
  try {
    await deadline.race(acquiring);
  } catch (error) {
    lock.abandon(acquiring);
    throw error;
  }
}
