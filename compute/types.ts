// Public types of ComputePool: options, the task context, typed task
// inputs and results, metrics.
import type { HistogramSummary } from "./_histogram.ts";
import type { TaskPriority } from "./task_priority.ts";
// For the links in the docs.
// deno-lint-ignore no-unused-vars
import type { ComputePool } from "./compute_pool.ts";
// deno-lint-ignore no-unused-vars
import type { workerData } from "./worker_data.ts";

export type { HistogramSummary } from "./_histogram.ts";

/**
 * Options for {@linkcode ComputePool}.
 *
 * @example Usage
 * ```ts
 * import { ComputePool, type ComputePoolOptions } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ComputePoolOptions = { workers: 1, maxQueue: 100, agingMs: 500, taskTimeoutMs: 10_000 };
 * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), options);
 * assertEquals(pool.size, 1);
 * ```
 */
export interface ComputePoolOptions {
  /**
   * Number of workers, spawned up front: sets both `minWorkers` and
   * `maxWorkers` (a fixed-size pool).
   *
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
  /**
   * Workers kept alive even when idle, spawned up front (a spawn costs about
   * 16 ms, so keep enough for the usual load).
   *
   * @default {workers, or 1 when only maxWorkers is given}
   */
  minWorkers?: number;
  /**
   * Most workers: the pool spawns more, up to this, while tasks wait and
   * every worker is busy, and retires the extra ones after `idleTimeoutMs`
   * without work.
   *
   * @default {workers, or navigator.hardwareConcurrency}
   */
  maxWorkers?: number;
  /**
   * How long a worker beyond `minWorkers` may stay without work before the
   * pool retires it.
   *
   * @default {10000}
   */
  idleTimeoutMs?: number;
  /**
   * Most async tasks one worker runs at once: while a task awaits, its
   * worker takes the next one. 1 means an awaiting task holds its worker.
   * Synchronous tasks always run one at a time. At most 64.
   *
   * @default {1}
   */
  concurrentTasksPerWorker?: number;
  /**
   * A structured-cloneable value every worker gets a copy of: the task
   * module reads it with {@linkcode workerData} (also at its top level) or
   * as `ctx.workerData`. Deno workers share the process's environment
   * (`Deno.env` is process-wide): pass per-pool settings here.
   */
  workerData?: unknown;
  /**
   * Name of the pool's workers (`self.name` in the worker, and in
   * debuggers).
   *
   * @default {"compute"}
   */
  name?: string;
  /**
   * Most tasks that may wait in the queues (running ones not counted); beyond
   * it {@linkcode ComputePool.prototype.run} rejects with a `RangeError`.
   *
   * @default {Infinity}
   */
  maxQueue?: number;
  /**
   * How long a waiting task takes to climb one priority; `Infinity` turns
   * aging off.
   *
   * @default {1000}
   */
  agingMs?: number;
  /**
   * Default time limit of a task, from submission to result; see
   * {@linkcode TaskRunOptions.timeoutMs}.
   *
   * @default {Infinity}
   */
  taskTimeoutMs?: number;
  /**
   * How long a task may go on running after it was cancelled or timed out
   * before its worker counts as stuck: the pool then gives up on it, spawns
   * a replacement and counts it in `metrics().workersStuck`. Deno cannot
   * stop a worker busy in synchronous code; the stuck worker's thread runs
   * on until its task returns (then it exits), but no longer keeps the
   * process alive. `Infinity` turns the watch off.
   *
   * @default {10000}
   */
  stuckAfterMs?: number;
}

/**
 * Options for {@linkcode ComputePool.prototype.run}.
 *
 * @example Usage
 * ```ts
 * import { ComputePool, TaskPriority, type TaskRunOptions } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
 * const options: TaskRunOptions = { priority: TaskPriority.High, timeoutMs: 5_000 };
 * assertEquals(await pool.run("add", [2, 2], options), 4);
 * ```
 */
export interface TaskRunOptions {
  /**
   * Priority of the task.
   *
   * @default {TaskPriority.Normal}
   */
  priority?: TaskPriority;
  /**
   * Aborting removes a waiting task from the queue, or raises the cancel flag
   * of a running one ({@linkcode TaskContext}); the promise rejects at once
   * with the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Time limit from submission to result: the promise rejects with a
   * `TimeoutError` `DOMException` and the task is removed or cancelled like an
   * abort.
   *
   * @default {the pool's taskTimeoutMs}
   */
  timeoutMs?: number;
  /**
   * Called on the main thread with each value the task reports with
   * `ctx.progress(value)`, until the task settles.
   */
  onProgress?: (value: unknown) => void;
  /**
   * Buffers moved to the worker instead of copied. They are detached when a
   * worker claims the task (not at the call), so do not touch them after
   * `run`; the input then always travels by `postMessage`.
   */
  transfer?: Transferable[];
}

