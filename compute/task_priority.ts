/**
 * Priority of a task in a {@linkcode ComputePool}. Lower runs first; tasks of
 * one priority run in submission order (FIFO). A waiting task climbs one
 * priority every `agingMs`, so `Low` work still runs under endless `Critical`
 * load.
 *
 * @example Running a task ahead of the queue
 * ```ts
 * import { ComputePool, TaskPriority } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(
 *   new URL("./testdata/tasks.ts", import.meta.url),
 *   { workers: 1 },
 * );
 * const sum = await pool.run("add", [2, 3], { priority: TaskPriority.Critical });
 * assertEquals(sum, 5);
 * ```
 */
export const TaskPriority = {
  /** Runs before anything else. */
  Critical: 0,
  /** Runs before `Normal` and `Low`. */
  High: 1,
  /** The default. */
  Normal: 2,
  /** Runs when nothing more urgent waits (or once it has aged). */
  Low: 3,
} as const;

/**
 * One of the {@linkcode TaskPriority} values: 0 (critical) to 3 (low).
 *
 * @example Usage
 * ```ts
 * import { TaskPriority } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * const urgent = (priority: TaskPriority): boolean => priority <= TaskPriority.High;
 * assertEquals(urgent(TaskPriority.Critical), true);
 * assertEquals(urgent(TaskPriority.Low), false);
 * ```
 */
export type TaskPriority = typeof TaskPriority[keyof typeof TaskPriority];
