import {
  ARENA_BYTES,
  ARENA_HEAD,
  ARENA_MAX_ITEM,
  CANCEL_ABORT,
  CANCEL_TIMEOUT,
  CANCELLED,
  D_ID,
  D_KIND,
  D_LEN,
  D_NUM,
  D_RUN,
  D_START,
  decodeInline,
  DONE_BYTES,
  DONE_INLINE_OFFSET,
  DONE_SEQ,
  DONE_SLOTS,
  EMPTY,
  encodeInline,
  F_AGING_MS,
  HEAD,
  type InitMessage,
  K_ARENA_BUFFER,
  K_ARENA_BYTES,
  K_ARENA_STRING,
  K_SIDE,
  K_SIDE_MOVED,
  type Layout,
  layout,
  LIVE_WORKERS,
  LOCK,
  MAIN_WAITING,
  MAX_BATCH,
  MAX_NAMES,
  NAME_BYTES,
  now,
  PRIORITIES,
  QUEUED,
  READY,
  RING_SLOTS,
  S_AEND,
  S_ENQUEUED,
  S_FN,
  S_ID,
  S_KIND,
  S_LEN,
  S_NUM,
  S_STATE,
  SHUTDOWN,
  SLEEPERS,
  SLOT_BYTES,
  SLOT_INLINE_BYTES,
  SLOT_INLINE_OFFSET,
  TAIL,
  usesArena,
  type Views,
  views,
  W_BATCH_IDS,
  W_BATCH_N,
  W_BATCH_POS,
  W_CANCEL,
  W_CUR,
  W_DONE_HEAD,
  W_DONE_TAIL,
  W_RETIRED,
  WORK_SEQ,
  WORKER_AREA_BYTES,
  WORKER_HEADER_BYTES,
} from "./_shared.ts";
import { deserializeError, type SerializedError } from "./_errors.ts";
import { Histogram, type HistogramSummary } from "./_histogram.ts";
import { TaskTable } from "./_task_table.ts";
import { testing } from "./_testing.ts";
import { TaskPriority } from "./task_priority.ts";

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
   * Number of workers, spawned up front.
   *
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
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
  /** Whether the task was cancelled or timed out (a read of shared memory). */
  cancelled(): boolean;
  /** Throws the cancellation reason when {@linkcode TaskContext.cancelled}. */
  throwIfCancelled(): void;
  /** Moves these buffers with the result instead of copying them. */
  transfer(...buffers: Transferable[]): void;
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

interface Task {
  readonly id: number;
  fn: number; // index in the name table; -1 while parked
  readonly name: string;
  readonly priority: number;
  readonly enqueued: number;
  input: unknown;
  readonly transfer: Transferable[] | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  ring: number; // priority ring holding it, -1 when not in a ring
  pos: number; // its ring position
  inOverflow: boolean;
  parked: boolean; // waits for the task module's export list
  dropped: boolean; // cancelled while in the overflow queue
  inputMoved: boolean; // its transfer list went to a worker
}

interface WorkerSlot {
  readonly area: number; // its area of the shared buffer
  worker: Worker;
  alive: boolean;
  stuck: boolean; // given up on; its area is free once it says bye
  ready: boolean; // counted towards ready()
  started: boolean; // this very worker said it is ready
  doneHead: number;
  bye: (() => void) | undefined;
}

/** A FIFO with O(1) shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
  clear(): T[] {
    const rest = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

const encoder = new TextEncoder();

/** Rough byte size of a value that goes by postMessage (0: small or unknown). */
function sizeHint(value: unknown): number {
  if (typeof value === "string") return value.length * 2;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return Math.min(value.byteLength, 0x7fffffff);
  }
  return 0;
}
const IN_ARENA = 0;
const NOT_ARENA = 1;
const ARENA_FULL = 2;
const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
const TERMINATED = 3;
const BYE_TIMEOUT_MS = 2000;

// Deno has no public Worker.unref(). Its Worker class has an internal ref
// switch (what node:worker_threads' unref() calls), a symbol-keyed method
// taking a boolean; found by shape, used only on workers the pool gave up on
// (stuck in synchronous code, which terminate() does not interrupt), so that
// they do not keep the process alive. Without it (another Deno), such a
// worker keeps the process alive until its task returns.
const unrefWorker: (worker: Worker) => void = (() => {
  try {
    const proto = Worker.prototype as unknown as Record<symbol, unknown>;
    for (const key of Object.getOwnPropertySymbols(proto)) {
      const fn = proto[key];
      if (
        key.description === undefined && typeof fn === "function" &&
        fn.length === 1
      ) {
        return (worker: Worker) => {
          try {
            (fn as (ref: boolean) => void).call(worker, false);
          } catch {
            // not the switch after all: nothing more to do
          }
        };
      }
    }
  } catch {
    // no such switch here
  }
  return () => {};
})();

function positiveInteger(
  value: number,
  name: string,
  allowInfinity: boolean,
): void {
  if (
    typeof value !== "number" ||
    !(Number.isSafeInteger(value) || (allowInfinity && value === Infinity)) ||
    value < 1
  ) {
    throw new RangeError(
      `Cannot create compute pool as '${name}' must be a positive integer: received ${value}`,
    );
  }
}

function nonNegativeNumber(value: number, name: string, what: string): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `Cannot ${what} as '${name}' must be a non-negative number: received ${value}`,
    );
  }
}