/**
 * The second argument of every task function, in the worker.
 *
 * `terminate()` cannot stop a busy worker in Deno, so long synchronous tasks
 * should check {@linkcode TaskContext.cancelled} to stop when cancelled or
 * timed out. An async task that is cancelled or times out no longer holds its
 * worker, but keeps running in it until it settles unless it stops on
 * `ctx.signal`.
 *
 * @example A long task that stops when cancelled
 * ```ts
 * import type { TaskContext } from "@millrace/io/compute";
 *
 * // An export of a task module; it runs as `pool.run("sumTo", n)`.
 * function sumTo(n: number, ctx: TaskContext): number {
 *   let sum = 0;
 *   for (let i = 1; i <= n; i++) {
 *     if (i % 65_536 === 0) ctx.throwIfCancelled();
 *     sum += i;
 *   }
 *   return sum;
 * }
 * ```
 */
export interface TaskContext {
  /** Identifier of the task in its pool. */
  readonly taskId: number;
  /**
   * Aborted when the task is cancelled or times out. Reading the property
   * refreshes it from shared memory; a synchronous loop should call
   * {@linkcode TaskContext.cancelled} instead of caching the signal.
   */
  readonly signal: AbortSignal;
  /**
   * Whether the task was cancelled or timed out (a read of shared memory,
   * cheap enough to call in a hot loop).
   *
   * @example A loop that stops when cancelled
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * // tasks.ts: export function spinUntilCancelled(ms, ctx) {
   * //   const end = performance.now() + ms;
   * //   while (performance.now() < end) if (ctx.cancelled()) return true;
   * //   return false;
   * // }
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const controller = new AbortController();
   * const running = pool.run("spinUntilCancelled", 60_000, { signal: controller.signal });
   * setTimeout(() => controller.abort(), 50);
   * assertEquals(await running.catch((e) => e.name), "AbortError");
   * ```
   *
   * @returns `true` once the task was cancelled or timed out.
   */
  cancelled(): boolean;
  /**
   * Throws the cancellation reason when {@linkcode TaskContext.cancelled}.
   *
   * @example A loop that throws when cancelled
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * // tasks.ts: export function spinThrowing(ms, ctx) {
   * //   const end = performance.now() + ms;
   * //   while (performance.now() < end) ctx.throwIfCancelled();
   * //   return "done";
   * // }
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const running = pool.run("spinThrowing", 60_000, { timeoutMs: 50 });
   * assertEquals(await running.catch((e) => e.name), "TimeoutError");
   * ```
   *
   * @throws {DOMException} `AbortError` or `TimeoutError` once cancelled.
   */
  throwIfCancelled(): void;
  /**
   * Moves these buffers with the result instead of copying them.
   *
   * @example Moving a large result
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * // tasks.ts: export function bytes(n, ctx) {
   * //   const out = new Uint8Array(n);
   * //   if (n > 1024) ctx.transfer(out.buffer);
   * //   return out;
   * // }
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const result = await pool.run("bytes", 1 << 20) as Uint8Array;
   * assertEquals(result.length, 1 << 20);
   * ```
   *
   * @param buffers The buffers (e.g. a result's `ArrayBuffer`) to move.
   */
  transfer(...buffers: Transferable[]): void;
  /**
   * Reports progress: the value (structured-cloneable) goes to the
   * `onProgress` callback of {@linkcode ComputePool.prototype.run}, in
   * order, before the result. Best effort: a value that cannot be cloned is
   * dropped, and nothing is sent once the task settled or was cancelled.
   *
   * @example A progress bar
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * // tasks.ts: export function countTo(n, ctx) {
   * //   for (let i = 1; i <= n; i++) ctx.progress(i);
   * //   return n;
   * // }
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const seen: unknown[] = [];
   * assertEquals(await pool.run("countTo", 3, { onProgress: (v) => seen.push(v) }), 3);
   * assertEquals(seen, [1, 2, 3]);
   * ```
   *
   * @param value What to report (structured-cloneable).
   */
  progress(value: unknown): void;
  /** The pool's `workerData` (see {@linkcode ComputePoolOptions.workerData}). */
  readonly workerData: unknown;
}

/**
 * Input type of a task function.
 *
 * @example Usage
 * ```ts
 * import type { TaskInput } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * function scale(input: { xs: number[]; k: number }): number[] {
 *   return input.xs.map((x) => x * input.k);
 * }
 * const input: TaskInput<typeof scale> = { xs: [1, 2], k: 3 };
 * assertEquals(scale(input), [3, 6]);
 * ```
 */
export type TaskInput<F> = F extends
  (input: infer I, ctx: TaskContext) => unknown ? I
  : unknown;
