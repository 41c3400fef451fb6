import { formatValue } from "../_internal/format.ts";

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
   * (a positive number). Without it the timer fires once.
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

  /** Constructs a timer that fires `delayMs` milliseconds after it is registered. */
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
  /** Cancels the timer; idempotent. */
  cancel(): void;
}

/** Throws unless `delayMs` is a finite non-negative number. */
export function assertDelay(delayMs: unknown, action: string): void {
  if (
    typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0
  ) {
    throw new RangeError(
      `Cannot ${action} as 'delayMs' must be a non-negative finite number: received ${
        formatValue(delayMs)
      }`,
    );
  }
}

/** Throws unless `intervalMs` is a finite positive number. */
export function assertInterval(intervalMs: unknown, action: string): void {
  if (
    typeof intervalMs !== "number" || !Number.isFinite(intervalMs) ||
    intervalMs <= 0
  ) {
    throw new RangeError(
      `Cannot ${action} as 'intervalMs' must be a positive finite number: received ${
        formatValue(intervalMs)
      }`,
    );
  }
}
