/**
 * A pool of Web Workers for CPU-heavy work, with priorities held in
 * Atomics-backed queues in `SharedArrayBuffer`s, results as promises,
 * cancellation and metrics.
 *
 * - The exported functions of a task module are the tasks:
 *   `(input, ctx: TaskContext) => result | Promise<result>`.
 * - {@linkcode TaskPriority}: `Critical`, `High`, `Normal` (default), `Low`;
 *   FIFO within a priority; a waiting task climbs one priority every
 *   `agingMs`, so low work is never starved.
 * - Idle workers sleep in `Atomics.wait` and claim tasks from the shared
 *   queues themselves, in batches; small values and bytes/strings up to
 *   1 MiB travel through shared memory, other values by `postMessage`.
 * - Aborting a queued task removes it; aborting a running one raises a flag
 *   in shared memory (`ctx.cancelled()`, `ctx.signal`). Deno cannot stop a
 *   worker stuck in synchronous code, so long tasks should check it.
 * - `ComputePool` satisfies the reactor's `ComputeRunner`:
 *   `loop.attachCompute(pool)`, then `loop.spawnCompute(name, input)`.
 * - Loading the worker and the task module needs `--allow-read`.
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
export * from "./types.ts";
export * from "./worker_data.ts";
