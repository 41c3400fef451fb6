import { validateDelay, validateMilliseconds } from "../_internal/validate.ts";

/**
 * Options for {@linkcode Timer} and `EventLoop.addTimer()`.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, type TimerOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const options: TimerOptions = { intervalMs: 1 };
 * let calls = 0;
 * loop.addTimer(1, () => {
 *   if (++calls === 3) loop.stop();
 * }, options);
 * await loop.run();
 * assertEquals(calls, 3);
 * ```
 */
export interface TimerOptions {
  /**
   * Fire again every `intervalMs` milliseconds after the first expiry
   * (whole ms from 1 to 2 ** 31 - 1). Without it the timer fires once.
   *
   * @default {undefined}
   */
  intervalMs?: number;
}

/**
 * A timer source: registered with `EventLoop.register()`, it delivers a
 * readable event per expiry under its token. A one-shot timer is deregistered
 * after its event (the event has `closed: true`); a repeating one stays until
 * deregistered. Expiries that pile up while READABLE interest is removed
 * coalesce into one event.
 *
 * @example A repeating timer as a source
 * ```ts
 * import { EventLoop, Interest, Timer } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * let ticks = 0;
 * loop.register(new Timer(1, { intervalMs: 1 }), 7, Interest.READABLE, (event, loop) => {
 *   if (++ticks === 3) loop.stop();
 * });
 * await loop.run();
 * assertEquals(ticks, 3);
 * ```
 */
export class Timer {
  /** Milliseconds from registration to the first expiry. */
  readonly delayMs: number;
  /** Milliseconds between later expiries, or `undefined` for one shot. */
  readonly intervalMs: number | undefined;

  /**
   * Constructs a timer that fires `delayMs` milliseconds after it is
   * registered.
   *
   * @example Usage
   * ```ts
   * import { Timer } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const timer = new Timer(50, { intervalMs: 1_000 });
   * assertEquals([timer.delayMs, timer.intervalMs], [50, 1_000]);
   * ```
   *
   * @param delayMs Milliseconds from 0 to 2 ** 31 - 1 (fractions allowed).
   * @param options The repeat interval.
   * @throws {TypeError} If `delayMs` or `intervalMs` is not a number.
   * @throws {RangeError} If one is out of range (or `intervalMs` fractional).
   */
  constructor(delayMs: number, options: TimerOptions = {}) {
    assertDelay(delayMs, "create timer");
    const { intervalMs } = options;
    if (intervalMs !== undefined) assertInterval(intervalMs, "create timer");
    this.delayMs = delayMs;
    this.intervalMs = intervalMs;
  }
}

/**
 * A callback timer returned by `EventLoop.addTimer()`.
 *
 * @example Cancelling
 * ```ts
 * import { EventLoop } from "@millrace/io/reactor";
 * import { assertFalse } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const handle = loop.addTimer(1000, () => {});
 * handle.cancel();
 * assertFalse(handle.active);
 * ```
 */
export interface TimerHandle extends Disposable {
  /** Whether the timer will still fire. */
  readonly active: boolean;
  /**
   * Cancels the timer; idempotent.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertFalse } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * const handle = loop.addTimer(1_000, () => {});
   * handle.cancel();
   * handle.cancel(); // no-op
   * assertFalse(handle.active);
   * ```
   */
  cancel(): void;
}

/** Throws unless `delayMs` is milliseconds from 0 to 2 ** 31 - 1. */
export function assertDelay(delayMs: unknown, action: string): void {
  validateDelay(action, "delayMs", delayMs);
}

/** Throws unless `intervalMs` is whole milliseconds from 1 to 2 ** 31 - 1. */
export function assertInterval(intervalMs: unknown, action: string): void {
  validateMilliseconds(action, "intervalMs", intervalMs, { min: 1 });
}
