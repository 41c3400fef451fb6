// The connection writer: a queue per connection with one write in flight
// (Deno interleaves concurrent writes), partial writes continued, small
// chunks queued together coalesced into one pooled buffer, "writable" when
// a completed write takes the queue below the low-water mark, and flush
// waiters resolved when it empties.
//
// The queue is a head chunk (`wHead`) and, rarely, an array behind it
// (`wq` from `wqAt`); `…Owned` holds the pooled buffer to release once a
// chunk is written (a receive buffer the handler echoed, or a coalescing
// buffer).

import { releaseOwnBuffer } from "./buffer_pool.ts";
import { Interest } from "./interest.ts";
import type { Entry, Waiter } from "./_entry.ts";
import { enqueue, entryOf, fail, type LoopCore } from "./_core.ts";
import { validateUint8Array } from "../_internal/validate.ts";
import type { Token } from "./token.ts";
import { KIND_CONN } from "./_entry.ts";
import { startRead } from "./_conn_reader.ts";

const READABLE = Interest.READABLE;
const WRITABLE = Interest.WRITABLE;

/** `EventLoop.write()`: checks, then queues `bytes` on connection `token`. */
export function writeTo(
  core: LoopCore,
  token: Token,
  bytes: Uint8Array,
): boolean {
  const current = core.current;
  const e =
    current !== undefined && current.token === token && current.registered
      ? current
      : core.entries.get(token) ?? entryOf(core, token, "write");
  if (e.kind !== KIND_CONN) {
    throw new TypeError(
      `Cannot write as token '${token}' is not a connection`,
    );
  }
  validateUint8Array("write", "bytes", bytes);
  if (e.writeShut) {
    throw new TypeError(
      `Cannot write as the write side of token '${token}' is shut down`,
    );
  }
  if (e.writeFailed) return false;
  return queueWrite(core, e, bytes);
}

/** `EventLoop.shutdownWrite()`: flushes, then half-closes `token`. */
export async function shutdownWriteOf(
  core: LoopCore,
  token: Token,
): Promise<void> {
  const e = entryOf(core, token, "shut down write");
  if (e.kind !== KIND_CONN) {
    throw new TypeError(
      `Cannot shut down write as token '${token}' is not a connection`,
    );
  }
  if (e.writeShut) return;
  await flushEntry(e, undefined);
  if (e.writeShut) return;
  e.writeShut = true;
  await e.conn.closeWrite();
}

/**
 * Queues `bytes` on connection `e` (validated by the caller); returns
 * whether the queue is below the high-water mark.
 */
export function queueWrite(
  core: LoopCore,
  e: Entry,
  bytes: Uint8Array,
): boolean {
  const len = bytes.length;
  if (len === 0) return e.queuedBytes < core.hwm;
  let release: Uint8Array | undefined;
  const dbuf = core.dispatchBuf;
  if (
    dbuf !== undefined && core.dispatchPooled &&
    (bytes === core.event.data || (
      bytes.buffer === dbuf.buffer && bytes.byteOffset >= dbuf.byteOffset &&
      bytes.byteOffset + len <= dbuf.byteOffset + dbuf.length
    ))
  ) {
    // The event's own receive buffer, drawn from the pool: take it over
    // instead of copying, once (it goes back to the pool when written);
    // a second write of it is copied. A buffer the pool does not own (a
    // read adopted from a previous owner) is never reused by the loop: it
    // is queued as it is, like any caller's bytes.
    if (core.dispatchBufTaken) bytes = bytes.slice();
    else {
      core.dispatchBufTaken = true;
      release = dbuf;
    }
  }
  if (e.wHead === undefined) {
    e.wHead = bytes;
    e.wHeadOwned = release;
  } else {
    (e.wq ??= []).push(bytes);
    (e.wqOwned ??= []).push(release);
  }
  e.queuedBytes += len;
  if (!e.writing && !e.kickPending) {
    e.kickPending = true;
    // The source whose handler runs now is kicked right after it returns.
    if (e !== core.current) {
      core.kicks.push(e);
      if (!core.draining && !core.kickScheduled) {
        core.kickScheduled = true;
        queueMicrotask(core.runKicksTask);
      }
    }
  }
  return e.queuedBytes < core.hwm;
}

