// Local stand-in for `jsr:@std/testing@^1/time` (JSR is not reachable here),
// backed by `@sinonjs/fake-timers`, with std's names and signatures.
import FakeTimers from "@sinonjs/fake-timers";

/** Thrown when the time is already faked or not faked. */
export class TimeError extends Error {
  /** Constructs a new instance. */
  constructor(message: string) {
    super(message);
    this.name = "TimeError";
  }
}

/** Options for {@linkcode FakeTime}. */
export interface FakeTimeOptions {
  /** Not supported by this shim; present for signature compatibility. */
  advanceRate?: number;
  /** Not supported by this shim; present for signature compatibility. */
  advanceFrequency?: number;
}

let active: FakeTime | undefined;

/** Overrides the real Date, timers and `performance.now` for testing. */
export class FakeTime implements Disposable {
  #clock: ReturnType<typeof FakeTimers.install>;

  /** Constructs a new instance, starting at `start` (default: now). */
  constructor(
    start?: number | string | Date | null,
    _options?: FakeTimeOptions,
  ) {
    if (active) throw new TimeError("Time is already faked");
    const now = start == null ? Date.now() : new Date(start).getTime();
    this.#clock = FakeTimers.install({
      now,
      toFake: [
        "setTimeout",
        "clearTimeout",
        "setInterval",
        "clearInterval",
        "Date",
        "performance",
      ],
      shouldClearNativeTimers: true,
    });
    active = this;
  }

  /** The current fake time in milliseconds since the epoch. */
  get now(): number {
    return this.#clock.now;
  }
  set now(value: number) {
    if (value < this.#clock.now) throw new Error("Time cannot go backwards");
    this.#clock.tick(value - this.#clock.now);
  }

  /** Advances time by `ms`, firing due timers. */
  tick(ms = 0): void {
    this.#clock.tick(ms);
  }
  /** Advances time by `ms`, running microtasks between timers. */
  async tickAsync(ms = 0): Promise<void> {
    await this.#clock.tickAsync(ms);
  }
  /** Runs all pending microtasks. */
  async runMicrotasks(): Promise<void> {
    await this.#clock.tickAsync(0);
  }
  /** Advances to the next timer and fires it; returns false if none. */
  next(): boolean {
    const before = this.#clock.countTimers();
    if (before === 0) return false;
    this.#clock.next();
    return true;
  }
  /** Async variant of {@linkcode FakeTime.next}. */
  async nextAsync(): Promise<boolean> {
    if (this.#clock.countTimers() === 0) return false;
    await this.#clock.nextAsync();
    return true;
  }
  /** Runs all timers until none remain. */
  runAll(): void {
    this.#clock.runAll();
  }
  /** Async variant of {@linkcode FakeTime.runAll}. */
  async runAllAsync(): Promise<void> {
    await this.#clock.runAllAsync();
  }
  /** Restores the real timers. */
  restore(): void {
    this.#clock.uninstall();
    active = undefined;
  }
  /** Restores the real timers. */
  [Symbol.dispose](): void {
    this.restore();
  }
}
