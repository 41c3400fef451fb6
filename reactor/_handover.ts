// Hand-over of a connection between owners: the loop, another loop, or
// `net/`'s `TcpStream`. Deno cannot cancel a pending `conn.read()` without
// closing the connection, and the bytes it returns belong to whoever reads
// the connection next; writes still queued must go out before a new owner's.
// `deregister()` stashes the read (in flight, or completed and undelivered)
// and the queued writes in the channel of `_internal/inflight.ts`;
// `register()` of the same connection takes them back (so does
// `TcpStream`'s constructor). examples/upload_server.ts uses it: the loop
// reads a request line, then a TcpStream reads the body under a deadline.

import { releaseOwnBuffer } from "./buffer_pool.ts";
import { type Entry, EntryExtra } from "./_entry.ts";
import type { LoopCore } from "./_core.ts";
import { adoptedReadDone, readFailed } from "./_conn_reader.ts";
import { heldWritesDone, startWrite } from "./_conn_writer.ts";
import {
  type InflightOutcome,
  type PendingWrites,
  stashInflightRead,
  stashPendingWrites,
  takeInflightRead,
  takePendingWrites,
} from "../_internal/inflight.ts";

/**
 * On registration of connection `e`: adopts a read a previous owner left in
 * flight, and holds our writes back while its writes go out. Returns
 * whether such writes are pending.
 */
export function adoptHandedOver(core: LoopCore, e: Entry): boolean {
  // Called for every new connection: the closures are in functions of their
  // own, so that the common case (nothing handed over) allocates no context.
  const conn = e.conn;
  const inflight = takeInflightRead(conn);
  if (inflight !== undefined) adoptRead(core, e, inflight);
  const writes = takePendingWrites(conn);
  if (writes === undefined) return false;
  holdWrites(core, e, writes);
  return true;
}

/** Takes over the read a previous owner left in flight on `e`. */
function adoptRead(
  core: LoopCore,
  e: Entry,
  inflight: Promise<InflightOutcome>,
): void {
  e.reading = true;
  e.readPooled = false;
  e.readPromise = inflight.then((outcome) => {
    // Counted by whoever read it (this loop, another, or a TcpStream).
    if (outcome.data !== undefined) {
      e.readBuf = outcome.data;
      adoptedReadDone(core, e, outcome.data.length);
    } else if (outcome.eof) {
      adoptedReadDone(core, e, null);
    } else {
      readFailed(core, e, outcome.error);
    }
  });
}

/** Holds the writes of `e` back while a previous owner's go out. */
function holdWrites(core: LoopCore, e: Entry, writes: PendingWrites): void {
  // Held as if a write of ours were in flight; its completion is theirs.
  e.writing = true;
  const extra = e.x ??= new EntryExtra();
  extra.heldBytes = writes.bytes;
  writes.done.then(() => {
    extra.heldBytes = undefined;
    heldWritesDone(core, e);
  });
}

/**
 * `pendingWriteBytes()`: the bytes queued on `e` and not written yet, with
 * those a previous owner still writes ahead of them.
 */
export function pendingBytes(e: Entry): number {
  const held = e.x?.heldBytes;
  return held === undefined ? e.queuedBytes : e.queuedBytes + held();
}

/** After `deregister`: hands the conn's read and writes to its next owner. */
export function handOver(core: LoopCore, e: Entry): void {
  const conn = e.conn;
  if (e.reading) {
    const { promise, resolve } = Promise.withResolvers<InflightOutcome>();
    e.adopt = resolve;
    stashInflightRead(conn, promise);
  } else if (e.readN >= 0) {
    const data = e.readBuf!.subarray(0, e.readN);
    e.readBuf = undefined;
    e.readN = -1;
    stashInflightRead(conn, Promise.resolve({ data, eof: false }));
  } else if (e.readEof) {
    e.readEof = false;
    stashInflightRead(conn, Promise.resolve({ eof: true }));
  } else if (e.pendingError !== undefined && e.closeAfter) {
    stashInflightRead(
      conn,
      Promise.resolve({ eof: false, error: e.pendingError }),
    );
  }
  e.pendingError = undefined;
  if (e.writing || e.wHead !== undefined) {
    const { promise, resolve } = Promise.withResolvers<void>();
    e.detachedFlush = resolve;
    stashPendingWrites(conn, promise, () => pendingBytes(e));
    if (!e.writing) startWrite(core, e);
  }
}

/**
 * A read of a deregistered connection completed: its outcome goes to the
 * next owner if `handOver` promised it, else the buffer goes back.
 */
export function handOverRead(
  core: LoopCore,
  e: Entry,
  n: number | null,
): void {
  const buf = e.readBuf;
  e.readBuf = undefined;
  const adopt = e.adopt;
  if (adopt !== undefined) {
    e.adopt = undefined;
    adopt(
      n === null || buf === undefined
        ? { eof: true }
        : { data: buf.subarray(0, n), eof: false },
    );
  } else if (buf !== undefined && e.readPooled) {
    releaseOwnBuffer(core.pool, buf);
  }
}

/** A read of a deregistered connection failed: the next owner gets the error. */
export function handOverFailedRead(e: Entry, error: unknown): void {
  const adopt = e.adopt;
  if (adopt !== undefined) {
    e.adopt = undefined;
    adopt({ eof: false, error });
  }
}
