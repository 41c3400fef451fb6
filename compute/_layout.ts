// Layout of the one SharedArrayBuffer between the pool (main thread) and its
// workers: the control block, one task ring and one byte arena per priority,
// the task-name table, and one area per worker (batch header with the cancel
// flags, then a completion ring). Both sides import this file, so the layout
// cannot drift between them; every address is computed by the helpers at the
// end, never by hand.

/** Number of priorities; ring `p` holds the tasks of priority `p`. */
export const PRIORITIES = 4;

// Control words (Int32 indices into the control block).
export const LOCK = 0; // claim spinlock among workers
export const WORK_SEQ = 1; // futex workers sleep on; bumped when tasks arrive
export const SLEEPERS = 2; // workers currently in Atomics.wait
export const SHUTDOWN = 3; // 1 once the pool stops its workers
export const DONE_SEQ = 4; // futex main waits on (Atomics.waitAsync)
export const MAIN_WAITING = 5; // 1 while main waits for completions
export const SPINNER = 6; // 1 while an idle worker spins for work
export const LIVE_WORKERS = 7; // workers sharing the queues (fair share)
export const HEAD = 8; // HEAD + p: next ring position to claim (workers)
export const TAIL = 12; // TAIL + p: next ring position to fill (main)
export const QUEUED = 16; // QUEUED + p: live (not cancelled) tasks in ring p
export const ARENA_HEAD = 20; // ARENA_HEAD + p: arena bytes of ring p consumed
export const CONTROL_WORDS = 32;
// Float64 control slots (index into a Float64Array over the same block).
export const F_AGING_MS = 16; // byte offset 128
export const CONTROL_BYTES = 192;

// Task ring: RING_SLOTS slots per priority, SLOT_BYTES each.
export const RING_SLOTS = 16384;
export const SLOT_BYTES = 128;
// Slot fields (Int32 offsets within a slot)
export const S_STATE = 0;
export const S_ID = 1;
export const S_FN = 2;
export const S_KIND = 3;
export const S_LEN = 4;
export const S_AEND = 5; // arena position after this slot's bytes
// Float64 offsets within a slot
export const S_NUM = 3; // byte 24
export const S_ENQUEUED = 4; // byte 32
export const SLOT_INLINE_OFFSET = 40;
export const SLOT_INLINE_BYTES = SLOT_BYTES - SLOT_INLINE_OFFSET;

// The pool publishes new tasks to the workers (TAIL, QUEUED) at least every
// PUBLISH_EVERY tasks: at most that many slots past a ring's published tail
// may be written but not yet visible.
export const PUBLISH_EVERY = 256;

// Slot states
export const EMPTY = 0;
export const READY = 1;
export const CLAIMED = 2;
export const CANCELLED = 3;

// Per-worker area: header words then a completion ring.
export const MAX_BATCH = 256;
export const W_CUR = 0; // id of the task running (0: none)
export const W_BATCH_N = 1; // tasks in the claimed batch
export const W_BATCH_POS = 2; // index in the batch of the running task
export const W_DONE_HEAD = 3; // completion ring: next entry main reads
export const W_DONE_TAIL = 4; // completion ring: next entry the worker writes
// 1 once the pool retires this worker (idle, or stuck in a task past its
// cancel): it exits at its next look instead of going on.
export const W_RETIRED = 5;
// Byte offset in the header of a Float64: when the worker last had work (ms).
export const W_ACTIVE_BYTE = 24; // words 6 and 7
export const W_BATCH_IDS = 8; // MAX_BATCH ids
// MAX_BATCH cancel flags, one per batch slot: 0, or why the task in that slot
// was cancelled (CANCEL_ABORT, CANCEL_TIMEOUT). A flag belongs to the one
// task claimed into its slot: the claim clears it (under LOCK), and the pool
// raises it only under LOCK after finding the task's id in the slot.
export const W_CANCEL = W_BATCH_IDS + MAX_BATCH;
// Async tasks a worker awaits while it goes on with others
// (`concurrentTasksPerWorker`) leave their batch slot for a flight slot: ids
// and cancel flags, with the same rules as the batch's.
export const MAX_FLIGHTS = 64;
export const W_FLIGHTS = W_CANCEL + MAX_BATCH; // tasks in flight
export const W_FLIGHT_IDS = W_FLIGHTS + 1; // MAX_FLIGHTS ids (0: free)
export const W_FLIGHT_CANCEL = W_FLIGHT_IDS + MAX_FLIGHTS; // their flags
// Rounded to 8 bytes: completion entries hold Float64s.
export const WORKER_HEADER_BYTES =
  Math.ceil((W_FLIGHT_CANCEL + MAX_FLIGHTS) / 2) * 8;