/**
 * A pool of Web Workers running the functions exported by a task module.
 *
 * Tasks wait in `SharedArrayBuffer` ring queues, one per
 * {@linkcode TaskPriority}; idle workers sleep in `Atomics.wait` and claim
 * tasks themselves, in batches, with no main-thread round trip per task.
 * Results come back as promises. Numbers, booleans, and strings,
 * `Uint8Array`s and `ArrayBuffer`s up to 1 MiB travel through shared memory;
 * other structured-cloneable values (and inputs with a `transfer` list) by
 * `postMessage`, one message per claimed batch.
 *
 * Each task function is `(input, ctx: TaskContext) => result | Promise<result>`;
 * a worker runs one task at a time (an async task holds its worker until it
 * settles, is cancelled or times out: then the worker stops waiting for it
 * and ignores how it settles later).
 * A task that throws rejects its promise with the error's name, message and
 * stack. A worker that dies (uncaught error or rejection, or a task calling
 * `self.close()` or `Deno.exit()`) is replaced: its running task rejects, the
 * rest of its batch is queued again.
 *
 * Close the pool (`close()`, `await using`) or the workers keep the process
 * alive. Neither a timeout nor `terminate()` can stop a worker stuck in
 * synchronous code (a Deno limit): it stays busy until its task returns, so
 * long tasks should check `ctx.cancelled()`.
 *
 * Needs `--allow-read` to load the worker and the task module.
 *
 * @typeParam T The task module's type, e.g. `typeof import("./tasks.ts")`,
 * to type `run`'s input and result.
 *
 * @example Running tasks
 * ```ts
 * import { ComputePool } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * // testdata/tasks.ts exports `export function add([a, b]: number[]) { return a + b; }`
 * await using pool = new ComputePool(
 *   new URL("./testdata/tasks.ts", import.meta.url),
 *   { workers: 2 },
 * );
 * const sums = await Promise.all([
 *   pool.run("add", [1, 2]),
 *   pool.run("add", [3, 4]),
 * ]);
 * assertEquals(sums, [3, 7]);
 * assertEquals(pool.metrics().tasksCompleted, 2);
 * ```
 *
 * @example Cancelling a task
 * ```ts
 * import { ComputePool } from "@millrace/io/compute";
 * import { assertRejects } from "@std/assert";
 *
 * await using pool = new ComputePool(
 *   new URL("./testdata/tasks.ts", import.meta.url),
 *   { workers: 1 },
 * );
 * // `spinUntilCancelled` loops until `ctx.cancelled()` turns true.
 * const controller = new AbortController();
 * const task = pool.run("spinUntilCancelled", 5_000, {
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await assertRejects(() => task, DOMException);
 * ```
 */
export class ComputePool<
  T extends Record<string, unknown> = Record<string, unknown>,