/**
 * Result type of a task function.
 *
 * @example Usage
 * ```ts
 * import type { TaskResult } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * async function wordCount(text: string): Promise<number> {
 *   return await Promise.resolve(text.split(/\s+/).length);
 * }
 * const result: TaskResult<typeof wordCount> = await wordCount("to be or not"); // number, not a Promise
 * assertEquals(result, 4);
 * ```
 */
export type TaskResult<F> = F extends (...args: never[]) => infer R ? Awaited<R>
  : unknown;

/**
 * Waiting tasks per priority.
 *
 * @example Usage
 * ```ts
 * import type { QueueDepth } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * // e.g. waiting(pool.metrics().queueDepth)
 * const waiting = (depth: QueueDepth): number => depth.critical + depth.high + depth.normal + depth.low;
 * assertEquals(waiting({ critical: 0, high: 1, normal: 5, low: 2 }), 8);
 * ```
 */
export interface QueueDepth {
  /** Waiting critical tasks. */
  readonly critical: number;
  /** Waiting high tasks. */
  readonly high: number;
  /** Waiting normal tasks. */
  readonly normal: number;
  /** Waiting low tasks. */
  readonly low: number;
}

/**
 * Counters and timings of a {@linkcode ComputePool}.
 *
 * @example Usage
 * ```ts
 * import { ComputePool, type ComputePoolMetrics } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
 * await pool.run("add", [1, 2]);
 * const metrics: ComputePoolMetrics = pool.metrics();
 * assertEquals(metrics.tasksCompleted, 1);
 * assertEquals(metrics.runTime.count, 1);
 * ```
 */
export interface ComputePoolMetrics {
  /** Tasks accepted by `run`. */
  readonly tasksSubmitted: number;
  /** Tasks that returned a result. */
  readonly tasksCompleted: number;
  /** Tasks that threw, or whose worker died. */
  readonly tasksFailed: number;
  /** Tasks aborted, timed out or rejected by `terminate()`. */
  readonly tasksCancelled: number;
  /** Workers alive. */
  readonly activeWorkers: number;
  /** Workers spawned beyond the first ones (elastic growth). */
  readonly workersSpawned: number;
  /** Workers retired after `idleTimeoutMs` without work. */
  readonly workersRetired: number;
  /** Workers running a task right now. */
  readonly busyWorkers: number;
  /** Workers that died or got stuck, and were replaced. */
  readonly workersReplaced: number;
  /**
   * Workers given up on as stuck: a task went on running `stuckAfterMs`
   * after its cancel or timeout (see {@linkcode ComputePoolOptions.stuckAfterMs}).
   */
  readonly workersStuck: number;
  /** Tasks waiting, per priority. */
  readonly queueDepth: QueueDepth;
  /** Sum of the run times of finished tasks, in milliseconds. */
  readonly totalExecutionTimeMs: number;
  /** Run time of tasks (in the worker), in milliseconds. */
  readonly runTime: HistogramSummary;
  /** Time from submission to start, in milliseconds. */
  readonly waitTime: HistogramSummary;
  /** Share of worker time spent running tasks since the pool started (0..1). */
  readonly utilization: number;
}

/**
 * Options for {@linkcode ComputePool.prototype.whenCapacity}.
 *
 * @example Pacing a producer instead of handling `RangeError`s
 * ```ts
 * import { ComputePool, type WhenCapacityOptions } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1, maxQueue: 2 });
 * const options: WhenCapacityOptions = { signal: AbortSignal.timeout(5_000) };
 * const results = [];
 * for (let i = 0; i < 6; i++) {
 *   await pool.whenCapacity(options);
 *   results.push(pool.run("add", [i, 1]));
 * }
 * assertEquals(await Promise.all(results), [1, 2, 3, 4, 5, 6]);
 * ```
 */
export interface WhenCapacityOptions {
  /** Stops waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode ComputePool.prototype.close}.
 *
 * @example Draining with a deadline
 * ```ts
 * import { ComputePool, type ComputePoolCloseOptions } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
 * assertEquals(await pool.run("add", [1, 2]), 3);
 * // A task that only stops when cancelled: close() gives it 200 ms.
 * const slow = pool.run("spinUntilCancelled", 60_000).catch((e) => e.name);
 * const options: ComputePoolCloseOptions = { timeoutMs: 200 };
 * await pool.close(options);
 * assertEquals(await slow, "TimeoutError");
 * ```
 */
export interface ComputePoolCloseOptions {
  /**
   * How long to let accepted tasks finish; then the rest are cancelled
   * (rejected with a `TimeoutError` `DOMException`, their cancel flags
   * raised) and the workers stopped.
   *
   * @default {Infinity}
   */
  timeoutMs?: number;
  /**
   * Reject every task at once and stop the workers, like
   * {@linkcode ComputePool.prototype.terminate}.
   *
   * @default {false}
   */
  force?: boolean;
}