export const DONE_SLOTS = 8192;
export const DONE_BYTES = 128;
// Completion entry fields
export const D_ID = 0; // Int32
export const D_KIND = 1; // Int32
export const D_LEN = 2; // Int32
export const D_NUM = 2; // Float64, byte 16
export const D_START = 3; // Float64, byte 24: absolute start time (ms)
export const D_RUN = 4; // Float64, byte 32: run time (ms)
export const DONE_INLINE_OFFSET = 40;
export const DONE_INLINE_BYTES = DONE_BYTES - DONE_INLINE_OFFSET;
export const WORKER_AREA_BYTES = WORKER_HEADER_BYTES + DONE_SLOTS * DONE_BYTES;

// Byte arena, one per priority: inputs too big for a slot (bytes, strings up
// to ARENA_MAX_ITEM) are copied here instead of going by postMessage. The pool
// appends; a worker frees up to a slot's end when it claims (or skips) the
// slot, so claims in ring order free the arena in order.
export const ARENA_BYTES = 4 << 20;
export const ARENA_MAX_ITEM = 1 << 20;

// Function-name table: the pool assigns indices, workers read names lazily.
export const MAX_NAMES = 256;
export const NAME_BYTES = 128;

// Values of a cancel flag (W_CANCEL).
export const CANCEL_ABORT = 1;
export const CANCEL_TIMEOUT = 2;

/** Byte offsets of each region inside the one SharedArrayBuffer. */
export interface Layout {
  readonly control: number;
  readonly rings: number;
  readonly names: number;
  readonly arena: number;
  readonly workers: number;
  readonly total: number;
}

/** Computes the layout for `areas` worker areas. */
export function layout(areas: number): Layout {
  const control = 0;
  const rings = CONTROL_BYTES;
  const names = rings + PRIORITIES * RING_SLOTS * SLOT_BYTES;
  const arena = names + MAX_NAMES * NAME_BYTES;
  const workersAt = arena + PRIORITIES * ARENA_BYTES;
  return {
    control,
    rings,
    names,
    arena,
    workers: workersAt,
    total: workersAt + areas * WORKER_AREA_BYTES,
  };
}

/** Typed views over the whole shared buffer. */
export interface Views {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
}

/** Creates the views shared by both sides. */
export function views(sab: SharedArrayBuffer): Views {
  return {
    i32: new Int32Array(sab),
    f64: new Float64Array(sab),
    u8: new Uint8Array(sab),
  };
}

/** The shared buffer with its views and layout. */
export interface SharedMemory extends Views {
  readonly sab: SharedArrayBuffer;
  readonly lay: Layout;
}

/** Allocates the shared buffer for `areas` worker areas. */
export function createSharedMemory(areas: number): SharedMemory {
  const lay = layout(areas);
  return openSharedMemory(new SharedArrayBuffer(lay.total), areas);
}

/** Views over a shared buffer made by {@linkcode createSharedMemory}. */
export function openSharedMemory(
  sab: SharedArrayBuffer,
  areas: number,
): SharedMemory {
  return { sab, lay: layout(areas), ...views(sab) };
}

/** Byte offset of position `pos` (wrapping) of the task ring of priority `p`. */
export function slotOffset(lay: Layout, p: number, pos: number): number {
  return lay.rings + (p * RING_SLOTS + (pos & (RING_SLOTS - 1))) * SLOT_BYTES;
}

/** Int32 index of the header of worker area `area`. */
export function areaBase(lay: Layout, area: number): number {
  return (lay.workers + area * WORKER_AREA_BYTES) >> 2;
}

/** Byte offset of entry `index` (wrapping) of the completion ring of `area`. */
export function doneOffset(lay: Layout, area: number, index: number): number {
  return lay.workers + area * WORKER_AREA_BYTES + WORKER_HEADER_BYTES +
    (index & (DONE_SLOTS - 1)) * DONE_BYTES;
}

/** Byte offset of entry `index` of the task-name table. */
export function nameOffset(lay: Layout, index: number): number {
  return lay.names + index * NAME_BYTES;
}

/**
 * Takes the claim lock (workers claiming, handing back; the pool dropping
 * tombstones or looking for a task to cancel). Critical sections are a few
 * microseconds, but a holder may lose its core: after a while a worker
 * sleeps briefly instead of burning its own (the main thread cannot block).
 */
export function lock(i32: Int32Array, mayBlock: boolean): void {
  for (let tries = 1; Atomics.compareExchange(i32, LOCK, 0, 1) !== 0; tries++) {
    if (mayBlock && (tries & 1023) === 0) Atomics.wait(i32, LOCK, 1, 0.05);
  }
}

/** Releases {@linkcode lock}. */
export function unlock(i32: Int32Array): void {
  Atomics.store(i32, LOCK, 0);
}

/** Absolute time in milliseconds, comparable across threads. */
export function now(): number {
  return ORIGIN + performance.now();
}
const ORIGIN = performance.timeOrigin;