> implements AsyncDisposable {
  #moduleUrl: string;
  #workerCount: number;
  #stuckAfterMs: number;
  // Worker areas of the shared buffer (twice the workers: a stuck worker
  // keeps its area until it exits, its replacement takes another).
  #areaOwner: (WorkerSlot | undefined)[];
  #stuckTimers = new Set<ReturnType<typeof setTimeout>>();
  #stuck = 0;
  #maxQueue: number;
  #taskTimeoutMs: number;
  #lay: Layout;
  #sab: SharedArrayBuffer;
  #v: Views;
  #i32: Int32Array;
  #workers: WorkerSlot[] = [];
  #tasks = new TaskTable<Task>();
  #overflow: Fifo<Task>[] = [];
  #overflowDropped = [0, 0, 0, 0];
  #tails = [0, 0, 0, 0];
  #arenaTails = [0, 0, 0, 0];
  #names = new Map<string, number>();
  // The task module's function exports, from the first worker that loaded
  // it; until then tasks of names not in #names wait in #parked.
  #exports: Set<string> | undefined;
  #parked: Task[] = [];
  #nextId = 1;
  #idWrap = testing.idWrap;
  #state = OPEN;
  #waiting = false;
  #kickScheduled = false;
  #burstTime = -1;
  #kickCount = 0;
  #readyCount = 0;
  #ready = Promise.withResolvers<void>();
  #readyError: unknown;
  #broken: unknown; // every worker failed to start: the reason
  #idleWaiters: (() => void)[] = [];
  #capacityWaiters: (() => void)[] = [];
  #closed: Promise<void> | undefined;
  // One abort listener per signal, not per task: EventTarget listener lists
  // are linear, so 10,000 tasks sharing a signal would cost O(n²).
  #watched = new Map<AbortSignal, Set<Task>>();
  #startedAt = performance.now();
  #submitted = 0;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #replaced = 0;
  #totalRunMs = 0;
  #runTime = new Histogram();
  #waitTime = new Histogram();

  /**
   * Spawns the workers; each imports `taskModuleUrl`.
   *
   * @param taskModuleUrl The task module, best given as
   * `new URL("./tasks.ts", import.meta.url)`; a relative string resolves
   * against the current directory.
   * @param options Pool options.
   */
  constructor(taskModuleUrl: string | URL, options: ComputePoolOptions = {}) {
    const {
      workers = navigator.hardwareConcurrency,
      maxQueue = Infinity,
      agingMs = 1000,
      taskTimeoutMs = Infinity,
      stuckAfterMs = 10_000,
    } = options;
    positiveInteger(workers, "workers", false);
    positiveInteger(maxQueue, "maxQueue", true);
    if (typeof agingMs !== "number" || !(agingMs > 0)) {
      throw new RangeError(
        `Cannot create compute pool as 'agingMs' must be a positive number: received ${agingMs}`,
      );
    }
    nonNegativeNumber(taskTimeoutMs, "taskTimeoutMs", "create compute pool");
    nonNegativeNumber(stuckAfterMs, "stuckAfterMs", "create compute pool");
    this.#stuckAfterMs = stuckAfterMs;
    this.#moduleUrl = typeof taskModuleUrl === "string"
      ? new URL(taskModuleUrl, `file://${Deno.cwd()}/`).href
      : taskModuleUrl.href;
    this.#workerCount = workers;
    this.#maxQueue = maxQueue;
    this.#taskTimeoutMs = taskTimeoutMs;
    this.#lay = layout(workers * 2);
    this.#areaOwner = new Array(workers * 2).fill(undefined);
    this.#sab = new SharedArrayBuffer(this.#lay.total);
    this.#v = views(this.#sab);
    this.#i32 = this.#v.i32;
    this.#v.f64[F_AGING_MS] = agingMs === Infinity ? 0 : agingMs;
    for (let p = 0; p < PRIORITIES; p++) this.#overflow.push(new Fifo());
    for (let i = 0; i < workers; i++) this.#workers.push(this.#spawn(i));
    Atomics.store(this.#i32, LIVE_WORKERS, workers);
    // Nobody may await ready(): keep its rejection from being unhandled.
    this.#ready.promise.catch(() => {});
  }

  /** Number of workers the pool keeps. */
  get size(): number {
    return this.#workerCount;
  }

  /** Workers alive right now (0 after `close()`/`terminate()`). */
  get liveWorkers(): number {
    let n = 0;
    for (const w of this.#workers) if (w.alive) n++;
    return n;
  }

  /**
   * Resolves once every worker has loaded the task module; rejects with the
   * import error if it could not. Optional: `run` works before.
   */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  /**
   * Runs the task `name` of the task module with `input` in a worker.
   *
   * Rejects with a `RangeError` when `maxQueue` tasks already wait, with an
   * `Error` once the pool is closing, and with the signal's reason or a
   * `TimeoutError` when aborted or timed out.
   *
   * @param name An exported function of the task module.
   * @param input Any structured-cloneable value.
   * @param options Priority, signal, time limit and transfer list.
   * @returns The task's result.
   */
  run<K extends keyof T & string>(
    name: K,
    input?: TaskInput<T[K]>,
    options?: TaskRunOptions,
  ): Promise<TaskResult<T[K]>> {
    // deno-lint-ignore no-explicit-any
    return this.#run(name, input, options) as any;
  }

  #run(
    name: string,
    input: unknown,
    options: TaskRunOptions = {},
  ): Promise<unknown> {
    if (this.#state !== OPEN) {
      return Promise.reject(
        new Error(`Cannot run task '${name}' as the pool is closed`),
      );
    }
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const {
      priority = TaskPriority.Normal,
      signal,
      timeoutMs = this.#taskTimeoutMs,
      transfer,
    } = options;
    if (
      typeof priority !== "number" || !Number.isInteger(priority) ||
      priority < 0 || priority >= PRIORITIES
    ) {
      return Promise.reject(
        new RangeError(
          `Cannot run task '${name}' as 'priority' must be a TaskPriority (0 to 3): received ${priority}`,
        ),
      );
    }
    if (
      typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0
    ) {
      return Promise.reject(
        new RangeError(
          `Cannot run task '${name}' as 'timeoutMs' must be a non-negative number: received ${timeoutMs}`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#maxQueue !== Infinity && this.#queued() >= this.#maxQueue) {
      return Promise.reject(
        new RangeError(
          `Cannot run task '${name}' as the queue is full: ${this.#maxQueue} tasks are waiting ('maxQueue')`,
        ),
      );
    }
    let fn = this.#names.get(name);
    if (fn === undefined) {
      if (this.#exports === undefined) fn = -1; // parked until it is known
      else {
        const error = this.#nameError(name);
        if (error !== undefined) return Promise.reject(error);
        fn = this.#names.get(name)!;
      }
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= this.#idWrap ? 1 : this.#nextId + 1;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const task: Task = {
      id,
      fn,
      name,
      priority,
      enqueued: this.#now(),
      input,
      transfer: transfer && transfer.length > 0 ? transfer : undefined,
      resolve,
      reject,
      signal,
      timer: undefined,
      ring: -1,
      pos: 0,
      inOverflow: false,
      parked: fn < 0,
      dropped: false,
      inputMoved: false,
    };
    this.#tasks.add(task);
    this.#submitted++;
    if (task.parked) this.#parked.push(task);
    else this.#enqueue(task);
    if (signal) this.#watch(signal, task);
    if (timeoutMs !== Infinity) {
      task.timer = setTimeout(() => {
        task.timer = undefined;
        this.#cancel(
          task,
          new DOMException(
            `Task '${name}' timed out after ${timeoutMs} ms`,
            "TimeoutError",
          ),
          CANCEL_TIMEOUT,
        );
      }, timeoutMs);
    }
    this.#kick();
    this.#arm();
    return promise;
  }

  /**
   * Resolves when fewer than `maxQueue` tasks wait, so that a producer can
   * pace itself instead of handling `RangeError`s.
   *
   * @param options A signal to stop waiting.
   */
  whenCapacity(options: WhenCapacityOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queued() < this.#maxQueue) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#capacityWaiters.indexOf(done);
        if (i >= 0) this.#capacityWaiters.splice(i, 1);
        reject(signal?.reason);
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#capacityWaiters.push(done);
    });
  }

  /** Counters, queue depths, timing histograms and utilization. */
  metrics(): ComputePoolMetrics {
    const depth = [0, 1, 2, 3].map((p) =>
      Atomics.load(this.#i32, QUEUED + p) + this.#overflow[p]!.length -
      this.#overflowDropped[p]!
    );
    let busy = 0;
    for (const w of this.#workers) {
      if (
        w.alive &&
        Atomics.load(this.#i32, this.#workerBase(w.area) + W_CUR) !== 0
      ) busy++;
    }
    const elapsed = performance.now() - this.#startedAt;
    return {
      tasksSubmitted: this.#submitted,
      tasksCompleted: this.#completed,
      tasksFailed: this.#failed,
      tasksCancelled: this.#cancelled,
      activeWorkers: this.liveWorkers,
      busyWorkers: busy,
      workersReplaced: this.#replaced,
      workersStuck: this.#stuck,
      queueDepth: {
        critical: depth[0]!,
        high: depth[1]!,
        normal: depth[2]!,
        low: depth[3]!,
      },
      totalExecutionTimeMs: this.#totalRunMs,
      runTime: this.#runTime.summary(),
      waitTime: this.#waitTime.summary(),
      utilization: elapsed > 0
        ? Math.min(1, this.#totalRunMs / (elapsed * this.#workerCount))
        : 0,
    };
  }

  /**
   * Stops taking tasks, waits for every accepted task to settle, then stops
   * the workers. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#state = CLOSING;
    this.#closed = (async () => {
      if (this.#tasks.size > 0) {
        await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      }
      if (this.#state === TERMINATED) return;
      this.#state = CLOSED;
      await this.#stopWorkers(false);
    })();
    return this.#closed;
  }

  /**
   * Rejects every pending task and stops the workers at once. A worker stuck
   * in synchronous code cannot be stopped by Deno and keeps running (and the
   * process alive) until its task returns.
   */
  terminate(): Promise<void> {
    if (this.#state === TERMINATED) return this.#closed ?? Promise.resolve();
    const wasClosing = this.#closed !== undefined;
    this.#state = TERMINATED;
    const error = new Error("Cannot finish task as the pool was terminated");
    // Raise every cancel flag too: cooperative tasks stop, which terminate()
    // alone cannot make a busy worker do.
    for (const slot of this.#workers) {
      const flags = this.#workerBase(slot.area) + W_CANCEL;
      for (let i = 0; i < MAX_BATCH; i++) {
        Atomics.store(this.#i32, flags + i, CANCEL_ABORT);
      }
    }
    for (const task of this.#tasks.values()) {
      this.#settleCancelled(task, error);
    }
    for (let p = 0; p < PRIORITIES; p++) {
      Atomics.store(this.#i32, QUEUED + p, 0);
    }
    for (const q of this.#overflow) q.clear();
    this.#parked = [];
    this.#overflowDropped = [0, 0, 0, 0];
    if (this.#readyCount < this.#workerCount) this.#ready.reject(error);
    const stopped = this.#stopWorkers(true);
    this.#resolveIdle();
    if (!wasClosing) this.#closed = stopped;
    return stopped;
  }

  /** Same as {@linkcode ComputePool.prototype.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- workers

  #workerBase(area: number): number {
    return (this.#lay.workers + area * WORKER_AREA_BYTES) >> 2;
  }

  /** A free worker area, its header reset; -1 when none is free. */
  #takeArea(): number {
    const area = this.#areaOwner.indexOf(undefined);
    if (area < 0) return -1;
    const base = this.#workerBase(area);
    const i32 = this.#i32;
    for (
      const word of [W_CUR, W_BATCH_N, W_DONE_HEAD, W_DONE_TAIL, W_RETIRED]
    ) {
      Atomics.store(i32, base + word, 0);
    }
    Atomics.store(i32, base + W_BATCH_POS, -1);
    return area;
  }

  #spawn(area: number): WorkerSlot {
    const worker = new Worker(new URL("./_worker.ts", import.meta.url), {
      type: "module",
    });
    const slot: WorkerSlot = {
      area,
      worker,
      alive: true,
      stuck: false,
      ready: false,
      started: false,
      doneHead: 0,
      bye: undefined,
    };
    worker.onmessage = (event) => this.#onMessage(slot, event.data);
    worker.onerror = (event) => {
      // Without preventDefault an error in a worker kills the process.
      event.preventDefault();
      this.#onWorkerDeath(slot, event.error ?? new Error(event.message));
    };
    worker.onmessageerror = (event) => event.preventDefault();
    const init: InitMessage = {
      t: "init",
      sab: this.#sab,
      area,
      areas: this.#areaOwner.length,
      moduleUrl: this.#moduleUrl,
    };
    this.#areaOwner[area] = slot;
    worker.postMessage(init);
    return slot;
  }

  // deno-lint-ignore no-explicit-any
  #onMessage(slot: WorkerSlot, msg: any): void {
    if (slot.stuck) {
      // Its task returned at last: the area is free again.
      if (msg.t === "bye" || msg.t === "fatal") this.#release(slot);
      return;
    }
    if (!slot.alive && msg.t !== "bye") return;
    switch (msg.t) {
      case "rs": {
        // Results that did not fit the completion ring, batched.
        for (const r of msg.results) {
          const task = this.#tasks.get(r.id);
          if (!task) continue;
          this.#record(task, r.start, r.run);
          if (r.ok) this.#settleOk(task, r.v);
          else {this.#settleFailed(
              task,
              deserializeError(r.v as SerializedError),
            );}
        }
        this.#afterDrain();
        return;
      }
      case "in": {
        // Inputs that did not fit a slot, for a whole claimed batch at once.
        const ids: number[] = msg.ids;
        const values: unknown[] = new Array(ids.length);
        const gone: boolean[] = new Array(ids.length).fill(false);
        const moved: Transferable[] = [];
        const tasks: (Task | undefined)[] = ids.map((id) =>
          this.#tasks.get(id)
        );
        for (let k = 0; k < ids.length; k++) {
          const task = tasks[k];
          if (!task) gone[k] = true;
          else {
            values[k] = task.input;
            if (task.transfer) moved.push(...task.transfer);
          }
        }
        try {
          slot.worker.postMessage({ t: "in", ids, values, gone }, moved);
        } catch {
          // Something is not cloneable: send one by one, fail the culprits.
          for (let k = 0; k < ids.length; k++) {
            const task = tasks[k];
            try {
              if (!task) throw new Error("gone");
              slot.worker.postMessage(
                { t: "in", ids: [ids[k]], values: [values[k]], gone: [false] },
                task.transfer ?? [],
              );
            } catch (error) {
              slot.worker.postMessage({
                t: "in",
                ids: [ids[k]],
                values: [undefined],
                gone: [true],
              });
              if (task) this.#settleFailed(task, error);
            }
          }
          this.#afterDrain();
        }
        for (const task of tasks) {
          // Moved buffers are detached here: the task cannot be re-sent.
          if (task?.transfer) task.inputMoved = true;
        }
        return;
      }
      case "ready":
        slot.started = true;
        if (!slot.ready) {
          slot.ready = true;
          if (msg.error && this.#readyError === undefined) {
            this.#readyError = deserializeError(msg.error);
          }
          if (this.#exports === undefined) {
            this.#exports = new Set(msg.exports ?? []);
            this.#unpark();
          }
          if (++this.#readyCount === this.#workerCount) {
            if (this.#readyError !== undefined) {
              this.#ready.reject(this.#readyError);
            } else this.#ready.resolve();
          }
        }
        return;
      case "fatal":
        this.#onWorkerDeath(slot, deserializeError(msg.error));
        return;
      case "bye":
        slot.alive = false;
        slot.bye?.();
        return;
    }
  }

  #onWorkerDeath(slot: WorkerSlot, error: unknown): void {
    if (!slot.alive) return;
    slot.alive = false;
    slot.worker.terminate();
    slot.bye?.();
    const base = this.#workerBase(slot.area);
    this.#drainWorker(slot);
    const n = Atomics.load(this.#i32, base + W_BATCH_N);
    const pos = Atomics.load(this.#i32, base + W_BATCH_POS);
    const requeue: Task[] = [];
    for (let i = 0; i < n; i++) {
      const task = this.#tasks.get(this.#i32[base + W_BATCH_IDS + i]!);
      if (!task) continue;
      // The running task fails with the worker; the unstarted rest is
      // queued again (kept input) unless its buffers moved to the dead worker.
      if (i <= pos || task.inputMoved) this.#settleFailed(task, error);
      else requeue.push(task);
    }
    Atomics.store(this.#i32, base + W_BATCH_N, 0);
    Atomics.store(this.#i32, base + W_CUR, 0);
    Atomics.store(this.#i32, base + W_DONE_HEAD, 0);
    Atomics.store(this.#i32, base + W_DONE_TAIL, 0);
    slot.doneHead = 0;
    this.#release(slot);
    if (!slot.started) {
      // It died before loading anything (the worker script itself failed,
      // e.g. no --allow-read): a replacement would die the same way.
      this.#ready.reject(error);
      if (this.liveWorkers === 0) {
        this.#broken = error;
        for (const task of this.#tasks.values()) {
          this.#settleFailed(task, error);
        }
        for (const q of this.#overflow) q.clear();
        this.#parked = [];
        this.#overflowDropped = [0, 0, 0, 0];
        for (let p = 0; p < PRIORITIES; p++) {
          Atomics.store(this.#i32, QUEUED + p, 0);
        }
      }
    } else if (this.#state === OPEN || this.#state === CLOSING) {
      this.#replaced++;
      this.#replace(slot);
      for (const task of requeue) {
        task.ring = -1;
        this.#enqueue(task);
      }
      this.#kick();
    } else {
      for (const task of requeue) this.#settleFailed(task, error);
    }
    this.#afterDrain();
  }

  /** Spawns a worker in place of `slot` (dead or stuck). */
  #replace(slot: WorkerSlot): void {
    const at = this.#workers.indexOf(slot);
    const area = this.#takeArea();
    if (area < 0) {
      // Every spare area is held by a stuck worker: go on with fewer.
      if (at >= 0) this.#workers.splice(at, 1);
    } else {
      const fresh = this.#spawn(area);
      fresh.ready = true; // readiness counts once per initial worker
      if (at >= 0) this.#workers[at] = fresh;
      else this.#workers.push(fresh);
    }
    Atomics.store(this.#i32, LIVE_WORKERS, this.liveWorkers);
  }

  /** The worker is gone for good: its area may be used again. */
  #release(slot: WorkerSlot): void {
    if (this.#areaOwner[slot.area] === slot) {
      this.#areaOwner[slot.area] = undefined;
    }
  }

  /**
   * Watches the worker holding cancelled task `id`: if it still runs that
   * task `stuckAfterMs` later, it ignores its cancel flag, and the pool gives
   * up on it.
   */
  #watchStuck(slot: WorkerSlot, id: number): void {
    if (this.#stuckAfterMs === Infinity) return;
    const timer = setTimeout(() => {
      this.#stuckTimers.delete(timer);
      const base = this.#workerBase(slot.area);
      if (
        slot.alive && !slot.stuck &&
        Atomics.load(this.#i32, base + W_CUR) === id
      ) this.#giveUp(slot);
    }, this.#stuckAfterMs);
    Deno.unrefTimer(timer);
    this.#stuckTimers.add(timer);
  }

  /**
   * Gives up on a worker stuck in synchronous code: it is told to exit should
   * its task ever return, no longer keeps the process alive, and a fresh
   * worker takes its place; the unstarted rest of its batch is queued again.
   */
  #giveUp(slot: WorkerSlot): void {
    const i32 = this.#i32;
    const base = this.#workerBase(slot.area);
    // Retired first, then the position (the worker does the reverse): a task
    // past the position may be queued again, it will not run here.
    Atomics.store(i32, base + W_RETIRED, 1);
    const pos = Atomics.load(i32, base + W_BATCH_POS);
    slot.alive = false;
    slot.stuck = true;
    this.#stuck++;
    this.#replaced++;
    unrefWorker(slot.worker);
    const error = new Error(
      "Cannot finish task as its worker is stuck in a cancelled task",
    );
    const requeue: Task[] = [];
    // Under LOCK: a cancel looking for a task in this batch must not see it
    // half moved.
    while (Atomics.compareExchange(i32, LOCK, 0, 1) !== 0) {
      // a claim is short
    }
    const n = Atomics.load(i32, base + W_BATCH_N);
    for (let i = 0; i < n; i++) {
      const task = this.#tasks.get(i32[base + W_BATCH_IDS + i]!);
      if (!task) continue;
      if (i <= pos || task.inputMoved) this.#settleFailed(task, error);
      else requeue.push(task);
    }
    Atomics.store(i32, base + W_BATCH_N, 0);
    Atomics.store(i32, LOCK, 0);
    this.#drainWorker(slot);
    this.#replace(slot);
    for (const task of requeue) {
      task.ring = -1;
      this.#enqueue(task);
    }
    this.#kick();
    this.#afterDrain();
  }

  async #stopWorkers(force: boolean): Promise<void> {
    for (const timer of this.#stuckTimers) clearTimeout(timer);
    this.#stuckTimers.clear();
    Atomics.store(this.#i32, SHUTDOWN, 1);
    Atomics.add(this.#i32, WORK_SEQ, 1);
    Atomics.notify(this.#i32, WORK_SEQ);
    // Release a pending Atomics.waitAsync of ours.
    Atomics.add(this.#i32, DONE_SEQ, 1);
    Atomics.notify(this.#i32, DONE_SEQ);
    const waits: Promise<void>[] = [];
    for (const slot of this.#workers) {
      if (!slot.alive) continue;
      if (force) {
        slot.alive = false;
        slot.worker.terminate();
        // A worker busy in synchronous code runs on after terminate(): it
        // must not keep the process alive.
        unrefWorker(slot.worker);
        continue;
      }
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            // Stuck in synchronous code: terminate() is all we can do, and
            // keep it from holding the process.
            slot.alive = false;
            slot.worker.terminate();
            unrefWorker(slot.worker);
            resolve();
          }, BYE_TIMEOUT_MS);
          slot.bye = () => {
            clearTimeout(timer);
            slot.bye = undefined;
            slot.worker.terminate();
            resolve();
          };
        }),
      );
    }
    await Promise.all(waits);
  }

  // ------------------------------------------------------------------ names

  /**
   * Registers `name` if it is a function the task module exports; otherwise
   * returns the error to reject its task with (nothing registered: client
   * input cannot use up the name table).
   */
  #nameError(name: string): Error | undefined {
    if (this.#names.has(name)) return undefined;
    if (this.#readyError !== undefined) return this.#readyError as Error;
    if (!this.#exports!.has(name)) {
      return new TypeError(
        `Cannot run task as '${name}' is not a function exported by the task module`,
      );
    }
    if (this.#registerName(name) < 0) {
      return new RangeError(
        `Cannot run task '${name}' as the pool knows ${MAX_NAMES} task names already, or the name is longer than ${
          NAME_BYTES - 4
        } bytes`,
      );
    }
    return undefined;
  }

  /** The export list arrived: queue or reject the tasks that waited for it. */
  #unpark(): void {
    const parked = this.#parked;
    this.#parked = [];
    for (const task of parked) {
      if (this.#tasks.get(task.id) !== task) continue; // settled meanwhile
      task.parked = false;
      const error = this.#nameError(task.name);
      if (error !== undefined) {
        this.#settleFailed(task, error);
        continue;
      }
      task.fn = this.#names.get(task.name)!;
      this.#enqueue(task);
    }
    this.#kick();
    this.#afterDrain();
  }

  // ------------------------------------------------------------------ queue

  #registerName(name: string): number {
    const index = this.#names.size;
    const bytes = new TextEncoder().encode(name);
    if (index >= MAX_NAMES || bytes.length > NAME_BYTES - 4) return -1;
    const at = this.#lay.names + index * NAME_BYTES;
    this.#v.u8.set(bytes, at + 4);
    // Published before any task naming it (the ring's tail store follows).
    Atomics.store(this.#i32, at >> 2, bytes.length);
    this.#names.set(name, index);
    return index;
  }

  #queued(): number {
    let n = this.#parked.length;
    for (let p = 0; p < PRIORITIES; p++) {
      n += Atomics.load(this.#i32, QUEUED + p) + this.#overflow[p]!.length -
        this.#overflowDropped[p]!;
    }
    return n;
  }

  #enqueue(task: Task): void {
    const p = task.priority;
    const overflow = this.#overflow[p]!;
    if (overflow.length > 0 || !this.#pushRing(task)) {
      task.inOverflow = true;
      overflow.push(task);
    }
  }

  #pushRing(task: Task): boolean {
    const p = task.priority;
    const i32 = this.#i32;
    const tail = this.#tails[p]!;
    if (((tail - Atomics.load(i32, HEAD + p)) | 0) >= RING_SLOTS) {
      // Full. If nothing in it is live, it is all tombstones no worker will
      // come to skip: drop them here.
      if (Atomics.load(i32, QUEUED + p) !== 0) return false;
      this.#dropTombstones(p);
      if (((tail - Atomics.load(i32, HEAD + p)) | 0) >= RING_SLOTS) {
        return false;
      }
    }
    const slot = this.#lay.rings +
      (p * RING_SLOTS + (tail & (RING_SLOTS - 1))) * SLOT_BYTES;
    const s32 = slot >> 2;
    i32[s32 + S_ID] = task.id;
    i32[s32 + S_FN] = task.fn;
    this.#v.f64[(slot >> 3) + S_ENQUEUED] = task.enqueued;
    if (
      task.transfer !== undefined ||
      !encodeInline(
        this.#v,
        task.input,
        s32 + S_KIND,
        s32 + S_LEN,
        (slot >> 3) + S_NUM,
        slot + SLOT_INLINE_OFFSET,
        SLOT_INLINE_BYTES,
      )
    ) {
      let arena = task.transfer === undefined
        ? this.#toArena(p, s32, task.input)
        : NOT_ARENA;
      if (arena === ARENA_FULL && Atomics.load(i32, QUEUED + p) === 0) {
        // Only tombstones hold the arena and no worker will come to skip
        // them: drop them here.
        this.#dropTombstones(p);
        arena = this.#toArena(p, s32, task.input);
      }
      // A full arena holds the task back (overflow queue) rather than
      // sending its bytes the slow way: claims free the arena soon.
      if (arena === ARENA_FULL) return false;
      if (arena === NOT_ARENA) {
        i32[s32 + S_KIND] = task.transfer === undefined ? K_SIDE : K_SIDE_MOVED;
        i32[s32 + S_LEN] = sizeHint(task.input);
      }
    }
    Atomics.store(i32, s32 + S_STATE, READY);
    const next = (tail + 1) | 0;
    this.#tails[p] = next;
    Atomics.store(i32, TAIL + p, next);
    Atomics.add(i32, QUEUED + p, 1);
    task.ring = p;
    task.pos = tail;
    task.inOverflow = false;
    // A long burst of submissions wakes the workers every 256 tasks so that
    // they work while it goes on; the kick microtask announces the rest once
    // the burst ends (one wake for a short burst or a single task).
    if (++this.#kickCount >= 256) {
      this.#wake(this.#workerCount);
      this.#kickCount = 0;
    }
    return true;
  }

  #wake(count: number): void {
    const i32 = this.#i32;
    Atomics.add(i32, WORK_SEQ, 1);
    const sleepers = Atomics.load(i32, SLEEPERS);
    if (sleepers > 0) Atomics.notify(i32, WORK_SEQ, Math.min(sleepers, count));
  }

  /**
   * Copies bytes or a string of up to ARENA_MAX_ITEM bytes into the arena of
   * priority `p` (no postMessage round trip). Returns IN_ARENA, NOT_ARENA (the
   * value is of another kind or too big) or ARENA_FULL.
   */
  #toArena(p: number, s32: number, input: unknown): number {
    let kind: number;
    let bytes: Uint8Array | undefined;
    let max: number;
    if (input instanceof Uint8Array && input.constructor === Uint8Array) {
      kind = K_ARENA_BYTES;
      bytes = input;
      max = input.byteLength;
    } else if (input instanceof ArrayBuffer && !input.resizable) {
      kind = K_ARENA_BUFFER;
      bytes = new Uint8Array(input);
      max = input.byteLength;
    } else if (typeof input === "string") {
      kind = K_ARENA_STRING;
      max = input.length * 3; // worst case of UTF-8
    } else return NOT_ARENA;
    if (max > ARENA_MAX_ITEM) return NOT_ARENA;
    let tail = this.#arenaTails[p]!;
    let at = tail & (ARENA_BYTES - 1);
    if (at + max > ARENA_BYTES) {
      // Keep every item contiguous: skip the end of the arena.
      tail = (tail + ARENA_BYTES - at) | 0;
      at = 0;
    }
    const head = Atomics.load(this.#i32, ARENA_HEAD + p);
    if (((tail + max - head) | 0) > ARENA_BYTES) return ARENA_FULL;
    const base = this.#lay.arena + p * ARENA_BYTES + at;
    let len: number;
    if (bytes !== undefined) {
      this.#v.u8.set(bytes, base);
      len = bytes.byteLength;
    } else {
      len = encoder.encodeInto(
        input as string,
        this.#v.u8.subarray(base, base + max),
      ).written;
    }
    const end = (tail + len) | 0;
    this.#arenaTails[p] = end;
    const i32 = this.#i32;
    i32[s32 + S_KIND] = kind;
    i32[s32 + S_LEN] = len;
    i32[s32 + S_AEND] = end;
    return IN_ARENA;
  }

  /** Frees ring slots held by tasks aborted while queued. */
  #dropTombstones(p: number): void {
    const i32 = this.#i32;
    while (Atomics.compareExchange(i32, LOCK, 0, 1) !== 0) {
      // A worker is claiming: a few microseconds at most.
    }
    let h = Atomics.load(i32, HEAD + p);
    const tail = this.#tails[p]!;
    while (h !== tail) {
      const s32 = (this.#lay.rings +
        (p * RING_SLOTS + (h & (RING_SLOTS - 1))) * SLOT_BYTES) >> 2;
      if (Atomics.load(i32, s32 + S_STATE) !== CANCELLED) break;
      Atomics.store(i32, s32 + S_STATE, EMPTY);
      if (usesArena(i32[s32 + S_KIND]!)) {
        Atomics.store(i32, ARENA_HEAD + p, i32[s32 + S_AEND]!);
      }
      h = (h + 1) | 0;
    }
    Atomics.store(i32, HEAD + p, h);
    Atomics.store(i32, LOCK, 0);
  }

  #refill(): void {
    for (let p = 0; p < PRIORITIES; p++) {
      const overflow = this.#overflow[p]!;
      while (overflow.length > 0) {
        const task = overflow.peek()!;
        if (task.dropped) {
          overflow.shift();
          this.#overflowDropped[p]!--;
          continue;
        }
        if (!this.#pushRing(task)) break;
        overflow.shift();
      }
    }
  }

  /**
   * Submission time, read once per synchronous burst of `run` calls (a clock
   * read costs ~0.2 µs here, more than the rest of a submission); the kick
   * microtask ends the burst.
   */
  #now(): number {
    if (this.#burstTime < 0) {
      this.#burstTime = now();
      this.#kick();
    }
    return this.#burstTime;
  }

  #kick(): void {
    if (this.#kickScheduled) return;
    this.#kickScheduled = true;
    queueMicrotask(this.#doKick);
  }

  #doKick = (): void => {
    this.#kickScheduled = false;
    this.#burstTime = -1;
    if (this.#kickCount > 0) this.#wake(this.#kickCount);
    this.#kickCount = 0;
  };

  #cancel(task: Task, reason: unknown, kind: number): void {
    if (this.#tasks.get(task.id) !== task) return;
    const i32 = this.#i32;
    let removed = false;
    if (task.parked) {
      removed = true; // #unpark skips it
    } else if (task.inOverflow) {
      task.dropped = true;
      this.#overflowDropped[task.priority]!++;
      removed = true;
    } else if (task.ring >= 0) {
      const s32 = (this.#lay.rings +
        (task.ring * RING_SLOTS + (task.pos & (RING_SLOTS - 1))) *
          SLOT_BYTES) >> 2;
      if (
        i32[s32 + S_ID] === task.id &&
        Atomics.compareExchange(i32, s32 + S_STATE, READY, CANCELLED) === READY
      ) {
        Atomics.sub(i32, QUEUED + task.ring, 1);
        removed = true;
      }
    }
    if (!removed) {
      // Claimed by a worker: raise its cancel flag in shared memory, and
      // tell that worker so that an awaiting task's ctx.signal fires.
      const holder = this.#raiseCancelFlag(task, kind);
      if (holder !== undefined && holder.alive) {
        holder.worker.postMessage({ t: "cancel", id: task.id });
        this.#watchStuck(holder, task.id);
      }
    }
    this.#settleCancelled(task, reason);
    this.#afterDrain();
  }

  /**
   * Raises the cancel flag of the batch slot holding `task`; returns the
   * worker holding it. A task a worker handed back to its ring is turned
   * into a tombstone there instead; a task found nowhere has finished (its
   * result is not read yet). Under LOCK, so that no claim or hand-back moves
   * the task meanwhile.
   */
  #raiseCancelFlag(task: Task, kind: number): WorkerSlot | undefined {
    const i32 = this.#i32;
    const id = task.id;
    while (Atomics.compareExchange(i32, LOCK, 0, 1) !== 0) {
      // A worker is claiming: a few microseconds at most.
    }
    try {
      for (const slot of this.#workers) {
        if (!slot.alive) continue;
        const base = this.#workerBase(slot.area);
        const n = Atomics.load(i32, base + W_BATCH_N);
        for (let i = 0; i < n; i++) {
          if (i32[base + W_BATCH_IDS + i] === id) {
            Atomics.store(i32, base + W_CANCEL + i, kind);
            return slot;
          }
        }
      }
      const p = task.priority;
      const tail = this.#tails[p]!;
      for (let h = Atomics.load(i32, HEAD + p); h !== tail; h = (h + 1) | 0) {
        const s32 = (this.#lay.rings +
          (p * RING_SLOTS + (h & (RING_SLOTS - 1))) * SLOT_BYTES) >> 2;
        if (i32[s32 + S_ID] === id && i32[s32 + S_STATE] === READY) {
          Atomics.store(i32, s32 + S_STATE, CANCELLED);
          Atomics.sub(i32, QUEUED + p, 1);
          break;
        }
      }
      return undefined;
    } finally {
      Atomics.store(i32, LOCK, 0);
    }
  }

  // ------------------------------------------------------------ completions

  #arm(): void {
    const i32 = this.#i32;
    while (!this.#waiting && this.#tasks.size > 0) {
      Atomics.store(i32, MAIN_WAITING, 1);
      const seq = Atomics.load(i32, DONE_SEQ);
      // Completions that landed before the flag was up.
      if (this.#drainAll()) continue;
      const result = Atomics.waitAsync(i32, DONE_SEQ, seq);
      if (!result.async) continue;
      this.#waiting = true;
      result.value.then(this.#onWake);
    }
  }

  #onWake = (): void => {
    this.#waiting = false;
    // Refill the rings from the overflow queue before settling results, so
    // that workers have work while this thread runs the callbacks.
    if (this.#overflowWaiting()) {
      this.#refill();
      if (this.#kickCount > 0) this.#doKick();
    }
    this.#drainAll();
    this.#arm();
  };

  #overflowWaiting(): boolean {
    for (const q of this.#overflow) if (q.length > 0) return true;
    return false;
  }

  /** Reads every completion ring; returns whether anything was read. */
  #drainAll(): boolean {
    let any = false;
    for (const slot of this.#workers) {
      if (this.#drainWorker(slot)) any = true;
    }
    if (any) this.#afterDrain();
    return any;
  }

  #drainWorker(slot: WorkerSlot): boolean {
    const i32 = this.#i32;
    const f64 = this.#v.f64;
    const base = this.#workerBase(slot.area);
    const tail = Atomics.load(i32, base + W_DONE_TAIL);
    let head = slot.doneHead;
    if (head === tail) return false;
    const ring = this.#lay.workers + slot.area * WORKER_AREA_BYTES +
      WORKER_HEADER_BYTES;
    while (head !== tail) {
      const at = ring + (head & (DONE_SLOTS - 1)) * DONE_BYTES;
      const a32 = at >> 2;
      const a64 = at >> 3;
      const task = this.#tasks.get(i32[a32 + D_ID]!);
      if (task) {
        const value = decodeInline(
          this.#v,
          a32 + D_KIND,
          a32 + D_LEN,
          a64 + D_NUM,
          at + DONE_INLINE_OFFSET,
        );
        this.#record(task, f64[a64 + D_START]!, f64[a64 + D_RUN]!);
        this.#settleOk(task, value);
      }
      head = (head + 1) | 0;
    }
    slot.doneHead = head;
    Atomics.store(i32, base + W_DONE_HEAD, head);
    return true;
  }

  #afterDrain(): void {
    this.#refill();
    if (this.#kickCount > 0) this.#kick();
    if (this.#capacityWaiters.length > 0 && this.#queued() < this.#maxQueue) {
      const waiters = this.#capacityWaiters;
      this.#capacityWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#tasks.size === 0) this.#resolveIdle();
  }

  #resolveIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #record(task: Task, start: number, run: number): void {
    this.#totalRunMs += run;
    this.#runTime.record(run);
    // Clocks of two threads may disagree by a few microseconds.
    this.#waitTime.record(Math.max(0, start - task.enqueued));
  }

  #watch(signal: AbortSignal, task: Task): void {
    let tasks = this.#watched.get(signal);
    if (!tasks) {
      tasks = new Set();
      this.#watched.set(signal, tasks);
      signal.addEventListener("abort", this.#onAbort);
    }
    tasks.add(task);
  }

  #unwatch(signal: AbortSignal, task: Task): void {
    const tasks = this.#watched.get(signal);
    if (!tasks) return;
    tasks.delete(task);
    if (tasks.size === 0) {
      this.#watched.delete(signal);
      signal.removeEventListener("abort", this.#onAbort);
    }
  }

  #onAbort = (event: Event): void => {
    const signal = event.target as AbortSignal;
    const tasks = this.#watched.get(signal);
    if (!tasks) return;
    for (const task of [...tasks]) {
      this.#cancel(task, signal.reason, CANCEL_ABORT);
    }
  };

  #cleanup(task: Task): void {
    this.#tasks.delete(task);
    if (task.signal) this.#unwatch(task.signal, task);
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.input = undefined;
  }

  #settleOk(task: Task, value: unknown): void {
    this.#cleanup(task);
    this.#completed++;
    task.resolve(value);
  }

  #settleFailed(task: Task, error: unknown): void {
    this.#cleanup(task);
    this.#failed++;
    task.reject(error);
  }

  #settleCancelled(task: Task, reason: unknown): void {
    this.#cleanup(task);
    this.#cancelled++;
    task.reject(reason);
  }
}
