// One total deadline (and any number of abort signals) shared by every wait of
// one call: `readExact` over many reads, `accept` over retries and back-off
// sleeps. The timer is created lazily, so calls served from a buffer never
// touch the timer queue.
import { CancelledError, TimedOutError } from "./errors.ts";

/**
 * Checks a `timeoutMs` option: `undefined` (no deadline), `Infinity` (no
 * deadline) or a non-negative number.
 */
export function validateTimeout(
  action: string,
  name: string,
  value: unknown,
): void {
  if (value === undefined) return;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be a number: received ${
        describeValue(value)
      }`,
    );
  }
  if (!(value >= 0)) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be a non-negative number: received ${value}`,
    );
  }
}

/** Checks that an `AbortSignal` option is one. */
export function validateSignal(action: string, value: unknown): void {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot ${action} as 'signal' must be an AbortSignal: received ${
        describeValue(value)
      }`,
    );
  }
}

/** A short, quoted description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) {
    return `a Uint8Array of ${value.length} bytes`;
  }
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

const noop = (): void => {};

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

  /**
   * @param action What is being done, for messages: "read", "accept", ...
   * @param timeoutMs Total time for the call; `undefined`/`Infinity`: none.
   * @param signals Signals that cancel the call (undefined entries ignored).
   */
  constructor(
    action: string,
    timeoutMs: number | undefined,
    signals: readonly (AbortSignal | undefined)[],
  ) {
    this.#action = action;
    this.#timeoutMs = timeoutMs === Infinity ? undefined : timeoutMs;
    this.#end = this.#timeoutMs === undefined
      ? Infinity
      : performance.now() + this.#timeoutMs;
    this.#signals = signals.filter((signal): signal is AbortSignal =>
      signal !== undefined
    );
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
    for (const signal of this.#signals) {
      if (signal.aborted) throw this.#cancelled(signal);
    }
  }

  /** Settles like `promise` unless the deadline passes or a signal aborts first. */
  race<T>(promise: Promise<T>): Promise<T> {
    const error = this.#failure();
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
    if (this.#onAbort) {
      for (const signal of this.#signals) {
        signal.removeEventListener("abort", this.#onAbort);
      }
    }
  }

  #failure(): Error | undefined {
    for (const signal of this.#signals) {
      if (signal.aborted) return this.#cancelled(signal);
    }
    if (performance.now() >= this.#end) return this.#timedOut();
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
    if (this.#end !== Infinity) {
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
