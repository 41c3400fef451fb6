// Task module of tests/compute_hostile_tasks_test.ts and
// tests/compute_task_lifecycle_test.ts: tasks that misbehave.
import type { TaskContext } from "../../compute/types.ts";

/** Throws `null`. */
export function throwNull(): never {
  throw null;
}

/** Throws an object String() cannot convert. */
export function throwBare(): never {
  throw Object.create(null);
}

/** Throws an object whose toString throws. */
export function throwToString(): never {
  throw {
    toString() {
      throw new Error("toString throws");
    },
  };
}

/** Throws an Error whose message getter throws. */
export function throwGetter(): never {
  const error = new Error("x");
  Object.defineProperty(error, "message", {
    get() {
      throw new Error("message getter throws");
    },
  });
  throw error;
}

/** Rejects with `null`. */
export function rejectNull(): Promise<never> {
  return Promise.reject(null);
}

/** Returns a function deep inside a plain object. */
export function returnDeepFunction(): unknown {
  return { deep: [1, { f: () => 1 }] };
}

/** Returns an object whose getter throws during cloning. */
export function returnThrowingGetter(): unknown {
  return {
    get x() {
      throw new Error("getter throws while cloned");
    },
  };
}

/** Returns a symbol. */
export function returnSymbol(): unknown {
  return Symbol("not cloneable");
}

/** Never settles. */
export function hang(): Promise<never> {
  return new Promise(() => {});
}

/** Burns CPU for `ms`, ignoring cancellation. */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // ignore ctx on purpose
  }
  return ms;
}

/** Returns `n` bytes with a pattern. */
export function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + (i >> 10)) & 0xff;
  return out;
}

/** Returns its input. */
export function echo(input: unknown): unknown {
  return input;
}

/** Half of the inputs throw. */
export function oddThrows(n: number): number {
  if (n % 2 === 1) throw new RangeError(`odd ${n}`);
  return n;
}

/** Calls ctx.transfer with things that are not buffers. */
export function badTransfer(_: unknown, ctx: TaskContext): number {
  ctx.transfer(42 as unknown as ArrayBuffer, null as unknown as ArrayBuffer);
  return 1;
}

/** Closes its own worker (`self.close()`) mid-task. */
export function closeWorker(): number {
  (globalThis as unknown as { close(): void }).close();
  return 1;
}

/** Exits its own worker with `Deno.exit()` mid-task. */
export function exitWorker(): number {
  Deno.exit(3);
}

/** Never settles on its own; rejects when the task is cancelled. */
export function hangUntilAborted(_: unknown, ctx: TaskContext): Promise<never> {
  return new Promise((_, reject) => {
    ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), {
      once: true,
    });
  });
}

/** Resolves with `ms` after `ms`, ignoring cancellation. */
export function resolveLater(ms: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(ms), ms));
}

/** Rejects after `ms`, ignoring cancellation. */
export function rejectLater(ms: number): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`rejected after ${ms} ms`)), ms)
  );
}

/** Closes its own worker (`self.close()`) after an await. */
export async function closeWorkerLater(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  (globalThis as unknown as { close(): void }).close();
  return 1;
}

/** Returns at once, then exits its worker from a timer, outside any task. */
export function exitWorkerSoon(ms: number): number {
  setTimeout(() => Deno.exit(0), ms);
  return ms;
}

/**
 * Shows whether a raised cancel flag stays raised: records its task id in
 * `state[0]`, spins until cancelled, sets `state[1] = 1`, then watches the
 * flag until `state[2]` is set; `state[1] = 2` when `ctx.cancelled()` turned
 * back to false. Sets `state[4] = 1` when it returns. Bounded to 30 s.
 */
export function watchCancelFlag(state: Int32Array, ctx: TaskContext): number {
  const end = performance.now() + 30_000;
  Atomics.store(state, 0, ctx.taskId);
  while (!ctx.cancelled() && performance.now() < end) {
    // wait for the cancel
  }
  Atomics.store(state, 1, 1);
  while (Atomics.load(state, 2) === 0 && performance.now() < end) {
    if (!ctx.cancelled()) {
      Atomics.store(state, 1, 2);
      break;
    }
  }
  Atomics.store(state, 4, 1);
  return 0;
}

/** Records its task id in `state[3]`, then waits until cancelled. */
export function recordIdAndHang(
  state: Int32Array,
  ctx: TaskContext,
): Promise<never> {
  Atomics.store(state, 3, ctx.taskId);
  return hangUntilAborted(undefined, ctx);
}

/** A custom error class (only its name can cross a thread). */
export class QuotaError extends Error {
  /** Builds it with a `limit` property. */
  constructor(message: string, readonly limit: number) {
    super(message);
    this.name = "QuotaError";
  }
}

/** Throws errors that carry more than a message. */
export function throwRich(kind: string): Promise<never> | never {
  switch (kind) {
    case "type": {
      const error = new TypeError("bad type", {
        cause: new RangeError("inner cause"),
      });
      Object.assign(error, { code: "E_BAD", detail: { field: "x" } });
      throw error;
    }
    case "aggregate":
      throw new AggregateError(
        [new SyntaxError("first"), { plain: true }],
        "several",
      );
    case "custom":
      throw new QuotaError("over quota", 10);
    case "async":
      return Promise.reject(
        Object.assign(new RangeError("async range"), { code: 7 }),
      );
    default:
      throw new DOMException("aborted inside", "AbortError");
  }
}

const startLog: [number, number][] = [];

/**
 * The `slowEcho` tasks this worker started, in order (cleared): their ids
 * and start times (ms since the Unix epoch, comparable across threads).
 */
export function takeStartLog(): [number, number][] {
  return startLog.splice(0);
}

/**
 * Burns some milliseconds, then returns its input: a number is the time, a
 * Uint8Array's first byte, a string's first character (a digit), an object's
 * `ms` property.
 */
export function slowEcho(input: unknown, ctx: TaskContext): unknown {
  startLog.push([ctx.taskId, performance.timeOrigin + performance.now()]);
  let ms = 0;
  if (typeof input === "number") ms = input;
  else if (input instanceof Uint8Array) ms = input[0] ?? 0;
  else if (typeof input === "string") ms = Number(input[0] ?? 0);
  else if (input !== null && typeof input === "object") {
    ms = (input as { ms?: number }).ms ?? 0;
  }
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU
  }
  return input;
}

/** Never returns and never looks at its cancel flag. */
export function spinForever(): never {
  while (true) {
    // stuck for good
  }
}
