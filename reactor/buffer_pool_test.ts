import {
  assert,
  assertEquals,
  assertFalse,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { BufferPool } from "./buffer_pool.ts";

Deno.test("BufferPool rounds sizes up to power-of-two classes", () => {
  const pool = new BufferPool({ minSize: 256, maxSize: 4096 });
  assertEquals(pool.acquire(1).length, 256);
  assertEquals(pool.acquire(256).length, 256);
  assertEquals(pool.acquire(257).length, 512);
  assertEquals(pool.acquire(4096).length, 4096);
  // Above the largest class: exact size, never retained.
  const big = pool.acquire(5000);
  assertEquals(big.length, 5000);
  pool.release(big);
  assertEquals(pool.metrics().buffersRetained, 0);
  assertEquals(pool.metrics().dropped, 1);
  assertEquals(pool.classSize(300), 512);
  assertEquals(pool.classSize(10_000), 10_000);
});

Deno.test("BufferPool reuses released buffers and counts hits and misses", () => {
  const pool = new BufferPool();
  const a = pool.acquire(1000);
  const b = pool.acquire(1000);
  assertNotStrictEquals(a, b);
  pool.release(a);
  assertEquals(pool.metrics().bytesRetained, 1024);
  assertStrictEquals(pool.acquire(900), a);
  pool.release(b);
  pool.release(a);
  const m = pool.metrics();
  assertEquals(m.hits, 1);
  assertEquals(m.misses, 2);
  assertEquals(m.released, 3);
  assertEquals(m.buffersRetained, 2);
  assertEquals(m.bytesRetained, 2048);
});

Deno.test("BufferPool bounds the bytes it retains", () => {
  const pool = new BufferPool({ maxRetainedBytes: 4096 });
  const bufs = Array.from({ length: 8 }, () => pool.acquire(1024));
  for (const buf of bufs) pool.release(buf);
  const m = pool.metrics();
  assertEquals(m.bytesRetained, 4096);
  assertEquals(m.buffersRetained, 4);
  assertEquals(m.dropped, 4);
  pool.clear();
  assertEquals(pool.metrics().bytesRetained, 0);
});

Deno.test("BufferPool carves small buffers from slabs and takes them back", () => {
  const pool = new BufferPool({ slabSize: 65536 });
  const a = pool.acquire(256);
  const b = pool.acquire(256);
  assertStrictEquals(a.buffer, b.buffer);
  assertEquals(a.buffer.byteLength, 65536);
  assertEquals(b.byteOffset - a.byteOffset, 256);
  // Writes to one do not touch the other.
  a.fill(1);
  assertEquals(b[0], 0);
  pool.release(b);
  assertStrictEquals(pool.acquire(200), b);
  // A view that is not a whole class buffer is not taken.
  pool.release(a.subarray(0, 128));
  pool.release(a.subarray(1, 129));
  assertEquals(pool.metrics().buffersRetained, 0);
  // Large classes get their own ArrayBuffer.
  assertEquals(pool.acquire(8192).buffer.byteLength, 8192);
  // Slabs can be turned off.
  const plain = new BufferPool({ slabSize: 0 });
  assertEquals(plain.acquire(100).buffer.byteLength, 128);
});

Deno.test("BufferPool.lease releases on dispose, once", () => {
  const pool = new BufferPool();
  let buf: Uint8Array;
  {
    using lease = pool.lease(3000);
    buf = lease.buffer;
    assertEquals(buf.length, 4096);
    lease[Symbol.dispose]();
  }
  const m = pool.metrics();
  assertEquals(m.buffersRetained, 1);
  assertEquals(m.released, 1);
  assertStrictEquals(pool.acquire(4096), buf);
});

Deno.test("BufferPool rejects bad options and sizes", () => {
  assertThrows(
    () => new BufferPool({ minSize: 100 }),
    RangeError,
    "'minSize' must be a power of two",
  );
  assertThrows(
    () => new BufferPool({ minSize: 1024, maxSize: 512 }),
    RangeError,
    "'maxSize' must be at least 'minSize'",
  );
  assertThrows(
    () => new BufferPool({ maxRetainedBytes: -1 }),
    RangeError,
    "'maxRetainedBytes' must be an integer from 0 to 2 ** 30: received -1",
  );
  const pool = new BufferPool();
  assertThrows(() => pool.acquire(-1), RangeError, "'size'");
  assertThrows(() => pool.acquire(Number.NaN), RangeError, "'size'");
  assert(pool.acquire(0).length > 0);
  assertFalse(pool.metrics().hits > 0);
});
