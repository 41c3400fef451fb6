/**
 * The pool's `workerData`, as the task module sees it.
 *
 * A task module may read it at its top level (to set itself up once per
 * worker) or in a task; `ctx.workerData` holds the same value.
 *
 * @module
 */

/** Where a worker keeps its `workerData` (set before the task module loads). */
export const WORKER_DATA: unique symbol = Symbol.for(
  "millrace.compute.workerData",
);

/**
 * Returns the `workerData` the {@linkcode ComputePool} was created with: a
 * structured clone, one per worker. Outside a pool's worker: `undefined`.
 *
 * @returns The pool's `workerData`.
 *
 * @example Reading it in a task module
 * ```ts
 * import { workerData } from "@millrace/io/compute";
 * import { assertEquals } from "@std/assert";
 *
 * // In a task module: `const config = workerData() as { scale: number };`
 * assertEquals(workerData(), undefined); // not in a pool's worker here
 * ```
 */
export function workerData(): unknown {
  return (globalThis as Record<symbol, unknown>)[WORKER_DATA];
}
