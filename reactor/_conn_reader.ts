// The connection reader: one read in flight per readable connection, into
// a pooled buffer sized adaptively (netty's AdaptiveRecvByteBufAllocator):
// full reads double it up to `maxReadBufferSize`, reads under a quarter of
// it halve it down to `minReadBufferSize`, so that an idle connection pins a
// small buffer and a busy one reads in large chunks.

import { releaseOwnBuffer } from "./buffer_pool.ts";
import { Interest } from "./interest.ts";
import type { Entry, MutableEvent } from "./_entry.ts";
import { enqueue, fail, type LoopCore } from "./_core.ts";
import { handOverFailedRead, handOverRead } from "./_handover.ts";

const READABLE = Interest.READABLE;

/**
 * Issues the next read of `e` (into `spare`, a buffer just written out, when
 * given) unless one is in flight or something undelivered blocks it.
 */
export function startRead(
  core: LoopCore,
  e: Entry,
  spare?: Uint8Array,
): void {
  if (
    e.reading || e.eofSeen || e.closing || !e.registered ||
    e.pendingError !== undefined || e.readN >= 0 || e.readEof
  ) {
    if (spare !== undefined) releaseOwnBuffer(core.pool, spare);
    return;
  }
  e.readDeferred = false;
  const buf = spare ?? core.pool.acquire(e.readSize);
  // A kept view of another buffer would pin that buffer (viewOf).
  if (e.readViewOf !== buf && e.readViewOf !== undefined) {
    e.readView = undefined;
    e.readViewOf = undefined;
  }
  e.readBuf = buf;
  e.readPooled = true;
  e.reading = true;
  e.readPromise = e.conn.read(buf).then(e.onRead, e.onRead); // bound at start
}

/** A read of ours completed with `n` bytes, or EOF (`null`). */
export function readDone(core: LoopCore, e: Entry, n: number | null): void {
  // Counted here, by the loop that read, whoever gets the bytes: not again
  // by an owner that adopts them (see adoptedReadDone).
  core.reads++;
  if (n !== null) core.bytesRead += n;
  adoptedReadDone(core, e, n);
}

/**
 * A read completed with `n` bytes (in `e.readBuf`), or EOF (`null`): a read
 * of ours, or one adopted from a previous owner (_handover.ts), which
 * counted it.
 */
export function adoptedReadDone(
  core: LoopCore,
  e: Entry,
  n: number | null,
): void {
  e.reading = false;
  e.readPromise = undefined;
  if (!e.registered) {
    handOverRead(core, e, n);
    return;
  }
  if (n === null) {
    if (e.readPooled && e.readBuf !== undefined) {
      releaseOwnBuffer(core.pool, e.readBuf);
    }
    e.readBuf = undefined;
    e.readEof = true;
  } else {
    e.readN = n;
  }
  if (e.interest & READABLE) enqueue(core, e);
}

/** A read failed (reset, closed under us, ...). */
export function readFailed(core: LoopCore, e: Entry, error: unknown): void {
  e.reading = false;
  e.readPromise = undefined;
  const buf = e.readBuf;
  e.readBuf = undefined;
  if (buf !== undefined && e.readPooled) releaseOwnBuffer(core.pool, buf);
  if (!e.registered) {
    handOverFailedRead(e, error);
    return;
  }
  if (e.closing) return;
  fail(core, e, error);
}

/**
 * Moves a completed read of `e` into `ev` (the bytes, or end of stream);
 * the buffer becomes the core's dispatch buffer, which `write()` may take
 * over, and the receive buffer is resized for the next read. Returns
 * whether there was one.
 */
export function collectRead(
  core: LoopCore,
  e: Entry,
  ev: MutableEvent,
): boolean {
  if (e.readN >= 0) {
    const readBuf = e.readBuf!;
    const readN = e.readN;
    e.readBuf = undefined;
    e.readN = -1;
    core.dispatchBuf = readBuf;
    core.dispatchBufTaken = false;
    core.dispatchPooled = e.readPooled;
    ev.readable = true;
    ev.data = readN === readBuf.length ? readBuf : viewOf(e, readBuf, readN);
    // The next read is issued after the handler: size it now.
    resizeReadBuffer(e, readN);
    return true;
  }
  if (e.readEof) {
    e.readEof = false;
    e.eofSeen = true;
    ev.readClosed = true;
    return true;
  }
  return false;
}

/**
 * The first `n` bytes of `buf`, the receive buffer. A `subarray` is an
 * allocation and a species lookup per read; a connection that keeps getting
 * messages of one size into the buffer its echo gave back (ping-pong, a
 * request/response protocol) gets the same view again. The view is kept
 * from the second read of a size on, so that a connection that reads once
 * and goes idle keeps none (idle memory).
 */
function viewOf(e: Entry, buf: Uint8Array, n: number): Uint8Array {
  const kept = e.readView;
  if (kept !== undefined && e.readViewOf === buf && kept.length === n) {
    return kept;
  }
  const view = buf.subarray(0, n);
  if (e.lastReadN === n) {
    e.readView = view;
    e.readViewOf = buf;
  }
  e.lastReadN = n;
  return view;
}

/** Adaptive receive buffer: grow on full reads, shrink on small ones. */
function resizeReadBuffer(e: Entry, readN: number): void {
  const size = e.readSize;
  if (readN >= size) {
    if (size < e.maxRead) e.readSize = Math.min(size * 2, e.maxRead);
  } else if (readN * 4 <= size && size > e.minRead) {
    e.readSize = Math.max(size >> 1, e.minRead);
  }
}
