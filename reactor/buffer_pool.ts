import { formatValue } from "../_internal/format.ts";
import { validateByteSize } from "../_internal/validate.ts";

// Set in BufferPool's static block: release without the checks, for the
// event loop's own buffers (which it got from `acquire` of the same pool).
let releaseOwn: (pool: BufferPool, buf: Uint8Array) => void;

/**
 * Releases a buffer that `pool.acquire()` returned, whole, skipping the
 * checks of `release()`; for the event loop's hot path.
 */
export function releaseOwnBuffer(pool: BufferPool, buf: Uint8Array): void {
  releaseOwn(pool, buf);
}

/**
 * Options for {@linkcode BufferPool}.
 *
 * @example Usage
 * ```ts
 * import { BufferPool, type BufferPoolOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const options: BufferPoolOptions = { minSize: 512, maxSize: 65536, slabSize: 0 };
 * const pool = new BufferPool(options);
 * assertEquals(pool.acquire(100).length, 512);
 * ```
 */
export interface BufferPoolOptions {
  /**
   * The smallest size class in bytes (a power of two up to 2 ** 30);
   * smaller requests get a buffer of this size.
   *
   * @default {64}
   */
  minSize?: number;
  /**
   * The largest size class in bytes (a power of two from `minSize` up to
   * 2 ** 30); larger requests are allocated exactly and never retained.
   *
   * @default {1048576}
   */
  maxSize?: number;
  /**
   * How many bytes of released buffers the pool keeps at most; buffers
   * released beyond it are left to the garbage collector. From 0 to 1 GiB.
   *
   * @default {8388608}
   */
  maxRetainedBytes?: number;
  /**
   * Buffers of the size classes up to `slabSize / 16` are carved out of
   * shared `slabSize`-byte `ArrayBuffer`s instead of getting one each, which
   * saves the per-`ArrayBuffer` overhead on the small receive buffers that
   * idle connections hold. A power of two up to 2 ** 30; `0` turns slabs
   * off.
   *
   * @default {65536}
   */
  slabSize?: number;
}

/**
 * Counters of a {@linkcode BufferPool}.
 *
 * @example Usage
 * ```ts
 * import { BufferPool, type BufferPoolMetrics } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = new BufferPool();
 * pool.release(pool.acquire(100));
 * const metrics: BufferPoolMetrics = pool.metrics();
 * assertEquals(metrics.misses, 1);
 * assertEquals(metrics.buffersRetained, 1);
 * ```
 */
export interface BufferPoolMetrics {
  /** Acquisitions served from a retained buffer. */
  hits: number;
  /** Acquisitions that allocated. */
  misses: number;
  /** Buffers released and retained. */
  released: number;
  /** Buffers released but dropped (over the retention bound or not poolable). */
  dropped: number;
  /** Bytes held in the pool's free lists now. */
  bytesRetained: number;
  /** Buffers held in the pool's free lists now. */
  buffersRetained: number;
}

/**
 * A buffer on loan from a {@linkcode BufferPool}, released on dispose.
 *
 * @example Usage
 * ```ts
 * import { BufferPool } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = new BufferPool();
 * {
 *   using lease = pool.lease(100);
 *   lease.buffer.fill(1);
 * }
 * assertEquals(pool.metrics().buffersRetained, 1);
 * ```
 */
export interface BufferLease extends Disposable {
  /** The buffer; its length is the size class (at least the size asked for). */
  readonly buffer: Uint8Array;
}

class Lease implements BufferLease {
  readonly buffer: Uint8Array;
  #pool: BufferPool | undefined;
  constructor(pool: BufferPool, buffer: Uint8Array) {
    this.#pool = pool;
    this.buffer = buffer;
  }
  [Symbol.dispose](): void {
    const pool = this.#pool;
    if (pool === undefined) return;
    this.#pool = undefined;
    pool.release(this.buffer);
  }
}

