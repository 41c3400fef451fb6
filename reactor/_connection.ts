// The connection source kind: a TCP, Unix or TLS connection, read by the
// connection reader (_conn_reader.ts) and written by the connection writer
// (_conn_writer.ts). An event carries the bytes of one read (or end of
// stream) and/or "writable".

import { releaseOwnBuffer } from "./buffer_pool.ts";
import { Interest } from "./interest.ts";
import { type Entry, KIND_CONN, type MutableEvent } from "./_entry.ts";
import {
  bothSettled,
  enqueueSoon,
  type LoopCore,
  type SourceKind,
} from "./_core.ts";
import {
  collectRead,
  readDone,
  readFailed,
  startRead,
} from "./_conn_reader.ts";
import {
  dropWrites,
  runKicks,
  startWrite,
  writeDone,
  writeFailed,
} from "./_conn_writer.ts";
import { adoptHandedOver } from "./_handover.ts";

const READABLE = Interest.READABLE;
const WRITABLE = Interest.WRITABLE;

// Reads resolve with a number or null and reject with an Error; writes
// resolve with a number. `this` is the connection's Entry.
function onConnRead(this: Entry, value: unknown): void {
  const core = this.core!;
  if (value === null || typeof value === "number") readDone(core, this, value);
  else readFailed(core, this, value);
}
function onConnWrite(this: Entry, value: unknown): void {
  const core = this.core!;
  if (typeof value === "number") writeDone(core, this, value);
  else writeFailed(core, this, value);
}

/** The connection kind's functions (see `SourceKind`). */
export const connectionKind: SourceKind = {
  kind: KIND_CONN,

  start(core: LoopCore, e: Entry): void {
    // One bound function per completion kind, sharing the entry as context:
    // smaller than two closures and their context (idle connections).
    e.core = core;
    e.onRead = onConnRead.bind(e);
    e.onWrite = onConnWrite.bind(e);
    // A previous owner's read or writes still in flight come first; while
    // its writes go out, ours wait (and so does "writable").
    if (!adoptHandedOver(core, e) && (e.interest & WRITABLE)) {
      e.writablePending = true;
      enqueueSoon(core, e);
    }
    if (e.interest & READABLE) startRead(core, e);
  },

  resume(core: LoopCore, e: Entry): void {
    if (e.readN >= 0 || e.readEof) enqueueSoon(core, e);
    else startRead(core, e);
  },

  collect(core: LoopCore, e: Entry, ev: MutableEvent): boolean {
    const interest = e.interest;
    let deliver = false;
    if (interest & READABLE) deliver = collectRead(core, e, ev);
    if (e.writablePending && (interest & WRITABLE)) {
      e.writablePending = false;
      ev.writable = true;
      deliver = true;
    }
    return deliver;
  },

  rearm(core: LoopCore, e: Entry): void {
    // Start the handler's writes before the next read: the reply goes out
    // first (lower latency).
    if (e.kickPending) {
      e.kickPending = false;
      if (!e.writing && e.wHead !== undefined) startWrite(core, e);
    }
    // Writes the handler queued on other connections (a broadcast).
    if (core.kicks.length > 0) runKicks(core);
    if (
      (e.interest & READABLE) && !e.reading && e.readN < 0 && !e.readEof
    ) {
      if (e.writing && e.queuedBytes <= core.lwm) {
        // A small reply is in flight: issue the next read when it completes
        // (almost always at once). Deno costs measurably more with a read
        // and a write in flight on one socket, and this is also
        // backpressure against a peer that stops reading.
        e.readDeferred = true;
      } else startRead(core, e);
    }
  },

  detach(): void {},

  close(core: LoopCore, e: Entry): Promise<void> | undefined {
    const pending = bothSettled(
      e.reading ? e.readPromise : undefined,
      e.writing ? e.writePromise : undefined,
    );
    const held = e.readBuf;
    if (!e.reading && held !== undefined) {
      if (e.readPooled) releaseOwnBuffer(core.pool, held);
      e.readBuf = undefined;
      e.readN = -1;
    }
    try {
      e.conn.close();
    } catch { /* already closed */ }
    // `undefined`: the error for flush() waiters is made only if needed (an
    // Error's stack trace costs microseconds per connection).
    dropWrites(core, e, undefined);
    return pending;
  },
};
