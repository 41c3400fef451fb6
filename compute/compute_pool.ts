import {
  CANCEL_ABORT,
  createSharedMemory,
  F_AGING_MS,
  type SharedMemory,
} from "./_layout.ts";
import { validateMilliseconds } from "../_internal/validate.ts";
import { resolvePoolOptions, runOptionsError } from "./_options.ts";
import { Capacity } from "./_capacity.ts";
import { CompletionWaiter } from "./_completions.ts";
import { PoolState } from "./_pool_state.ts";
import { newTask, promiseOf, type Task } from "./_task.ts";
import { TaskNames } from "./_task_names.ts";
import { TaskQueue } from "./_task_queue.ts";
import { testing } from "./_testing.ts";
import { WorkerSet } from "./_worker_set.ts";
import { TaskPriority } from "./task_priority.ts";
import type {
  ComputePoolCloseOptions,
  ComputePoolMetrics,
  ComputePoolOptions,
  TaskInput,
  TaskResult,
  TaskRunOptions,
  WhenCapacityOptions,
} from "./types.ts";

// `run()` without options: no object allocated per call.
const NO_OPTIONS: TaskRunOptions = Object.freeze({});

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
const TERMINATED = 3;

/**
 * A pool of Web Workers running the functions exported by a task module.
 *
 * Tasks wait in `SharedArrayBuffer` rings, one per {@linkcode TaskPriority};
 * idle workers sleep in `Atomics.wait` and claim batches themselves. Small
 * values, and bytes and strings up to 1 MiB, travel through shared memory;
 * other structured-cloneable values (or a `transfer` list) by `postMessage`.
 *
 * Each task function is `(input, ctx: TaskContext) => result | Promise<result>`;
 * a worker runs one synchronous task at a time; an async task holds its
 * worker until it settles, is cancelled or times out, unless
 * `concurrentTasksPerWorker` lets the worker take more meanwhile.
 * A task that throws rejects its promise with its error: built-in classes,
 * `cause`, own properties such as `code` and `AggregateError.errors` survive;
 * other classes arrive as an `Error` with their name. A worker that dies
 * (uncaught error or rejection, or a task calling `self.close()` or
 * `Deno.exit()`) is replaced: its running task rejects, the rest of its
 * batch is queued again.
 *
 * The pool is elastic between `minWorkers` and `maxWorkers` (`workers` fixes
 * both), and an `EventTarget`: it fires `drain` when its queue empties.
 *
 * Close the pool (`close()`, `await using`) or the workers keep the process
 * alive. Deno cannot stop a worker stuck in synchronous code (`terminate()`
 * does not interrupt it): a task should check `ctx.cancelled()`. One that
 * ignores its cancel for `stuckAfterMs` costs the pool that worker: it is
 * replaced, counted in `metrics().workersStuck`, and no longer keeps the
 * process alive, but its thread burns a core until the task returns.
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
> extends EventTarget implements AsyncDisposable {
  #mem: SharedMemory;
  #state = new PoolState((task, reason, kind) =>
    this.#cancel(task, reason, kind)
  );
  #queue: TaskQueue;
  #names: TaskNames;
  #workers: WorkerSet;
  #maxQueue: number;
  #min: number;
  #taskTimeoutMs: number;
  #nextId = 1;
  #idWrap = testing.idWrap;
  #phase = OPEN;
  #completions: CompletionWaiter;
  #broken: unknown; // every worker failed to start: the reason
  #closed: Promise<void> | undefined;
  #closeTimers: ReturnType<typeof setTimeout>[] = [];
  #capacity: Capacity;

  /**
   * Spawns the first workers; each imports `taskModuleUrl`.
   *
   * @param taskModuleUrl The task module, best given as
   * `new URL("./tasks.ts", import.meta.url)`; a relative string resolves
   * against the current directory.
   * @param options Pool options.
   * @throws {RangeError} If an option is out of range.
   * @throws {TypeError} If an option has the wrong type.
   *
   * @example An elastic pool
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), {
   *   minWorkers: 1,
   *   maxWorkers: 2,
   *   idleTimeoutMs: 5_000,
   * });
   * ```
   */
  constructor(taskModuleUrl: string | URL, options: ComputePoolOptions = {}) {
    super();
    const resolved = resolvePoolOptions(taskModuleUrl, options);
    const { maxQueue, minWorkers, maxWorkers, agingMs } = resolved;
    this.#taskTimeoutMs = resolved.taskTimeoutMs;
    this.#maxQueue = maxQueue;
    this.#capacity = new Capacity(maxQueue);
    this.#min = minWorkers;
    // Twice the most workers: a stuck worker keeps its area until it exits.
    const areas = maxWorkers * 2;
    this.#mem = createSharedMemory(areas);
    this.#mem.f64[F_AGING_MS] = agingMs === Infinity ? 0 : agingMs;
    this.#queue = new TaskQueue(
      this.#mem,
      () => this.#workers.live,
      () => {
        this.#workers.maybeGrow();
        this.#completions.spin();
      },
    );
    this.#names = new TaskNames(this.#mem);
    this.#workers = new WorkerSet(
      this.#state,
      this.#queue,
      { ...resolved, mem: this.#mem, areas },
      {
        afterDrain: () => this.#afterDrain(),
        onExports: (exports, error) => this.#onExports(exports, error),
        onBroken: (error) => this.#onBroken(error),
        running: () => this.#phase === OPEN || this.#phase === CLOSING,
      },
    );
    this.#completions = new CompletionWaiter(
      this.#mem,
      this.#state,
      this.#queue,
      this.#workers,
      () => this.#afterDrain(),
    );
  }

  /**
   * Number of workers the pool keeps at least (`minWorkers`).
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 2 });
   * assertEquals(pool.size, 2);
   * ```
   */
  get size(): number {
    return this.#min;
  }

  /**
   * Workers alive right now (0 after `close()`/`terminate()`).
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 2 });
   * assertEquals(pool.liveWorkers, 2);
   * ```
   */
  get liveWorkers(): number {
    return this.#workers.live;
  }

  /**
   * Whether the queue is full (`maxQueue` tasks wait): `run` would reject
   * now. Wait for the `drain` event or {@linkcode ComputePool.prototype.whenCapacity}.
   *
   * @example Pacing on `drain`
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1, maxQueue: 4 });
   * const sums = [];
   * for (let i = 0; i < 20; i++) {
   *   if (pool.needsDrain) await new Promise((r) => pool.addEventListener("drain", r, { once: true }));
   *   sums.push(pool.run("add", [i, 0]));
   * }
   * assertEquals((await Promise.all(sums)).length, 20);
   * ```
   */
  get needsDrain(): boolean {
    return this.#maxQueue !== Infinity &&
      this.#waitingTasks() >= this.#maxQueue;
  }

  /**
   * Resolves once the first workers have loaded the task module. Optional:
   * `run` works before.
   *
   * @returns A promise that resolves when the pool is ready.
   * @throws {Error} The task module's import error (the promise rejects).
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * await pool.ready();
   * ```
   */
  ready(): Promise<void> {
    return this.#workers.ready;
  }

  /**
   * Runs the task `name` of the task module with `input` in a worker.
   *
   * @param name An exported function of the task module.
   * @param input Any structured-cloneable value.
   * @param options Priority, signal, time limit, progress callback and
   * transfer list.
   * @returns The task's result.
   * @throws {TypeError} When `name` is not a function the task module
   * exports (the promise rejects, like every error here).
   * @throws {RangeError} When `maxQueue` tasks already wait, or an option is
   * out of range.
   * @throws {Error} Once the pool is closing; the task's own error when it
   * throws; the signal's reason or a `TimeoutError` `DOMException` when
   * aborted or timed out.
   *
   * @example Usage
   * ```ts
   * import { ComputePool, TaskPriority } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const sum = await pool.run("add", [2, 3], {
   *   priority: TaskPriority.High,
   *   timeoutMs: 5_000,
   * });
   * assertEquals(sum, 5);
   * ```
   *
   * @example Progress reports
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * // `countTo(n, ctx)` calls `ctx.progress(i)` for i = 1..n.
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const seen: unknown[] = [];
   * const n = await pool.run("countTo", 3, { onProgress: (value) => seen.push(value) });
   * assertEquals([n, seen], [3, [1, 2, 3]]);
   * ```
   */
  run<K extends keyof T & string>(
    name: K,
    input?: TaskInput<T[K]>,
    options?: TaskRunOptions,
  ): Promise<TaskResult<T[K]>> {
    return this.#run(name, input, options) as Promise<TaskResult<T[K]>>;
  }

  #run(
    name: string,
    input: unknown,
    options: TaskRunOptions = NO_OPTIONS,
  ): Promise<unknown> {
    if (this.#phase !== OPEN) {
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
      onProgress,
    } = options;
    const invalid = runOptionsError(name, priority, timeoutMs, onProgress);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#maxQueue !== Infinity && this.#waitingTasks() >= this.#maxQueue) {
      return Promise.reject(
        new RangeError(
          `Cannot run task '${name}' as the queue is full: ${this.#maxQueue} tasks are waiting ('maxQueue')`,
        ),
      );
    }
    const fn = this.#names.indexOf(name); // -1: parked until exports known
    if (typeof fn !== "number") return Promise.reject(fn);
    const id = this.#nextId;
    this.#nextId = this.#nextId >= this.#idWrap ? 1 : this.#nextId + 1;
    const task = newTask(id, fn, name, priority, this.#queue.now(), input);
    const promise = promiseOf(task);
    task.signal = signal;
    task.onProgress = onProgress;
    if (transfer && transfer.length > 0) task.transfer = transfer;
    this.#state.tasks.add(task);
    this.#state.counts.tasksSubmitted++;
    this.#capacity.queued();
    if (task.parked) this.#names.parked.push(task);
    else this.#queue.enqueue(task);
    if (signal) this.#state.watch(signal, task);
    if (timeoutMs !== Infinity) this.#state.timeOut(task, timeoutMs);
    this.#queue.kick();
    this.#completions.arm();
    return promise;
  }

  /**
   * Resolves when fewer than `maxQueue` tasks wait, so that a producer can
   * pace itself instead of handling `RangeError`s.
   *
   * @param options A signal to stop waiting.
   * @returns A promise that resolves when a task may be queued.
   * @throws {DOMException} The signal's reason, when it aborts (the promise
   * rejects).
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1, maxQueue: 2 });
   * const results = [];
   * for (let i = 0; i < 6; i++) {
   *   await pool.whenCapacity({ signal: AbortSignal.timeout(5_000) });
   *   results.push(pool.run("add", [i, 1]));
   * }
   * assertEquals(await Promise.all(results), [1, 2, 3, 4, 5, 6]);
   * ```
   */
  whenCapacity(options: WhenCapacityOptions = {}): Promise<void> {
    return this.#capacity.wait(this.#waitingTasks(), options.signal);
  }

  /**
   * Counters, queue depths, timing histograms and utilization.
   *
   * @returns A snapshot of the pool's metrics.
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * await pool.run("add", [1, 2]);
   * assertEquals(pool.metrics().tasksCompleted, 1);
   * ```
   */
  metrics(): ComputePoolMetrics {
    const q = this.#queue;
    return this.#state.metrics(
      [
        q.depth(0),
        q.depth(1),
        q.depth(2) + this.#names.parked.length,
        q.depth(3),
      ],
      this.#workers.live,
      this.#workers.busy(),
    );
  }

  /**
   * Stops taking tasks, lets every accepted task settle (at most
   * `timeoutMs`; then the rest are cancelled with a `TimeoutError`), then
   * stops the workers. With `force`, same as
   * {@linkcode ComputePool.prototype.terminate}. Idempotent.
   *
   * @param options A deadline for the drain, or `force`.
   * @returns A promise that resolves once the workers are stopped.
   * @throws {RangeError} If `timeoutMs` is not a whole number of
   * milliseconds (or `Infinity`).
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const sum = pool.run("add", [1, 2]);
   * await pool.close({ timeoutMs: 5_000 });
   * assertEquals(await sum, 3);
   * assertEquals(pool.liveWorkers, 0);
   * ```
   */
  close(options: ComputePoolCloseOptions = {}): Promise<void> {
    const timeoutMs = validateMilliseconds(
      "close compute pool",
      "timeoutMs",
      options.timeoutMs ?? Infinity,
      { allowInfinity: true },
    );
    if (options.force) return this.terminate();
    // A deadline also applies when an earlier close() is still draining.
    if (timeoutMs !== Infinity && this.#phase <= CLOSING) {
      this.#closeTimers.push(this.#state.cancelAllAfter(timeoutMs));
    }
    if (this.#closed) return this.#closed;
    this.#phase = CLOSING;
    this.#closed = (async () => {
      if (this.#state.tasks.size > 0) {
        await new Promise<void>((done) => this.#state.idleWaiters.push(done));
      }
      for (const timer of this.#closeTimers) clearTimeout(timer);
      if (this.#phase === TERMINATED) return;
      this.#phase = CLOSED;
      await this.#workers.stop(false);
    })();
    return this.#closed;
  }

  /**
   * Rejects every pending task, raises their cancel flags and stops the
   * workers at once. A worker stuck in synchronous code cannot be stopped by
   * Deno: it runs on until its task returns, but does not keep the process
   * alive.
   *
   * @returns A promise that resolves once the workers are stopped.
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const task = pool.run("spinUntilCancelled", 60_000).catch((e) => e.message);
   * await pool.terminate();
   * assertEquals(await task, "Cannot finish task as the pool was terminated");
   * ```
   */
  terminate(): Promise<void> {
    if (this.#phase === TERMINATED) return this.#closed ?? Promise.resolve();
    const wasClosing = this.#closed !== undefined;
    this.#phase = TERMINATED;
    const error = new Error("Cannot finish task as the pool was terminated");
    // Cooperative tasks stop, which terminate() alone cannot make a busy
    // worker do.
    this.#workers.cancelAll(CANCEL_ABORT);
    this.#settleAll((task) => this.#state.settleCancelled(task, error));
    this.#workers.rejectReady(error);
    const stopped = this.#workers.stop(true);
    this.#state.resolveIdle();
    if (!wasClosing) this.#closed = stopped;
    return stopped;
  }

  /**
   * Same as {@linkcode ComputePool.prototype.close}.
   *
   * @returns A promise that resolves once the workers are stopped.
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * await pool.run("add", [1, 1]);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Adds an event listener (`drain`: the queue emptied).
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options Listener options.
   *
   * @example Usage
   * ```ts
   * import { ComputePool } from "@millrace/io/compute";
   *
   * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
   * const drained = new Promise((resolve) => pool.addEventListener("drain", resolve, { once: true }));
   * await pool.run("add", [1, 1]);
   * await drained;
   * ```
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (type === "drain") this.#capacity.heard = true;
    super.addEventListener(type, listener, options);
  }

  #waitingTasks(): number {
    return this.#queue.waiting() + this.#names.parked.length;
  }

  /** The export list arrived: queue or reject the tasks that waited for it. */
  #onExports(exports: readonly string[], error: unknown): void {
    for (const task of this.#names.setExports(exports, error)) {
      if (this.#state.tasks.get(task.id) !== task) continue; // settled
      const refused = this.#names.unpark(task);
      if (refused === undefined) this.#queue.enqueue(task);
      else this.#state.settleFailed(task, refused);
    }
    this.#queue.kick();
    this.#afterDrain();
  }

  /** Every worker died before loading anything: fail everything. */
  #onBroken(error: unknown): void {
    this.#broken = error;
    this.#settleAll((task) => this.#state.settleFailed(task, error));
  }

  /** Settles every pending task with `settle` and empties the queues. */
  #settleAll(settle: (task: Task) => void): void {
    for (const task of this.#state.tasks.values()) settle(task);
    this.#queue.clear();
    this.#names.parked = [];
  }

  #cancel(task: Task, reason: unknown, kind: number): void {
    if (this.#state.tasks.get(task.id) !== task) return;
    // Parked: skipped when the exports arrive. Queued: removed. Claimed: its
    // worker gets the flag.
    if (!task.parked && !this.#queue.remove(task)) {
      this.#workers.cancelClaimed(task, kind);
    }
    this.#state.settleCancelled(task, reason);
    this.#afterDrain();
  }

  #afterDrain(): void {
    this.#queue.refill();
    this.#workers.maybeGrow();
    if (this.#queue.unannounced) this.#queue.kick();
    if (
      this.#capacity.watching && this.#capacity.update(this.#waitingTasks())
    ) {
      this.dispatchEvent(new Event("drain"));
    }
    if (this.#state.tasks.size === 0) this.#state.resolveIdle();
  }
}