function ceilLog2(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

function assertPowerOfTwo(name: string, value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 ||
    value > 2 ** 30 || (value & (value - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot create buffer pool as '${name}' must be a power of two up to 2 ** 30: received ${
        formatValue(value)
      }`,
    );
  }
  return value;
}

/**
 * Size-classed `Uint8Array` buffers for reuse (powers of two from `minSize`
 * to `maxSize`), with bounded retention and hit/miss metrics. The event loop
 * draws its receive buffers and coalescing buffers from one.
 *
 * A released buffer must not be used or released again by the caller.
 *
 * @example Acquire and release
 * ```ts
 * import { BufferPool } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = new BufferPool({ minSize: 1024 });
 * const buf = pool.acquire(600);
 * assertEquals(buf.length, 1024);
 * pool.release(buf);
 * assertEquals(pool.acquire(1000), buf);
 * assertEquals(pool.metrics().hits, 1);
 * ```
 */
export class BufferPool {
  #minShift: number;
  #maxSize: number;
  #maxRetained: number;
  #free: Uint8Array[][] = [];
  #slabSize: number;
  #slabMaxClass: number;
  /** Per size class: the slab being carved and the next offset in it. */
  #slabs: (ArrayBuffer | undefined)[] = [];
  #slabOffsets: number[] = [];
  /** The size class each slab is carved into (to recognise its buffers). */
  #slabClass = new WeakMap<ArrayBufferLike, number>();
  #hits = 0;
  #misses = 0;
  #released = 0;
  #dropped = 0;
  #bytesRetained = 0;
  #buffersRetained = 0;

  /**
   * Constructs a pool.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool({ minSize: 256, maxSize: 65536, maxRetainedBytes: 1 << 20 });
   * assertEquals(pool.classSize(100), 256);
   * ```
   *
   * @param options Size classes, retention bound and slab size.
   * @throws {TypeError | RangeError} If an option is not a power of two up to
   * 2 ** 30 (`maxRetainedBytes`: an integer up to 1 GiB).
   */
  constructor(options: BufferPoolOptions = {}) {
    const minSize = assertPowerOfTwo("minSize", options.minSize ?? 64);
    const maxSize = assertPowerOfTwo("maxSize", options.maxSize ?? 1 << 20);
    if (maxSize < minSize) {
      throw new RangeError(
        `Cannot create buffer pool as 'maxSize' must be at least 'minSize' (${minSize}): received ${maxSize}`,
      );
    }
    const maxRetained = validateByteSize(
      "create buffer pool",
      "maxRetainedBytes",
      options.maxRetainedBytes ?? 8 << 20,
      0,
    );
    const slabSize = options.slabSize ?? 65536;
    if (slabSize !== 0) assertPowerOfTwo("slabSize", slabSize);
    this.#slabSize = slabSize;
    this.#slabMaxClass = slabSize / 16;
    this.#minShift = ceilLog2(minSize);
    this.#maxSize = maxSize;
    this.#maxRetained = maxRetained;
    for (let s = minSize; s <= maxSize; s *= 2) {
      this.#free.push([]);
      this.#slabs.push(undefined);
      this.#slabOffsets.push(0);
    }
  }

  /**
   * The length of the buffer `acquire(size)` returns.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool({ minSize: 64, maxSize: 4096 });
   * assertEquals([pool.classSize(1), pool.classSize(65), pool.classSize(5000)], [64, 128, 5000]);
   * ```
   *
   * @param size The size asked for.
   * @returns The size class (or `size` itself above `maxSize`).
   */
  classSize(size: number): number {
    if (size > this.#maxSize) return size;
    const shift = ceilLog2(size);
    return 2 ** (shift < this.#minShift ? this.#minShift : shift);
  }

  /**
   * A buffer of at least `size` bytes: of the size class when `size` is at
   * most `maxSize`, else exactly `size`. Its contents are unspecified.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool();
   * const buf = pool.acquire(1000);
   * assertEquals(buf.length, 1024);
   * pool.release(buf);
   * ```
   *
   * @param size The number of bytes needed.
   * @returns The buffer.
   * @throws {RangeError} If `size` is negative, `NaN` or not a safe integer.
   */
  acquire(size: number): Uint8Array {
    if (size > this.#maxSize) {
      if (!Number.isSafeInteger(size)) {
        throw new RangeError(
          `Cannot acquire buffer as 'size' must be a non-negative integer: received ${
            formatValue(size)
          }`,
        );
      }
      this.#misses++;
      return new Uint8Array(size);
    }
    if (!(size >= 0)) {
      throw new RangeError(
        `Cannot acquire buffer as 'size' must be a non-negative integer: received ${
          formatValue(size)
        }`,
      );
    }
    let shift = ceilLog2(size);
    if (shift < this.#minShift) shift = this.#minShift;
    const list = this.#free[shift - this.#minShift]!;
    const buf = list.pop();
    if (buf !== undefined) {
      this.#hits++;
      this.#bytesRetained -= buf.length;
      this.#buffersRetained--;
      return buf;
    }
    this.#misses++;
    const size2 = 2 ** shift;
    if (size2 > this.#slabMaxClass) return new Uint8Array(size2);
    const c = shift - this.#minShift;
    let slab = this.#slabs[c];
    let off = this.#slabOffsets[c]!;
    if (slab === undefined || off + size2 > slab.byteLength) {
      slab = new ArrayBuffer(this.#slabSize);
      this.#slabs[c] = slab;
      this.#slabClass.set(slab, size2);
      off = 0;
    }
    this.#slabOffsets[c] = off + size2;
    return new Uint8Array(slab, off, size2);
  }

  /**
   * Gives a buffer back. Buffers that are not a whole size-class buffer, or
   * that would exceed `maxRetainedBytes`, are dropped.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool();
   * const buf = pool.acquire(64);
   * pool.release(buf);
   * assertEquals(pool.acquire(64), buf); // served from the pool
   * ```
   *
   * @param buf A buffer from `acquire()`; do not use it afterwards.
   */
  release(buf: Uint8Array): void {
    const len = buf.length;
    const whole = buf.buffer.byteLength;
    if (
      len > this.#maxSize || (len & (len - 1)) !== 0 ||
      len < 2 ** this.#minShift ||
      (whole === len
        ? buf.byteOffset !== 0
        : whole !== this.#slabSize || buf.byteOffset % len !== 0 ||
          this.#slabClass.get(buf.buffer) !== len)
    ) {
      this.#dropped++;
      return;
    }
    this.#keep(buf, len);
  }

  /** Retains `buf` (a whole class buffer of length `len`) within the bound. */
  #keep(buf: Uint8Array, len: number): void {
    if (this.#bytesRetained + len > this.#maxRetained) {
      this.#dropped++;
      return;
    }
    this.#free[ceilLog2(len) - this.#minShift]!.push(buf);
    this.#bytesRetained += len;
    this.#buffersRetained++;
    this.#released++;
  }

  static {
    releaseOwn = (pool, buf) => {
      const len = buf.length;
      if (len > pool.#maxSize) pool.#dropped++;
      else pool.#keep(buf, len);
    };
  }

  /**
   * A buffer of at least `size` bytes that goes back to the pool on dispose.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool();
   * {
   *   using lease = pool.lease(100);
   *   lease.buffer.fill(1);
   * }
   * assertEquals(pool.metrics().released, 1);
   * ```
   *
   * @param size The number of bytes needed.
   * @returns A lease whose `buffer` is valid until it is disposed.
   */
  lease(size: number): BufferLease {
    return new Lease(this, this.acquire(size));
  }

  /**
   * Drops every retained buffer.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool();
   * pool.release(pool.acquire(64));
   * pool.clear();
   * assertEquals(pool.metrics().bytesRetained, 0);
   * ```
   */
  clear(): void {
    for (const list of this.#free) list.length = 0;
    this.#bytesRetained = 0;
    this.#buffersRetained = 0;
  }

  /**
   * A snapshot of the pool's counters.
   *
   * @example Usage
   * ```ts
   * import { BufferPool } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const pool = new BufferPool();
   * pool.acquire(64);
   * assertEquals(pool.metrics().misses, 1);
   * ```
   *
   * @returns Hits, misses, released, dropped and retained counts.
   */
  metrics(): BufferPoolMetrics {
    return {
      hits: this.#hits,
      misses: this.#misses,
      released: this.#released,
      dropped: this.#dropped,
      bytesRetained: this.#bytesRetained,
      buffersRetained: this.#buffersRetained,
    };
  }
}
