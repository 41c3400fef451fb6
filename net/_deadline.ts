// One total deadline (and any number of abort signals) shared by every wait of
// one call: `readExact` over many reads, `accept` over retries and back-off
// sleeps. The timer is created lazily, so calls served from a buffer never
// touch the timer queue.
import {
  validateDelay,
  validateSignal as validateAbortSignal,
} from "../_internal/validate.ts";
import { CancelledError, TimedOutError } from "./errors.ts";

/**
 * Checks a `timeoutMs` option: `undefined` or `Infinity` (no deadline) or
 * milliseconds from 0 to 2 ** 31 - 1 (what remains of a deadline may be
 * fractional).
 */
export function validateTimeout(
  action: string,
  name: string,
  value: unknown,
): void {
  if (value === undefined) return;
  validateDelay(action, name, value, { allowInfinity: true });
}

/** Checks that an `AbortSignal` option is one. */
export function validateSignal(action: string, value: unknown): void {
  validateAbortSignal(action, "signal", value);
}

const noop = (): void => {};

/**
 * One timer for all the deadlines of an owner (a stream, a listener). Arming
 * and clearing a timer per call costs more than a loopback round trip's share,
 * so the timer is left armed when a call finishes: back-to-back calls with the
 * same timeout find it already armed for an earlier time and do nothing. When
 * it fires, it expires what is due and re-arms for the earliest deadline left,
 * if any. It is unref'ed (an idle stream does not keep the process alive) and
 * cleared by the owner's `close()`, so no timer outlives the owner.
 */
export class DeadlineTimer implements Disposable {
  #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at = Infinity;
  #disposed = false;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;

  /**
   * @param signal The owner's scope signal (a `Canceller`'s): one listener for
   * the owner's lifetime instead of one per call.
   */
  constructor(signal?: AbortSignal) {
    this.#signal = signal;
    if (signal && !signal.aborted) {
      this.#onAbort = () => {
        for (const deadline of this.#pending) deadline.cancel(signal);
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The owner's scope signal, if any. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /** Starts watching `deadline`. */
  add(deadline: Deadline, end: number): void {
    if (this.#disposed) return;
    this.#pending.add(deadline);
    if (end < this.#at) this.#arm(end);
  }

  /** Stops watching `deadline` (the timer stays armed). */
  delete(deadline: Deadline): void {
    this.#pending.delete(deadline);
  }

  /** Clears the timer; deadlines still watched never expire. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#pending.clear();
    this.#clear();
    if (this.#onAbort) {
      this.#signal?.removeEventListener("abort", this.#onAbort);
    }
  }

  #arm(at: number): void {
    this.#clear();
    this.#at = at;
    this.#timer = setTimeout(
      () => this.#fire(),
      Math.max(0, at - performance.now()),
    );
    Deno.unrefTimer(Number(this.#timer));
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#at = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const deadline of this.#pending) {
      const end = deadline.end;
      if (end <= now) {
        this.#pending.delete(deadline);
        deadline.expire();
      } else if (end < next) {
        next = end;
      }
    }
    if (next !== Infinity && !this.#disposed) this.#arm(next);
  }
}

/** A deadline plus abort signals, turned into `TimedOutError`/`CancelledError`. */
export class Deadline implements Disposable {
  readonly #action: string;
  readonly #timeoutMs: number | undefined;
  readonly #end: number;
  readonly #signals: AbortSignal[];
  #gate: Promise<never> | undefined;
  #reject: ((error: Error) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: (() => void) | undefined;
  #disposed = false;
  readonly #owner: DeadlineTimer | undefined;

  /**
   * @param action What is being done, for messages: "read", "accept", ...
   * @param timeoutMs Total time for the call; `undefined`/`Infinity`: none.
   * @param signals Signals that cancel the call (undefined entries ignored).
   * @param owner The shared timer to use instead of a timer of its own.
   */
  constructor(
    action: string,
    timeoutMs: number | undefined,
    signals: readonly (AbortSignal | undefined)[],
    owner?: DeadlineTimer,
  ) {
    this.#owner = owner;
    this.#action = action;
    this.#timeoutMs = timeoutMs === Infinity ? undefined : timeoutMs;
    this.#end = this.#timeoutMs === undefined
      ? Infinity
      : performance.now() + this.#timeoutMs;
    this.#signals = signals.filter((signal): signal is AbortSignal =>
      signal !== undefined
    );
  }

  /** The deadline on the `performance.now()` clock; `Infinity` without one. */
  get end(): number {
    return this.#end;
  }

  /** Rejects the pending wait with `TimedOutError` (called by the owner's timer). */
  expire(): void {
    this.#reject?.(this.#timedOut());
  }

  /** Rejects the pending wait with `CancelledError` (called by the owner). */
  cancel(signal: AbortSignal): void {
    this.#reject?.(this.#cancelled(signal));
  }

  /** Milliseconds left; `Infinity` without a deadline. */
  get remainingMs(): number {
    return Math.max(0, this.#end - performance.now());
  }

  /**
   * Throws `CancelledError` if a signal aborted. An expired deadline is not
   * checked here: what needs no waiting (buffered bytes) is still served.
   */
  throwIfAborted(): void {
    const error = this.#cancellation();
    if (error) throw error;
  }

  /** Settles like `promise` unless the deadline passes or a signal aborts first. */
  race<T>(promise: Promise<T>): Promise<T> {
    // Cancellation fails at once. An expired deadline does not: it rejects
    // from a timer, so that the event loop turns first. Otherwise a caller
    // retrying with `timeoutMs: 0` would spin in microtasks and starve the very
    // read it waits for; this way a zero timeout also takes what is ready now.
    const error = this.#cancellation();
    if (error) return Promise.reject(error);
    return Promise.race([promise, this.#ensureGate()]);
  }

  /** Sleeps `ms` unless the deadline passes or a signal aborts first. */
  async sleep(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.race(
        new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Clears the timer and the abort listeners. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#owner?.delete(this);
    if (this.#onAbort) {
      for (const signal of this.#signals) {
        signal.removeEventListener("abort", this.#onAbort);
      }
    }
  }

  #cancellation(): Error | undefined {
    for (const signal of this.#signals) {
      if (signal.aborted) return this.#cancelled(signal);
    }
    const scope = this.#owner?.signal;
    if (scope?.aborted) return this.#cancelled(scope);
    return undefined;
  }

  #cancelled(signal: AbortSignal): CancelledError {
    return new CancelledError(
      `Cannot ${this.#action} as the operation was cancelled`,
      { cause: signal.reason },
    );
  }

  #timedOut(): TimedOutError {
    return new TimedOutError(
      `Cannot ${this.#action} as the deadline passed: 'timeoutMs' was ${this.#timeoutMs}`,
    );
  }

  #ensureGate(): Promise<never> {
    if (this.#gate) return this.#gate;
    this.#gate = new Promise<never>((_, reject) => this.#reject = reject);
    // Nobody may be racing when it rejects (the call already returned).
    this.#gate.catch(noop);
    if (this.#disposed) return this.#gate;
    if (this.#owner) {
      this.#owner.add(this, this.#end);
    } else if (this.#end !== Infinity) {
      this.#timer = setTimeout(
        () => this.#reject?.(this.#timedOut()),
        Math.max(0, this.#end - performance.now()),
      );
    }
    if (this.#signals.length > 0) {
      this.#onAbort = () => {
        const signal = this.#signals.find((s) => s.aborted);
        if (signal) this.#reject?.(this.#cancelled(signal));
      };
      for (const signal of this.#signals) {
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
    return this.#gate;
  }
}
