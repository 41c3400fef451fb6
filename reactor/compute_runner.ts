// What `EventLoop.spawnCompute()` hands tasks to (re-exported by
// event_loop.ts); `compute/ComputePool` satisfies it.

/**
 * Options passed through to {@linkcode ComputeRunner.run}.
 *
 * @example Usage
 * ```ts
 * import { type ComputeRunOptions, EventLoop } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * loop.attachCompute({ run: (_name, _input, options) => Promise.resolve(options?.timeoutMs) });
 * const options: ComputeRunOptions = { timeoutMs: 500, priority: "high" };
 * assertEquals(await loop.spawnCompute("resize", new Uint8Array(8), options), 500);
 * ```
 */
export interface ComputeRunOptions {
  /** Aborts the task; the loop also aborts it when disposed. */
  signal?: AbortSignal;
  /** The task's priority, as the runner defines it. */
  priority?: unknown;
  /** A per-task time limit, as the runner defines it. */
  timeoutMs?: number;
  /** Objects to transfer with the input. */
  transfer?: Transferable[];
}

/**
 * Runs named CPU-heavy tasks off the loop's thread; `compute/ComputePool`
 * satisfies it.
 *
 * @example Usage
 * ```ts
 * import { type ComputeRunner, EventLoop } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const runner: ComputeRunner = {
 *   run: (name, input) => Promise.resolve(name === "double" ? Number(input) * 2 : NaN),
 * };
 * await using loop = new EventLoop();
 * loop.attachCompute(runner);
 * assertEquals(await loop.spawnCompute("double", 21), 42);
 * ```
 */
export interface ComputeRunner {
  /**
   * Runs task `name` on `input`; resolves with its result.
   *
   * @example Usage
   * ```ts
   * import type { ComputeRunner } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const runner: ComputeRunner = { run: (_name, input) => Promise.resolve(input) };
   * assertEquals(await runner.run("echo", 7), 7);
   * ```
   *
   * @param name The task's name.
   * @param input The task's input (structured-cloneable).
   * @param options Priority, signal, timeout, transfer list.
   * @returns The task's result.
   */
  run(
    name: string,
    input: unknown,
    options?: ComputeRunOptions,
  ): Promise<unknown>;
}
