// The `ctx` a task function gets in the worker. Its cancel flag is a word of
// shared memory the pool raises: the flag of the batch slot the task was
// claimed into, or of the flight slot it moved to while it awaits. Once the
// task gives its slot up (it settled, or was abandoned), the flag's last
// value is kept, so a late `ctx.cancelled()` never reads another task's flag.

import { CANCEL_ABORT } from "./_layout.ts";
import type { TaskContext } from "./types.ts";

function cancelReason(kind: number): DOMException {
  return kind === CANCEL_ABORT
    ? new DOMException("The task was cancelled", "AbortError")
    : new DOMException("The task timed out", "TimeoutError");
}

// What every context of this worker shares (set once, at the worker's init):
// fewer fields per context, one allocated per task run.
let i32: Int32Array = new Int32Array(1);
let sharedWorkerData: unknown;
let report: (id: number, value: unknown) => void = () => {};

/**
 * Sets what every task context of this worker shares: the shared memory's
 * Int32 view, the pool's `workerData`, and where progress reports go.
 */
export function initTaskContexts(
  view: Int32Array,
  workerData: unknown,
  reportProgress: (id: number, value: unknown) => void,
): void {
  i32 = view;
  sharedWorkerData = workerData;
  report = reportProgress;
}

/** The {@linkcode TaskContext} of one task run. */
export class TaskCtx implements TaskContext {
  readonly taskId: number;
  /** Int32 index of the task's cancel flag, -1 once it gave its slot up. */
  #flagAt: number;
  /** The flag's value once raised (it stays, whatever the slot does). */
  #cancelled = 0;
  #controller: AbortController | undefined;
  /**
   * Buffers to move with the result. Set (maybe empty) when the result must
   * go by message: after progress reports, so that it arrives after them.
   */
  transferList: Transferable[] | undefined;
  /** Whether it reported progress: then its result follows by message. */
  reported = false;
  /** Set while the worker awaits this (async) task: stops the wait. */
  onCancel: (() => void) | undefined;

  constructor(taskId: number, flagAt: number) {
    this.taskId = taskId;
    this.#flagAt = flagAt;
  }

  get workerData(): unknown {
    return sharedWorkerData;
  }

  /** The cancel flag (0: none); latched once raised. */
  #flag(): number {
    if (this.#cancelled === 0 && this.#flagAt >= 0) {
      this.#cancelled = Atomics.load(i32, this.#flagAt);
    }
    return this.#cancelled;
  }

  /** The task's flag now lives at Int32 index `flagAt` (a flight slot). */
  moveFlag(flagAt: number): void {
    this.#flagAt = flagAt;
  }

  /** The task gives its slot up: the flag is read one last time and kept. */
  release(): void {
    this.#flag();
    this.#flagAt = -1;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    const flag = this.#flag();
    if (!this.#controller.signal.aborted && flag !== 0) {
      this.#controller.abort(cancelReason(flag));
    }
    return this.#controller.signal;
  }

  cancelled(): boolean {
    return this.#flag() !== 0;
  }

  throwIfCancelled(): void {
    const flag = this.#flag();
    if (flag !== 0) throw cancelReason(flag);
  }

  transfer(...buffers: Transferable[]): void {
    (this.transferList ??= []).push(...buffers);
  }

  progress(value: unknown): void {
    if (this.#flagAt < 0) return; // settled or abandoned: nobody listens
    this.reported = true;
    report(this.taskId, value);
  }

  /** The pool cancelled this task (a `cancel` message): fire the signal. */
  abortFromMain(): void {
    const flag = this.#flag();
    if (this.#controller && !this.#controller.signal.aborted) {
      this.#controller.abort(cancelReason(flag === 0 ? CANCEL_ABORT : flag));
    }
    this.onCancel?.();
  }
}
