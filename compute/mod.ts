/**
 * A pool of Web Workers for CPU-heavy work, with priorities held in
 * Atomics-backed queues in `SharedArrayBuffer`s, results as promises,
 * cancellation and metrics.
 *
 * ```ts
 * import { ComputePool, TaskPriority } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(
 *   new URL("./testdata/tasks.ts", import.meta.url),
 *   { workers: 2 },
 * );
 * assertEquals(await pool.run("add", [20, 22], { priority: TaskPriority.High }), 42);
 * ```
 *
 * @module
 */
export * from "./compute_pool.ts";
export * from "./task_priority.ts";