/** Starts the writes queued outside a write in flight. */
export function runKicks(core: LoopCore): void {
  const kicks = core.kicks;
  for (let i = 0; i < kicks.length; i++) {
    const e = kicks[i]!;
    e.kickPending = false;
    if (!e.writing && !e.closing && e.wHead !== undefined) startWrite(core, e);
  }
  kicks.length = 0;
}

/** Writes the head chunk of `e`, coalesced with the small ones behind it. */
export function startWrite(core: LoopCore, e: Entry): void {
  let chunk = e.wHead!;
  const wq = e.wq;
  const max = core.maxCoalesce;
  if (wq !== undefined && e.wqAt < wq.length && chunk.length < max) {
    // Coalesce the small chunks queued behind into one write.
    const owned = e.wqOwned!;
    let total = chunk.length;
    let last = e.wqAt;
    while (last < wq.length && total + wq[last]!.length <= max) {
      total += wq[last]!.length;
      last++;
    }
    if (last > e.wqAt) {
      const pool = core.pool;
      const buf = pool.acquire(total);
      buf.set(chunk, 0);
      let off = chunk.length;
      if (e.wHeadOwned !== undefined) releaseOwnBuffer(pool, e.wHeadOwned);
      for (let i = e.wqAt; i < last; i++) {
        const part = wq[i]!;
        buf.set(part, off);
        off += part.length;
        const o = owned[i];
        if (o !== undefined) releaseOwnBuffer(pool, o);
        wq[i] = undefined;
        owned[i] = undefined;
      }
      e.wqAt = last;
      compactQueue(e);
      chunk = total === buf.length ? buf : buf.subarray(0, total);
      e.wHead = chunk;
      e.wHeadOwned = buf;
    }
  }
  e.writing = true;
  // onWrite is bound at registration (_connection.ts).
  e.writePromise = e.conn.write(chunk).then(e.onWrite, e.onWrite);
}

function compactQueue(e: Entry): void {
  const wq = e.wq!;
  if (e.wqAt === wq.length) {
    wq.length = 0;
    e.wqOwned!.length = 0;
    e.wqAt = 0;
  } else if (e.wqAt > 1024 && e.wqAt * 2 > wq.length) {
    wq.splice(0, e.wqAt);
    e.wqOwned!.splice(0, e.wqAt);
    e.wqAt = 0;
  }
}

/** A write of `e` completed with `n` bytes. */
export function writeDone(core: LoopCore, e: Entry, n: number): void {
  e.writing = false;
  e.writePromise = undefined;
  const chunk = e.wHead;
  if (chunk === undefined) return; // closed under us
  const before = e.queuedBytes;
  core.writes++;
  core.bytesWritten += n;
  e.queuedBytes = before - n;
  let spare: Uint8Array | undefined;
  if (n < chunk.length) {
    e.wHead = chunk.subarray(n);
  } else {
    const owned = e.wHeadOwned;
    if (owned !== undefined) {
      // An echoed receive buffer comes back: reuse it for the next read.
      if (e.readDeferred && owned.length === e.readSize) spare = owned;
      else releaseOwnBuffer(core.pool, owned);
    }
    const wq = e.wq;
    if (wq !== undefined && e.wqAt < wq.length) {
      e.wHead = wq[e.wqAt];
      e.wHeadOwned = e.wqOwned![e.wqAt];
      wq[e.wqAt] = undefined;
      e.wqOwned![e.wqAt] = undefined;
      e.wqAt++;
      compactQueue(e);
    } else {
      e.wHead = undefined;
      e.wHeadOwned = undefined;
    }
  }
  if (e.readDeferred) issueDeferredRead(core, e, spare);
  else if (spare !== undefined) releaseOwnBuffer(core.pool, spare);
  if (e.closing) return;
  if (e.wHead !== undefined) startWrite(core, e);
  else queueEmptied(e);
  if (
    e.registered && before >= core.lwm && e.queuedBytes < core.lwm &&
    (e.interest & WRITABLE)
  ) {
    e.writablePending = true;
    enqueue(core, e);
  }
}

/**
 * The writes of a previous owner that `e` waited for (a hand-over, see
 * _handover.ts) are done: as after a write of its own, the read deferred
 * behind them is issued, `e`'s queue goes out (or, empty, releases its
 * next owner), and "writable", held back meanwhile, is given.
 */
