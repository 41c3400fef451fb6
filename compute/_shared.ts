// Layout of the shared memory between the pool (main thread) and its workers,
// and the inline codec used for small inputs and results. Both sides import
// this file, so the layout cannot drift between them.

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
// 1 once the pool gave up on this worker (stuck in a task past its cancel):
// should the task ever return, the worker exits instead of going on.
export const W_RETIRED = 5;
export const W_BATCH_IDS = 8; // MAX_BATCH ids
// MAX_BATCH cancel flags, one per batch slot: 0, or why the task in that slot
// was cancelled (CANCEL_ABORT, CANCEL_TIMEOUT). A flag belongs to the one
// task claimed into its slot: the claim clears it (under LOCK), and the pool
// raises it only under LOCK after finding the task's id in the slot.
export const W_CANCEL = W_BATCH_IDS + MAX_BATCH;
export const WORKER_HEADER_BYTES = (W_CANCEL + MAX_BATCH) * 4;
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

// Inline value kinds
export const K_UNDEFINED = 0;
export const K_NULL = 1;
export const K_TRUE = 2;
export const K_FALSE = 3;
export const K_NUMBER = 4;
export const K_STRING = 5;
export const K_BYTES = 6;
export const K_BUFFER = 7;
export const K_SIDE = 8; // value travels by postMessage
export const K_ARENA_BYTES = 9;
export const K_ARENA_BUFFER = 10;
export const K_ARENA_STRING = 11;
// Like K_SIDE, but the input's buffers move (a transfer list): once sent to a
// worker the pool cannot send it again, so the worker never hands it back.
export const K_SIDE_MOVED = 12;

/** Whether a slot of this kind gets its input by postMessage. */
export function isSide(kind: number): boolean {
  return kind === K_SIDE || kind === K_SIDE_MOVED;
}

/** Byte offsets of each region inside the one SharedArrayBuffer. */
export interface Layout {
  readonly control: number;
  readonly rings: number;
  readonly names: number;
  readonly arena: number;
  readonly workers: number;
  readonly total: number;
}

/** Computes the layout for `workers` workers. */
export function layout(workers: number): Layout {
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
    total: workersAt + workers * WORKER_AREA_BYTES,
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Writes `value` inline at byte offset `at` (kind at Int32 `kindWord`, length
 * at `lenWord`, number at Float64 `numWord`, bytes at `bytesAt`). Returns
 * `false` when the value must travel by postMessage instead.
 */
export function encodeInline(
  v: Views,
  value: unknown,
  kindWord: number,
  lenWord: number,
  numWord: number,
  bytesAt: number,
  capacity: number,
): boolean {
  switch (typeof value) {
    case "number":
      v.i32[kindWord] = K_NUMBER;
      v.f64[numWord] = value;
      return true;
    case "undefined":
      v.i32[kindWord] = K_UNDEFINED;
      return true;
    case "boolean":
      v.i32[kindWord] = value ? K_TRUE : K_FALSE;
      return true;
    case "string": {
      if (value.length > capacity) return false;
      const { read, written } = encoder.encodeInto(
        value,
        v.u8.subarray(bytesAt, bytesAt + capacity),
      );
      if (read !== value.length) return false;
      v.i32[kindWord] = K_STRING;
      v.i32[lenWord] = written;
      return true;
    }
    case "object": {
      if (value === null) {
        v.i32[kindWord] = K_NULL;
        return true;
      }
      if (value instanceof Uint8Array) {
        if (
          value.constructor !== Uint8Array || value.byteLength > capacity
        ) return false;
        v.u8.set(value, bytesAt);
        v.i32[kindWord] = K_BYTES;
        v.i32[lenWord] = value.byteLength;
        return true;
      }
      if (value instanceof ArrayBuffer) {
        if (value.byteLength > capacity || value.resizable) return false;
        v.u8.set(new Uint8Array(value), bytesAt);
        v.i32[kindWord] = K_BUFFER;
        v.i32[lenWord] = value.byteLength;
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

/** Reads a value written by {@linkcode encodeInline}. */
export function decodeInline(
  v: Views,
  kindWord: number,
  lenWord: number,
  numWord: number,
  bytesAt: number,
): unknown {
  switch (v.i32[kindWord]) {
    case K_NUMBER:
      return v.f64[numWord];
    case K_UNDEFINED:
      return undefined;
    case K_NULL:
      return null;
    case K_TRUE:
      return true;
    case K_FALSE:
      return false;
    case K_STRING: {
      const len = v.i32[lenWord]!;
      // TextDecoder does not accept views of shared memory everywhere: copy.
      return decoder.decode(v.u8.slice(bytesAt, bytesAt + len));
    }
    case K_BYTES:
      return v.u8.slice(bytesAt, bytesAt + v.i32[lenWord]!);
    case K_BUFFER:
      return v.u8.slice(bytesAt, bytesAt + v.i32[lenWord]!).buffer;
    default:
      throw new TypeError(
        `Cannot decode task value: unknown kind ${v.i32[kindWord]}`,
      );
  }
}

/** Whether a slot of this kind holds bytes in its priority's arena. */
export function usesArena(kind: number): boolean {
  return kind >= K_ARENA_BYTES && kind <= K_ARENA_STRING;
}

/** Reads a value that {@linkcode ComputePool} wrote to the arena. */
export function decodeArena(
  v: Views,
  kind: number,
  at: number,
  len: number,
): unknown {
  const bytes = v.u8.slice(at, at + len);
  if (kind === K_ARENA_BYTES) return bytes;
  if (kind === K_ARENA_BUFFER) return bytes.buffer;
  return decoder.decode(bytes);
}

/** Absolute time in milliseconds, comparable across threads. */
export function now(): number {
  return ORIGIN + performance.now();
}
const ORIGIN = performance.timeOrigin;

// Messages between the pool and its workers.
/** Main → worker: start. */
export interface InitMessage {
  readonly t: "init";
  readonly sab: SharedArrayBuffer;
  /** Index of the worker area this worker owns. */
  readonly area: number;
  /** Number of worker areas in the layout. */
  readonly areas: number;
  readonly moduleUrl: string;
}
