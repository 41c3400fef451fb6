// The decoder behind LineCodec and DelimiterCodec: frames end at a delimiter
// of one or more bytes. A frame whole inside the chunk is handed out as a
// view of the chunk; only a frame that spans chunks is copied, into one
// FrameBuffer. Invariant: the held bytes never contain a whole delimiter, so
// a new chunk only needs a look at the last `delimiter.length - 1` held bytes
// (a delimiter split across chunks) before searching the chunk itself.

import type { Decoder, FrameCallback } from "./codec.ts";
import { FrameBuffer } from "./_frame_buffer.ts";
import { FrameTooLargeError } from "./frame_too_large_error.ts";

const CR = 0x0d;

/** How a delimited decoder is set up. */
export interface DelimitedDecoderSettings<F> {
  delimiter: Uint8Array;
  maxFrameSize: number;
  /** Drop an over-long frame up to the next delimiter instead of throwing. */
  discard: boolean;
  /** Strip one "\r" before the delimiter (lines). */
  stripCr: boolean;
  /** Turns the frame's bytes (a view) into the frame handed out. */
  map: ((bytes: Uint8Array) => F) | undefined;
}

/** Finds `delimiter` in `chunk` from `from`, or -1 (whole matches only). */
export function indexOfDelimiter(
  chunk: Uint8Array,
  delimiter: Uint8Array,
  from: number,
): number {
  const first = delimiter[0]!;
  const length = delimiter.length;
  if (length === 1) {
    // A few bytes (a drip): a loop beats the call into indexOf.
    if (chunk.length - from <= 16) {
      for (let i = from; i < chunk.length; i++) {
        if (chunk[i] === first) return i;
      }
      return -1;
    }
    return chunk.indexOf(first, from);
  }
  const last = chunk.length - length;
  let index = chunk.indexOf(first, from);
  while (index !== -1 && index <= last) {
    let k = 1;
    while (k < length && chunk[index + k] === delimiter[k]) k++;
    if (k === length) return index;
    index = chunk.indexOf(first, index + 1);
  }
  return -1;
}

/** Decodes delimiter-terminated frames; see the module comment. */
export class DelimitedDecoder<F> implements Decoder<F> {
  readonly #delimiter: Uint8Array;
  readonly #max: number;
  // Most bytes of a frame before the delimiter: one more with a "\r" to strip.
  readonly #rawMax: number;
  readonly #discard: boolean;
  readonly #stripCr: boolean;
  readonly #map: ((bytes: Uint8Array) => F) | undefined;
  // The partial frame; while #discarding, only the last bytes seen (a
  // possible start of a delimiter).
  readonly #held: FrameBuffer;
  #discarding = false;

  constructor(settings: DelimitedDecoderSettings<F>) {
    this.#delimiter = settings.delimiter;
    this.#max = settings.maxFrameSize;
    this.#rawMax = settings.maxFrameSize + (settings.stripCr ? 1 : 0);
    this.#discard = settings.discard;
    this.#stripCr = settings.stripCr;
    this.#map = settings.map;
    this.#held = new FrameBuffer(this.#rawMax + this.#delimiter.length - 1);
  }

  get buffered(): number {
    return this.#held.length;
  }

  takeBuffered(): Uint8Array {
    const rest = this.#discarding
      ? new Uint8Array(0)
      : this.#held.bytes.slice(0, this.#held.length);
    this.#held.take();
    this.#discarding = false;
    return rest;
  }

