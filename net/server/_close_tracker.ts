// The closes a connection table has started and not yet seen finish: how
// `settled()` knows when every descriptor is really closed, and how a forced
// shutdown cuts short the graceful closes (flush, then linger) still running.

import type { EventLoop } from "../../reactor/event_loop.ts";
import { RESOLVED } from "../../_internal/resolved.ts";

/** How long a closing connection may take to write its queue and linger. */
export const LINGER_MS = 5000;

/** Counts the closes in flight and bounds the graceful ones. */
export class CloseTracker {
  readonly #loop: EventLoop;
  /** Closes started and not yet settled (see `track`). */
  #closing = 0;
  /** `settled()` callers waiting for `#closing` to reach 0. */
  #settledWaiters: (() => void)[] = [];
  readonly #lingering = new Set<AbortController>();

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  // A counter and one callback bound once, not a Set of promises with a
  // catch and a finally each: one close per connection is on the churn path.
  /** Counts `promise` (a loop close) until it settles. */
  track(promise: Promise<void>): void {
    // The loop's shared resolved promise: closed already, nothing to count
    // (the churn path's close, without a reaction and its microtask).
    if (promise === RESOLVED) return;
    this.#closing++;
    // Closing a conn whose peer is gone can fail; it is closed either way.
    promise.then(this.#closeSettled, this.#closeSettled);
  }

  readonly #closeSettled = (): void => {
    if (--this.#closing > 0) return;
    const waiters = this.#settledWaiters;
    if (waiters.length === 0) return;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  };

  /**
   * Closes a removed connection's source; with `flush`, gracefully: the
   * loop writes its queue out, half-closes and lingers until the peer's end
   * of stream (`EventLoop.close` with `flush: true`), so that unread input
   * does not turn the close into a reset that destroys the queued bytes.
   * Bounded: a peer that stops reading must not pin a descriptor and its
   * queue forever, so after `LINGER_MS` (flush and linger together), or at
   * `abortLingering()` (forced shutdown), it is closed anyway. The loop
   * deregisters it at once: no more events.
   */
  close(token: number, flush: boolean): void {
    const loop = this.#loop;
    if (!flush) {
      this.track(loop.close(token));
      return;
    }
    const controller = new AbortController();
    this.#lingering.add(controller);
    const timer = setTimeout(() => controller.abort(), LINGER_MS);
    this.track(
      loop.close(token, { flush: true, signal: controller.signal }).finally(
        () => {
          clearTimeout(timer);
          this.#lingering.delete(controller);
        },
      ),
    );
  }

  /** Cuts short every bounded flush of a closing connection. */
  abortLingering(): void {
    for (const controller of this.#lingering) controller.abort();
  }

  /** Resolves when every close started so far has finished. */
  async settled(): Promise<void> {
    while (this.#closing > 0) {
      await new Promise<void>((resolve) => this.#settledWaiters.push(resolve));
    }
  }
}
