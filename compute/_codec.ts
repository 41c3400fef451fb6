// The inline codec: small inputs and results (numbers, booleans, null,
// undefined, short strings and bytes) are written straight into a ring slot
// or a completion entry; bytes and strings up to ARENA_MAX_ITEM go through
// the priority's byte arena; anything else travels by postMessage.

import * as L from "./_layout.ts";
import type { Views } from "./_layout.ts";

// Value kinds (the kind word of a slot or completion entry)
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

/** Reads a value that the pool wrote to the arena. */
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

/**
 * Writes a task into the ring slot at byte offset `slot` (not its state):
 * id, function, submission time, and its input inline when `inline` and it
 * fits. Returns whether the input went inline; if not, the caller sets the
 * slot's kind.
 */
export function writeSlot(
  v: Views,
  slot: number,
  id: number,
  fn: number,
  enqueued: number,
  input: unknown,
  inline: boolean,
): boolean {
  const s32 = slot >> 2;
  v.i32[s32 + L.S_ID] = id;
  v.i32[s32 + L.S_FN] = fn;
  v.f64[(slot >> 3) + L.S_ENQUEUED] = enqueued;
  return inline && encodeInline(
    v,
    input,
    s32 + L.S_KIND,
    s32 + L.S_LEN,
    (slot >> 3) + L.S_NUM,
    slot + L.SLOT_INLINE_OFFSET,
    L.SLOT_INLINE_BYTES,
  );
}

/** Reads the inline input of the ring slot at byte offset `slot`. */
export function readSlotInput(v: Views, slot: number): unknown {
  return decodeInline(
    v,
    (slot >> 2) + L.S_KIND,
    (slot >> 2) + L.S_LEN,
    (slot >> 3) + L.S_NUM,
    slot + L.SLOT_INLINE_OFFSET,
  );
}

/**
 * Writes a result into the completion entry at byte offset `at`; returns
 * `false` (nothing written) when the value must go by postMessage.
 */
export function writeResult(
  v: Views,
  at: number,
  id: number,
  value: unknown,
  start: number,
  run: number,
): boolean {
  const a32 = at >> 2;
  const a64 = at >> 3;
  if (
    !encodeInline(
      v,
      value,
      a32 + L.D_KIND,
      a32 + L.D_LEN,
      a64 + L.D_NUM,
      at + L.DONE_INLINE_OFFSET,
      L.DONE_INLINE_BYTES,
    )
  ) return false;
  v.i32[a32 + L.D_ID] = id;
  v.f64[a64 + L.D_START] = start;
  v.f64[a64 + L.D_RUN] = run;
  return true;
}

/**
 * Reads the completion entry at byte offset `at` and hands its task id,
 * value, start and run time to `onResult`.
 */
export function readResult(
  v: Views,
  at: number,
  onResult: (id: number, value: unknown, start: number, run: number) => void,
): void {
  const a32 = at >> 2;
  const a64 = at >> 3;
  onResult(
    v.i32[a32 + L.D_ID]!,
    decodeInline(
      v,
      a32 + L.D_KIND,
      a32 + L.D_LEN,
      a64 + L.D_NUM,
      at + L.DONE_INLINE_OFFSET,
    ),
    v.f64[a64 + L.D_START]!,
    v.f64[a64 + L.D_RUN]!,
  );
}
