// The shared-memory ring behind `Channel`: its layout, the producers' lock,
// appending and taking records, and the wait of a sender for space.
//
// Layout of the shared memory (Int32 words, then the ring from byte 64):
//   0-1 the Waker's state (a Waker on the same buffer uses word 0)
//   2   producers' lock (0 free, 1 held, 2 held with sleepers)
//   3   head: bytes consumed (u32, wraps), written by the receiver only
//   4   tail: bytes produced (u32, wraps), written under the lock only
//   5   space sequence, bumped by the receiver when it frees space
//   6   senders waiting for space
//   7   ring capacity in bytes (a power of two)
//   8   closed flag
// A record is an 8-byte header (u32 length, u32 kind) then the payload,
// padded to 8 bytes. Headers never straddle the end of the ring (capacity
// and records are multiples of 8); payloads may, and are copied in two parts.

const LOCK = 2;
const HEAD = 3;
const TAIL = 4;
const SPACE = 5;
const WAITERS = 6;
const CAPACITY = 7;
const CLOSED = 8;
const RING_OFFSET = 64;
/** Bytes of a record's header. */
export const HEADER = 8;

const DEFAULT_CAPACITY = 1 << 20;
const MIN_CAPACITY = 64;
const MAX_CAPACITY = 1 << 30;
// Spins before a contended sender sleeps on the lock word.
const SPINS = 64;
// A sender waiting for space re-checks at least this often, so an abort or a
// missed notification costs at most this long.
const SPACE_POLL_MS = 50;

const NOT_A_CHANNEL =
  "Cannot create channel as 'buffer' must be the SharedArrayBuffer of a channel";

/**
 * New shared memory for a ring of `requested` bytes (rounded up to a power
 * of two), or `buffer` once checked to be a channel's.
 */
export function channelBuffer(
  buffer: SharedArrayBuffer | undefined,
  capacity: number | undefined,
): SharedArrayBuffer {
  if (buffer !== undefined) {
    if (
      !(buffer instanceof SharedArrayBuffer) ||
      buffer.byteLength < RING_OFFSET + MIN_CAPACITY
    ) throw new TypeError(NOT_A_CHANNEL);
    const size = new Int32Array(buffer, 0, 16)[CAPACITY]!;
    if (
      size < MIN_CAPACITY || (size & (size - 1)) !== 0 ||
      RING_OFFSET + size !== buffer.byteLength
    ) throw new TypeError(NOT_A_CHANNEL);
    return buffer;
  }
  const requested = capacity ?? DEFAULT_CAPACITY;
  if (
    typeof requested !== "number" || Number.isNaN(requested) ||
    requested < MIN_CAPACITY || requested > MAX_CAPACITY
  ) {
    throw new RangeError(
      `Cannot create channel as 'capacity' must be a number from ${MIN_CAPACITY} to ${MAX_CAPACITY}: received ${requested}`,
    );
  }
  const size = 2 ** Math.ceil(Math.log2(requested));
  const created = new SharedArrayBuffer(RING_OFFSET + size);
  new Int32Array(created, 0, 16)[CAPACITY] = size;
  return created;
}

/** One thread's view of a channel's ring (from `channelBuffer`). */
export class ChannelRing {
  readonly capacity: number;
  #words: Int32Array;
  #ring: Uint8Array;
  #view: DataView;
  #mask: number;

  constructor(buffer: SharedArrayBuffer) {
    this.#words = new Int32Array(buffer, 0, 16);
    const capacity = this.#words[CAPACITY]!;
    this.capacity = capacity;
    this.#ring = new Uint8Array(buffer, RING_OFFSET, capacity);
    this.#view = new DataView(buffer, RING_OFFSET, capacity);
    this.#mask = capacity - 1;
  }

