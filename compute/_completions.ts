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
  doneOffset,
  type SharedMemory,
  W_DONE_HEAD,
  W_DONE_TAIL,
} from "./_layout.ts";
import { decodeInline } from "./_codec.ts";
import type { WorkerSlot } from "./_worker_slots.ts";

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
