// The pool's side of completions: each worker's completion ring in shared
// memory, read on every wake of the main thread (Atomics.waitAsync on
// DONE_SEQ, which workers bump when main waits), and polled for a few
// microseconds after a small burst of submissions (see `spin`).

import {
  areaBase,
  DONE_SEQ,
  doneOffset,
  MAIN_WAITING,
  type SharedMemory,
  W_DONE_HEAD,
  W_DONE_TAIL,
} from "./_layout.ts";
import { readResult } from "./_codec.ts";
import type { PoolState } from "./_pool_state.ts";
import type { TaskQueue } from "./_task_queue.ts";
import type { WorkerSlot } from "./_worker_slots.ts";

// Waking the main thread through Atomics.waitAsync takes 30-70 µs here (the
// event loop sleeps in the kernel), far more than a tiny task's round trip
// through shared memory (a few µs). So after a burst of at most SPIN_TASKS
// pending tasks the pool polls the completion rings for about twice the
// usual time from submission to result (a moving average over every result
// read, whichever way it came), and not at all while that is SPIN_MAX_MS or
// more: long tasks cost the main thread nothing. At most SPIN_STREAK bursts
// in a row are settled this way; then a result waits for the event loop, so
// that a loop of `await pool.run(...)` does not starve timers and I/O.
const SPIN_TASKS = 4;
const SPIN_MAX_MS = 0.05;
const SPIN_STREAK = 64;

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
  const { i32, lay } = mem;
  const base = areaBase(lay, slot.area);
  const tail = Atomics.load(i32, base + W_DONE_TAIL);
  let head = slot.doneHead;
  if (head === tail) return false;
  while (head !== tail) {
    readResult(mem, doneOffset(lay, slot.area, head), onResult);
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
  #spins = 0;

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

  /**
   * After a small burst of submissions: polls the completion rings for a few
   * microseconds, so that tiny tasks settle without an event-loop wake-up.
   * Workers do not notify meanwhile (MAIN_WAITING is down).
   */
  spin(): void {
    if (
      this.#state.tasks.size > SPIN_TASKS || this.#spins >= SPIN_STREAK ||
      this.#state.turnaround >= SPIN_MAX_MS
    ) return;
    this.#spins++;
    const i32 = this.#mem.i32;
    Atomics.store(i32, MAIN_WAITING, 0);
    const until = performance.now() + 2 * this.#state.turnaround;
    do {
      if (this.#drain()) break;
    } while (performance.now() < until);
    if (this.#waiting) {
      // Still armed: put the flag back, then read what landed while it was
      // down (a worker then did not notify).
      Atomics.store(i32, MAIN_WAITING, 1);
      this.#drain();
    }
  }

  #onWake = (): void => {
    this.#spins = 0;
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