export function heldWritesDone(core: LoopCore, e: Entry): void {
  e.writing = false;
  if (e.readDeferred) issueDeferredRead(core, e, undefined);
  if (e.closing) return;
  if (e.wHead !== undefined) startWrite(core, e);
  else queueEmptied(e);
  // The "writable" a registration gives at once (_connection.ts start).
  if (e.registered && (e.interest & WRITABLE) && e.queuedBytes < core.lwm) {
    e.writablePending = true;
    enqueue(core, e);
  }
}

/**
 * Issues the read of `e` that `rearm` deferred behind the write in flight
 * (into `spare`, the receive buffer that write just gave back, if any).
 */
function issueDeferredRead(
  core: LoopCore,
  e: Entry,
  spare: Uint8Array | undefined,
): void {
  e.readDeferred = false;
  if (e.registered && (e.interest & READABLE)) startRead(core, e, spare);
  else if (spare !== undefined) releaseOwnBuffer(core.pool, spare);
}

/** The queue of `e` is empty: resolve who waits for that. */
function queueEmptied(e: Entry): void {
  const waiters = e.flushWaiters;
  if (waiters !== undefined) {
    e.flushWaiters = undefined;
    for (const w of waiters) w.resolve();
  }
  const detached = e.detachedFlush;
  if (detached !== undefined) {
    e.detachedFlush = undefined;
    detached();
  }
}

/** A write of `e` failed: drop the queue, report the error, close. */
export function writeFailed(core: LoopCore, e: Entry, error: unknown): void {
  e.writing = false;
  e.writePromise = undefined;
  e.readDeferred = false;
  dropWrites(core, e, error);
  if (e.registered && !e.closing) fail(core, e, error);
}

/** Drops the queue of `e`; flush waiters reject with `error` (or a close). */
export function dropWrites(
  core: LoopCore,
  e: Entry,
  error: unknown | undefined,
): void {
  const pool = core.pool;
  if (e.wHeadOwned !== undefined) releaseOwnBuffer(pool, e.wHeadOwned);
  e.wHead = undefined;
  e.wHeadOwned = undefined;
  const wq = e.wq;
  if (wq !== undefined) {
    const owned = e.wqOwned!;
    for (let i = e.wqAt; i < wq.length; i++) {
      const o = owned[i];
      if (o !== undefined) releaseOwnBuffer(pool, o);
    }
    wq.length = 0;
    owned.length = 0;
    e.wqAt = 0;
  }
  e.queuedBytes = 0;
  e.writeFailed = true;
  const waiters = e.flushWaiters;
  if (waiters !== undefined) {
    e.flushWaiters = undefined;
    const reason = error ??
      new Deno.errors.BadResource("The connection was closed");
    for (const w of waiters) w.reject(reason);
  }
  const detached = e.detachedFlush;
  if (detached !== undefined) {
    e.detachedFlush = undefined;
    detached();
  }
}

/** `flush()`: `flushEntry` for `token`; an unknown token rejects. */
export function flushSource(
  core: LoopCore,
  token: Token,
  signal: AbortSignal | undefined,
): Promise<void> {
  let e: Entry;
  try {
    e = entryOf(core, token, "flush");
  } catch (error) {
    return Promise.reject(error);
  }
  return flushEntry(e, signal);
}

/**
 * Resolves when the queue of `e` is empty and no write is in flight (nor a
 * previous owner's, held ahead); `signal` stops the wait.
 */
export function flushEntry(
  e: Entry,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (e.writeFailed && e.queuedBytes === 0 && e.pendingError !== undefined) {
    return Promise.reject(e.pendingError);
  }
  // `writing` with nothing queued: a previous owner's writes are held
  // ahead of ours (a hand-over); they are waited for too.
  if (e.queuedBytes === 0 && !e.writing) return Promise.resolve();
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const waiter: Waiter = { resolve, reject };
  (e.flushWaiters ??= []).push(waiter);
  if (signal !== undefined) {
    const onAbort = () => {
      const i = e.flushWaiters?.indexOf(waiter) ?? -1;
      if (i >= 0) e.flushWaiters!.splice(i, 1);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    waiter.resolve = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    waiter.reject = (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    };
  }
  return promise;
}
