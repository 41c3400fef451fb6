// The worker's side of completions: results that fit an entry go into this
// worker's completion ring in shared memory (main drains it on every wake);
// the rest, and errors, go by postMessage, batched (one message per batch, or
// per 64 results, or before the worker waits) instead of one per task.

import {
  areaBase,
  DONE_SEQ,
  DONE_SLOTS,
  doneOffset,
  MAIN_WAITING,
  type SharedMemory,
  SHUTDOWN,
  W_DONE_HEAD,
  W_DONE_TAIL,
} from "./_layout.ts";
import { writeResult } from "./_codec.ts";
import { serializeError } from "./_errors.ts";
import type { FromWorker, SideResult } from "./_protocol.ts";

/** Writes one worker's results. */
export class ResultWriter {
  #mem: SharedMemory;
  #i32: Int32Array;
  #area: number;
  #base: number;
  #tail: number;
  #post: (message: FromWorker, transfer?: Transferable[]) => void;
  #retired: () => boolean;
  #pending: SideResult[] = [];
  #pendingTransfer: Transferable[] = [];

  constructor(
    mem: SharedMemory,
    area: number,
    post: (message: FromWorker, transfer?: Transferable[]) => void,
    retired: () => boolean,
  ) {
    this.#mem = mem;
    this.#i32 = mem.i32;
    this.#area = area;
    this.#base = areaBase(mem.lay, area);
    this.#tail = Atomics.load(this.#i32, this.#base + W_DONE_TAIL);
    this.#post = post;
    this.#retired = retired;
  }

  /** Wakes the main thread if it waits for completions. */
  notifyMain(): void {
    const i32 = this.#i32;
    if (
      Atomics.load(i32, MAIN_WAITING) === 1 &&
      Atomics.exchange(i32, MAIN_WAITING, 0) === 1
    ) {
      Atomics.add(i32, DONE_SEQ, 1);
      Atomics.notify(i32, DONE_SEQ);
    }
  }

  /** Reports the outcome of task `id`. */
  complete(
    id: number,
    ok: boolean,
    value: unknown,
    start: number,
    run: number,
    transfer: Transferable[] | undefined,
  ): void {
    const i32 = this.#i32;
    const head = this.#base + W_DONE_HEAD;
    if (ok && transfer === undefined) {
      // Wait for room in the completion ring (main drains it on every wake).
      while (((this.#tail - Atomics.load(i32, head)) | 0) >= DONE_SLOTS) {
        // Stopped or retired: nobody reads these results now.
        if (Atomics.load(i32, SHUTDOWN) === 1 || this.#retired()) return;
        this.notifyMain();
        Atomics.wait(i32, head, Atomics.load(i32, head), 1);
      }
      const at = doneOffset(this.#mem.lay, this.#area, this.#tail);
      if (writeResult(this.#mem, at, id, value, start, run)) {
        this.#tail = (this.#tail + 1) | 0;
        Atomics.store(i32, this.#base + W_DONE_TAIL, this.#tail);
        this.notifyMain();
        return;
      }
    }
    this.#pending.push({
      id,
      ok,
      value: ok ? value : serializeError(value),
      start,
      run,
    });
    if (transfer !== undefined) this.#pendingTransfer.push(...transfer);
    if (this.#pending.length >= 64) this.flush();
  }

  /** Sends the results waiting for a message. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const results = this.#pending;
    const transfer = this.#pendingTransfer;
    this.#pending = [];
    this.#pendingTransfer = [];
    try {
      this.#post({ type: "results", results }, transfer);
    } catch {
      // One result cannot be cloned (a function, a class instance with
      // private state...): send them one by one and fail only that task.
      for (const r of results) {
        try {
          this.#post({ type: "results", results: [r] }); // copies
        } catch (error) {
          this.#post({
            type: "results",
            results: [{ ...r, ok: false, value: serializeError(error) }],
          });
        }
      }
    }
  }
}
