// The pool's side of completions: each worker's completion ring in shared
// memory, read on every wake of the main thread (Atomics.waitAsync on
// DONE_SEQ, which workers bump when main waits).

import {
  areaBase,
  D_ID,
  D_KIND,
  D_LEN,
  D_NUM,
  D_RUN,
  D_START,
  DONE_INLINE_OFFSET,
  DONE_SEQ,
  doneOffset,
  MAIN_WAITING,
  type SharedMemory,
  W_DONE_HEAD,
  W_DONE_TAIL,
} from "./_layout.ts";
import { decodeInline } from "./_codec.ts";
import type { PoolState } from "./_pool_state.ts";
import type { TaskQueue } from "./_task_queue.ts";
import type { WorkerSlot } from "./_worker_slots.ts";

/** What the waiter drains: every worker's completion ring. */
export interface CompletionSource {
  /** Reads every completion ring; returns whether it read anything. */
  drainAll(): boolean;
}

/** Called for each result read: task id, value, start and run time (ms). */
export type OnResult = (
  id: number,
  value: unknown,
  start: number,
  run: number,
) => void;

/** Reads the completion ring of `slot`; returns whether it held anything. */
export function readCompletions(
  mem: SharedMemory,
  slot: WorkerSlot,
  onResult: OnResult,
): boolean {
  const { i32, f64, lay } = mem;
  const base = areaBase(lay, slot.area);
  const tail = Atomics.load(i32, base + W_DONE_TAIL);
  let head = slot.doneHead;
  if (head === tail) return false;
  while (head !== tail) {
    const at = doneOffset(lay, slot.area, head);
    const a32 = at >> 2;
    const a64 = at >> 3;
    onResult(
      i32[a32 + D_ID]!,
      decodeInline(
        mem,
        a32 + D_KIND,
        a32 + D_LEN,
        a64 + D_NUM,
        at + DONE_INLINE_OFFSET,
      ),
      f64[a64 + D_START]!,
      f64[a64 + D_RUN]!,
    );
    head = (head + 1) | 0;
  }
  slot.doneHead = head;
  Atomics.store(i32, base + W_DONE_HEAD, head);
  return true;
}

/**
 * Keeps the main thread waiting for completions while tasks are pending:
 * Atomics.waitAsync on DONE_SEQ, which workers bump when MAIN_WAITING is
 * set. No timer, no polling, nothing pending once every task settled.
 */
export class CompletionWaiter {
  #mem: SharedMemory;
  #state: PoolState;
  #queue: TaskQueue;
  #source: CompletionSource;
  #afterDrain: () => void;
  #waiting = false;

  constructor(
    mem: SharedMemory,
    state: PoolState,
    queue: TaskQueue,
    source: CompletionSource,
    afterDrain: () => void,
  ) {
    this.#mem = mem;
    this.#state = state;
    this.#queue = queue;
    this.#source = source;
    this.#afterDrain = afterDrain;
  }

  /** Starts waiting, unless the pool waits already or nothing is pending. */
  arm(): void {
    const i32 = this.#mem.i32;
    while (!this.#waiting && this.#state.tasks.size > 0) {
      Atomics.store(i32, MAIN_WAITING, 1);
      const seq = Atomics.load(i32, DONE_SEQ);
      // Completions that landed before the flag was up.
      if (this.#drain()) continue;
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
    if (this.#queue.overflowing()) {
      this.#queue.refill();
      if (this.#queue.unannounced) this.#queue.flushKick();
    }
    this.#drain();
    this.arm();
  };

  #drain(): boolean {
    const any = this.#source.drainAll();
    if (any) this.#afterDrain();
    return any;
  }
}
