// Assembles a frame that spans reads: one buffer, grown geometrically (so a
// 1-byte drip costs amortized O(1) per byte, not a re-concatenation per read)
// and never past the decoder's cap. A buffer grown past RETAIN_BYTES is
// dropped once its frame is handed out, so one large frame does not pin
// memory for the rest of a connection's life.

const EMPTY = new Uint8Array(0);
const MIN_CAPACITY = 64;
const RETAIN_BYTES = 64 * 1024;
const SMALL_COPY = 16;

/** A growable byte buffer for one partial frame. */
export class FrameBuffer {
  /** Backing store; bytes [0, length) are the partial frame. */
  bytes: Uint8Array = EMPTY;
  /** Bytes held. */
  length = 0;
  readonly #cap: number;

  /** @param cap The most bytes this buffer will ever need to hold. */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Appends `src[start, end)`; the caller has checked the cap. */
  append(src: Uint8Array, start: number, end: number): void {
    const need = this.length + end - start;
    if (need > this.bytes.length) this.#grow(need);
    const bytes = this.bytes;
    if (end - start <= SMALL_COPY) {
      // A drip: a loop beats making a subarray for `set`.
      for (let i = start, at = this.length; i < end; i++, at++) {
        bytes[at] = src[i]!;
      }
    } else {
      bytes.set(src.subarray(start, end), this.length);
    }
    this.length = need;
  }

  /**
   * Empties the buffer and returns a view of what it held. The view stays
   * valid until the next append (the caller hands it out, then appends).
   */
  take(start = 0, end: number = this.length): Uint8Array {
    const view = this.bytes.subarray(start, end);
    this.length = 0;
    if (this.bytes.length > RETAIN_BYTES) this.bytes = EMPTY;
    return view;
  }

  #grow(need: number): void {
    const capacity = Math.min(
      Math.max(need, this.bytes.length * 2, MIN_CAPACITY),
      Math.max(need, this.#cap),
    );
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}