  decode(
    chunk: Uint8Array,
    onFrame: FrameCallback<F>,
    onDiscard?: (error: FrameTooLargeError) => void,
  ): number {
    const delimiter = this.#delimiter;
    const dl = delimiter.length;
    const held = this.#held;
    const n = chunk.length;
    let pos = 0;
    if (dl > 1 && held.length > 0) {
      // A delimiter that began in the held bytes and ends in this chunk.
      const tail = Math.min(dl - 1, held.length);
      const bytes = held.bytes;
      for (let s = held.length - tail; s < held.length; s++) {
        const inHeld = held.length - s;
        const inChunk = dl - inHeld;
        if (inChunk > n) continue;
        let k = 0;
        while (k < inHeld && bytes[s + k] === delimiter[k]) k++;
        if (k < inHeld) continue;
        while (k < dl && chunk[k - inHeld] === delimiter[k]) k++;
        if (k < dl) continue;
        pos = inChunk;
        if (this.#discarding) {
          this.#discarding = false;
          held.take();
        } else {
          const frame = held.take(0, s);
          if (!this.#emit(frame, onFrame, onDiscard)) return pos;
        }
        break;
      }
    }
    while (pos < n) {
      const index = indexOfDelimiter(chunk, delimiter, pos);
      if (index === -1) {
        this.#hold(chunk, pos, onDiscard);
        return n;
      }
      const next = index + dl;
      if (this.#discarding) {
        this.#discarding = false;
        held.take();
      } else if (held.length === 0) {
        if (!this.#emit(chunk.subarray(pos, index), onFrame, onDiscard)) {
          return next;
        }
      } else {
        const total = held.length + index - pos;
        if (total > this.#rawMax) {
          const last = index > pos
            ? chunk[index - 1]
            : held.bytes[held.length - 1];
          held.take();
          this.#tooLarge(
            total - (this.#stripCr && last === CR ? 1 : 0),
            onDiscard,
          );
        } else {
          held.append(chunk, pos, index);
          if (!this.#emit(held.take(), onFrame, onDiscard)) return next;
        }
      }
      pos = next;
    }
    return n;
  }

  /** Keeps chunk[pos, end) of a frame whose delimiter has not come yet. */
  #hold(
    chunk: Uint8Array,
    pos: number,
    onDiscard: ((error: FrameTooLargeError) => void) | undefined,
  ): void {
    const held = this.#held;
    const n = chunk.length;
    const keep = this.#delimiter.length - 1;
    if (!this.#discarding) {
      const total = held.length + n - pos;
      // Up to `keep` bytes may be the start of a delimiter.
      if (total <= this.#rawMax + keep) {
        held.append(chunk, pos, n);
        return;
      }
      const size = total - keep - (this.#stripCr ? 1 : 0);
      if (!this.#discard) held.take();
      this.#tooLarge(size, onDiscard);
      this.#discarding = true;
    }
    // Discarding: remember only the last `keep` bytes seen.
    if (keep === 0) {
      held.take();
      return;
    }
    if (n - pos >= keep) {
      held.take();
      held.append(chunk, n - keep, n);
    } else {
      const fromHeld = Math.min(held.length, keep - (n - pos));
      const bytes = held.bytes;
      bytes.copyWithin(0, held.length - fromHeld, held.length);
      held.length = fromHeld;
      held.append(chunk, pos, n);
    }
  }

  /** Hands out one frame; false when the callback asked to stop. */
  #emit(
    bytes: Uint8Array,
    onFrame: FrameCallback<F>,
    onDiscard: ((error: FrameTooLargeError) => void) | undefined,
  ): boolean {
    let frame = bytes;
    if (
      this.#stripCr && frame.length > 0 && frame[frame.length - 1] === CR
    ) {
      frame = frame.subarray(0, frame.length - 1);
    }
    if (frame.length > this.#max) {
      this.#tooLarge(frame.length, onDiscard);
      return true;
    }
    const map = this.#map;
    return onFrame(map === undefined ? frame as F : map(frame)) !== false;
  }

  /** Throws, or in discard mode reports, an over-long frame. */
  #tooLarge(
    size: number,
    onDiscard: ((error: FrameTooLargeError) => void) | undefined,
  ): void {
    const error = new FrameTooLargeError(size, this.#max);
    if (!this.#discard) throw error;
    onDiscard?.(error);
  }
}
