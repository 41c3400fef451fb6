// The compute runner attached to a loop (`attachCompute`/`spawnCompute`):
// tasks get a signal that also aborts when the loop is disposed.

import { formatValue } from "../_internal/format.ts";
import type { ComputeRunner, ComputeRunOptions } from "./compute_runner.ts";

/** A loop's attached runner and its tasks in flight. */
export class ComputeSlot {
  runner: ComputeRunner | undefined = undefined;
  readonly abort: AbortController = new AbortController();
  pending = 0;

  /** Checks and attaches `runner`. */
  attach(runner: ComputeRunner): void {
    if (
      runner === null || typeof runner !== "object" ||
      typeof runner.run !== "function"
    ) {
      throw new TypeError(
        `Cannot attach compute as 'runner' must have a run() method: received ${
          formatValue(runner)
        }`,
      );
    }
    this.runner = runner;
  }

  /** Aborts the tasks in flight: the loop is disposed. */
  dispose(): void {
    this.abort.abort(
      new DOMException("The event loop was disposed", "AbortError"),
    );
  }

  /** Runs a task on the runner; `disposed` says whether the loop is. */
  async spawn(
    name: string,
    input: unknown,
    options: ComputeRunOptions,
    disposed: boolean,
  ): Promise<unknown> {
    const runner = this.runner;
    if (runner === undefined) {
      throw new TypeError(
        "Cannot spawn compute task as no compute runner is attached: call attachCompute() first",
      );
    }
    if (disposed) {
      throw new TypeError(
        "Cannot spawn compute task as the event loop is disposed",
      );
    }
    const signal = options.signal === undefined
      ? this.abort.signal
      : AbortSignal.any([options.signal, this.abort.signal]);
    this.pending++;
    try {
      return await runner.run(name, input, { ...options, signal });
    } finally {
      this.pending--;
    }
  }
}
