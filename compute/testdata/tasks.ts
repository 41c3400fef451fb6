// Task module used by the compute tests, doc examples and benchmarks.
import type { TaskContext } from "../types.ts";
import { workerData } from "../worker_data.ts";

/** Adds two numbers. */
export function add([a, b]: [number, number]): number {
  return a + b;
}

/** Returns its input unchanged (any structured-cloneable value). */
export function echo(input: unknown): unknown {
  return input;
}

/** Does nothing: measures dispatch overhead. */
export function noop(input: number): number {
  return input;
}

/** Busy-waits `ms` milliseconds of CPU, then returns `ms`. */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU
  }
  return ms;
}

/**
 * Busy-waits `ms` milliseconds of CPU, then returns when it started (ms since
 * the Unix epoch, comparable across threads).
 */
export function busyStartedAt(ms: number): number {
  const startedAt = performance.timeOrigin + performance.now();
  busy(ms);
  return startedAt;
}

/** Iterated SHA-like mixing of bytes, for CPU-bound work of a known size. */
export function spin(iterations: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < iterations; i++) {
    h = Math.imul(h ^ i, 0x01000193) >>> 0;
  }
  return h;
}

/** Loops until cancelled or `ms` pass; returns whether it was cancelled. */
export function spinUntilCancelled(ms: number, ctx: TaskContext): boolean {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (ctx.cancelled()) return true;
  }
  return false;
}

/** Loops until `ms` pass; throws the reason once cancelled. */
export function spinThrowing(ms: number, ctx: TaskContext): string {
  const end = performance.now() + ms;
  while (performance.now() < end) ctx.throwIfCancelled();
  return "done";
}

/** Waits `ms` asynchronously; rejects with the reason when ctx.signal aborts. */
export function sleep(ms: number, ctx: TaskContext): Promise<string> {
  return new Promise((resolve, reject) => {
    const signal = ctx.signal;
    const timer = setTimeout(() => resolve("slept"), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Resolves when ctx.signal aborts, with the abort reason's name. */
export function waitForAbort(_: unknown, ctx: TaskContext): Promise<string> {
  return new Promise((resolve) => {
    const signal = ctx.signal;
    const timer = setTimeout(() => resolve("not aborted"), 10_000);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve((signal.reason as Error).name);
    }, { once: true });
  });
}

/** A custom error class. */
export class ParseError extends Error {
  /** Constructs it. */
  constructor(message: string) {
    super(message);
    this.name = "ParseError";
  }
}

/** Throws a ParseError with `message`. */
export function fail(message: string): never {
  throw new ParseError(message);
}

/** Rejects asynchronously with a TypeError. */
export async function failAsync(message: string): Promise<never> {
  await Promise.resolve();
  throw new TypeError(message);
}

/** Kills its worker with an uncaught error thrown from a timer. */
export function crash(message: string): Promise<never> {
  setTimeout(() => {
    throw new Error(message);
  }, 0);
  return new Promise(() => {});
}

/** Kills its worker with an unhandled promise rejection. */
export function crashRejection(message: string): Promise<never> {
  Promise.reject(new RangeError(message));
  return new Promise(() => {});
}

/** Returns a value that cannot be cloned. */
export function unclonable(): unknown {
  return () => 1;
}

/** Returns `n` bytes counting up, moved (transferred) rather than copied. */
export function bytes(n: number, ctx: TaskContext): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = i & 0xff;
  if (n > 1024) ctx.transfer(out.buffer);
  return out;
}

/** Sums the bytes of a Uint8Array or ArrayBuffer. */
export function sumBytes(input: Uint8Array | ArrayBuffer): number {
  const view = input instanceof Uint8Array ? input : new Uint8Array(input);
  let sum = 0;
  for (const b of view) sum += b;
  return sum;
}

/** Length in bytes of a Uint8Array, ArrayBuffer or string (UTF-16 units). */
export function size(input: Uint8Array | ArrayBuffer | string): number {
  return typeof input === "string" ? input.length : input.byteLength;
}

/** Returns "fine", or with `true` kills its worker from a timer while it awaits. */
export function maybeCrash(crash: boolean): string | Promise<never> {
  if (!crash) return "fine";
  setTimeout(() => {
    throw new Error("crashed on purpose");
  }, 0);
  return new Promise(() => {});
}

/** Adds one to slot 0 of a shared counter: shows the main thread a task ran. */
export function countRun(counter: Int32Array): number {
  return Atomics.add(counter, 0, 1) + 1;
}

/** Reports progress 1..n with `ctx.progress`, then returns `n`. */
export function countTo(n: number, ctx: TaskContext): number {
  for (let i = 1; i <= n; i++) ctx.progress(i);
  return n;
}

/**
 * Counts itself in `state[0]` (tasks in flight; the most seen goes to
 * `state[1]`), then waits (asynchronously, at most `state[3]` ms, or 5 s)
 * until `state[2]` tasks are in flight at once; returns how many were.
 */
export async function concurrencyProbe(state: Int32Array): Promise<number> {
  const inFlight = Atomics.add(state, 0, 1) + 1;
  let max = Atomics.load(state, 1);
  while (inFlight > max) {
    const seen = Atomics.compareExchange(state, 1, max, inFlight);
    if (seen === max) break;
    max = seen;
  }
  const end = performance.now() + (Atomics.load(state, 3) || 5000);
  while (
    Atomics.load(state, 1) < Atomics.load(state, 2) && performance.now() < end
  ) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  Atomics.sub(state, 0, 1);
  return Atomics.load(state, 1);
}

/** Returns the pool's `workerData` as the task context and the getter see it. */
export function readWorkerData(_: unknown, ctx: TaskContext): unknown[] {
  return [ctx.workerData, workerData()];
}