  /** Bytes taken by queued records and their headers. */
  get queuedBytes(): number {
    return (Atomics.load(this.#words, TAIL) -
      Atomics.load(this.#words, HEAD)) >>> 0;
  }

  /** Whether any handle closed the channel. */
  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) !== 0;
  }

  /** Whether a record is queued. */
  get pending(): boolean {
    return Atomics.load(this.#words, HEAD) !== Atomics.load(this.#words, TAIL);
  }

  /**
   * Appends a record under the producers' lock (the caller checked that it
   * can fit the ring); `false` if there is no room now.
   */
  append(kind: number, payload: Uint8Array): boolean {
    const length = payload.length;
    const need = HEADER + ((length + 7) & ~7);
    const words = this.#words;
    this.#lock();
    try {
      if (Atomics.load(words, CLOSED) !== 0) {
        throw new TypeError("Cannot send message as the channel is closed");
      }
      const tail = Atomics.load(words, TAIL) >>> 0;
      const used = (tail - (Atomics.load(words, HEAD) >>> 0)) >>> 0;
      if (this.capacity - used < need) return false;
      const at = tail & this.#mask;
      this.#view.setUint32(at, length, true);
      this.#view.setUint32(at + 4, kind, true);
      const start = (at + HEADER) & this.#mask;
      const first = Math.min(length, this.capacity - start);
      const ring = this.#ring;
      if (first === length) ring.set(payload, start);
      else {
        ring.set(payload.subarray(0, first), start);
        ring.set(payload.subarray(first), 0);
      }
      // Publishes the record: the receiver reads the tail before the bytes.
      Atomics.store(words, TAIL, (tail + need) | 0);
    } finally {
      this.#unlock();
    }
    return true;
  }

  /**
   * Takes up to `max` records, oldest first, each off the ring before its
   * `onRecord` call; stops before a record whose kind `held` refuses (it
   * stays queued). Wakes senders waiting for space. Receiver only.
   */
  take(
    max: number,
    held: (kind: number) => boolean,
    onRecord: (kind: number, payload: Uint8Array) => void,
  ): number {
    const words = this.#words;
    const view = this.#view;
    const mask = this.#mask;
    let head = Atomics.load(words, HEAD) >>> 0;
    let count = 0;
    try {
      while (count < max) {
        const tail = Atomics.load(words, TAIL) >>> 0;
        if (head === tail) break;
        const at = head & mask;
        const length = view.getUint32(at, true);
        const kind = view.getUint32(at + 4, true);
        if (held(kind)) break;
        const start = (at + HEADER) & mask;
        const first = Math.min(length, this.capacity - start);
        let bytes: Uint8Array;
        if (first === length) {
          bytes = this.#ring.slice(start, start + length);
        } else {
          bytes = new Uint8Array(length);
          bytes.set(this.#ring.subarray(start, start + first));
          bytes.set(this.#ring.subarray(0, length - first), first);
        }
        head = (head + HEADER + ((length + 7) & ~7)) >>> 0;
        Atomics.store(words, HEAD, head | 0);
        count++;
        onRecord(kind, bytes);
      }
    } finally {
      if (count > 0 && Atomics.load(words, WAITERS) > 0) {
        Atomics.add(words, SPACE, 1);
        Atomics.notify(words, SPACE);
      }
    }
    return count;
  }

  /**
   * A sender's wait for space: registers as a waiter, tries `retry` once
   * more (`true` if it succeeded), then sleeps until the receiver frees
   * space, `signal` aborts or a poll interval passed (`false`).
   */
  async waitForSpace(
    retry: () => boolean,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const words = this.#words;
    Atomics.add(words, WAITERS, 1);
    try {
      const seq = Atomics.load(words, SPACE);
      // Registered as a waiter before this re-check: a receiver that frees
      // space after it sees the waiter and bumps the sequence.
      if (retry()) return true;
      const waited = Atomics.waitAsync(words, SPACE, seq);
      if (waited.async) {
        // Atomics.waitAsync neither keeps Deno's event loop alive nor gets
        // its timeout serviced while the loop idles: a real timer does
        // both, and bounds the wait should a notification be missed.
        const woken = Promise.withResolvers<void>();
        const timer = setTimeout(woken.resolve, SPACE_POLL_MS);
        const onAbort = () => woken.resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          await Promise.race([waited.value, woken.promise]);
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        }
      }
      return false;
    } finally {
      Atomics.sub(words, WAITERS, 1);
    }
  }

  /** Marks the channel closed and wakes every sender waiting for space. */
  close(): void {
    Atomics.store(this.#words, CLOSED, 1);
    Atomics.add(this.#words, SPACE, 1);
    Atomics.notify(this.#words, SPACE);
  }

  #lock(): void {
    const words = this.#words;
    if (Atomics.compareExchange(words, LOCK, 0, 1) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (
        Atomics.load(words, LOCK) === 0 &&
        Atomics.compareExchange(words, LOCK, 0, 1) === 0
      ) return;
    }
    // Futex-style: mark contended (2) and sleep until the holder wakes us.
    while (Atomics.exchange(words, LOCK, 2) !== 0) {
      Atomics.wait(words, LOCK, 2);
    }
  }

  #unlock(): void {
    if (Atomics.exchange(this.#words, LOCK, 0) === 2) {
      Atomics.notify(this.#words, LOCK, 1);
    }
  }
}
