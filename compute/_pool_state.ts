// Bookkeeping the pool's parts share: the pending tasks, how each settles or
// is cancelled from outside (its signal, its deadline, the pool's close
// deadline), the counters and histograms behind `metrics()`, and the waiters
// of `close()`.

import { CANCEL_ABORT, CANCEL_TIMEOUT } from "./_layout.ts";
import { Histogram } from "./_histogram.ts";
import type { Task } from "./_task.ts";
import type { ComputePoolMetrics } from "./types.ts";
import { TaskTable } from "./_task_table.ts";

/** The counters of a pool's metrics (the rest are gauges and histograms). */
export type PoolCounts = {
  -readonly [
    K in
      | "tasksSubmitted"
      | "tasksCompleted"
      | "tasksFailed"
      | "tasksCancelled"
      | "workersSpawned"
      | "workersRetired"
      | "workersReplaced"
      | "workersStuck"
  ]: ComputePoolMetrics[K];
};

/** Shared state of one pool. */
export class PoolState {
  readonly tasks: TaskTable<Task> = new TaskTable<Task>();
  readonly runTime: Histogram = new Histogram();
  readonly waitTime: Histogram = new Histogram();
  readonly startedAt: number = performance.now();
  /** The counters of `metrics()`, under their names there. */
  readonly counts: PoolCounts = {
    tasksSubmitted: 0,
    tasksCompleted: 0,
    tasksFailed: 0,
    tasksCancelled: 0,
    workersSpawned: 0,
    workersRetired: 0,
    workersReplaced: 0,
    workersStuck: 0,
  };
  totalRunMs = 0;
  /** Moving average of the time from submission to result (ms). */
  turnaround = 0.0125;
  /** Resolved when no task is pending. */
  idleWaiters: (() => void)[] = [];
  // One abort listener per signal, not per task: EventTarget listener lists
  // are linear, so 10,000 tasks sharing a signal would cost O(n²).
  #watched = new Map<AbortSignal, Set<Task>>();
  #cancel: (task: Task, reason: unknown, kind: number) => void;

  /**
   * @param cancel Cancels a task (its signal aborted, or it timed out) with
   * a reason and a cancel-flag kind (CANCEL_ABORT, CANCEL_TIMEOUT).
   */
  constructor(cancel: (task: Task, reason: unknown, kind: number) => void) {
    this.#cancel = cancel;
  }

  /** Cancels `task` with a `TimeoutError` after `ms` (cleared when it settles). */
  timeOut(task: Task, ms: number): void {
    task.timer = setTimeout(() => {
      task.timer = undefined;
      const message = `Task '${task.name}' timed out after ${ms} ms`;
      this.#cancel(
        task,
        new DOMException(message, "TimeoutError"),
        CANCEL_TIMEOUT,
      );
    }, ms);
  }

  /** Cancels every pending task with a `TimeoutError` after `ms` (close). */
  cancelAllAfter(ms: number): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      for (const task of this.tasks.values()) {
        const reason = new DOMException(
          `Task '${task.name}' was cancelled as the pool closed after ${ms} ms`,
          "TimeoutError",
        );
        this.#cancel(task, reason, CANCEL_TIMEOUT);
      }
    }, ms);
  }

  /** Records the timings of a finished task. */
  record(task: Task, start: number, run: number): void {
    this.totalRunMs += run;
    this.runTime.record(run);
    // Clocks of two threads may disagree by a few microseconds.
    this.waitTime.record(Math.max(0, start - task.enqueued));
    this.turnaround += (start + run - task.enqueued - this.turnaround) * 0.25;
  }

  /** Cancels `task` when `signal` aborts. */
  watch(signal: AbortSignal, task: Task): void {
    let tasks = this.#watched.get(signal);
    if (!tasks) {
      tasks = new Set();
      this.#watched.set(signal, tasks);
      signal.addEventListener("abort", this.#abortListener);
    }
    tasks.add(task);
  }

  #unwatch(signal: AbortSignal, task: Task): void {
    const tasks = this.#watched.get(signal);
    if (!tasks) return;
    tasks.delete(task);
    if (tasks.size === 0) {
      this.#watched.delete(signal);
      signal.removeEventListener("abort", this.#abortListener);
    }
  }

  #abortListener = (event: Event): void => {
    const signal = event.target as AbortSignal;
    const tasks = this.#watched.get(signal);
    if (!tasks) return;
    for (const task of [...tasks]) {
      this.#cancel(task, signal.reason, CANCEL_ABORT);
    }
  };

  #cleanup(task: Task): void {
    this.tasks.delete(task);
    if (task.signal) this.#unwatch(task.signal, task);
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.input = undefined;
  }

  /**
   * A worker's result for task `id` (if still pending): its timings are
   * recorded and its promise resolved.
   */
  settleResult = (id: number, value: unknown, start: number, run: number) => {
    const task = this.tasks.get(id);
    if (task === undefined) return;
    this.record(task, start, run);
    this.settleOk(task, value);
  };

  /** Resolves a task's promise. */
  settleOk(task: Task, value: unknown): void {
    this.#cleanup(task);
    this.counts.tasksCompleted++;
    task.resolve(value);
  }

  /** Rejects a task's promise with the task's error (or its worker's). */
  settleFailed(task: Task, error: unknown): void {
    this.#cleanup(task);
    this.counts.tasksFailed++;
    task.reject(error);
  }

  /** Rejects a task's promise as cancelled (abort, timeout, terminate). */
  settleCancelled(task: Task, reason: unknown): void {
    this.#cleanup(task);
    this.counts.tasksCancelled++;
    task.reject(reason);
  }

  /** Resolves the waiters of an idle pool. */
  resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** The numbers behind `metrics()`. */
  metrics(depth: number[], live: number, busy: number): ComputePoolMetrics {
    const elapsed = performance.now() - this.startedAt;
    return {
      ...this.counts,
      activeWorkers: live,
      busyWorkers: busy,
      queueDepth: {
        critical: depth[0]!,
        high: depth[1]!,
        normal: depth[2]!,
        low: depth[3]!,
      },
      totalExecutionTimeMs: this.totalRunMs,
      runTime: this.runTime.summary(),
      waitTime: this.waitTime.summary(),
      utilization: elapsed > 0
        ? Math.min(1, this.totalRunMs / (elapsed * Math.max(1, live)))
        : 0,
    };
  }
}
