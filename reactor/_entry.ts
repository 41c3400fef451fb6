// The loop's record of one registered source (mio keeps this in its
// selector; we keep it in one small object per source, since idle
// connections are made of it), its flags packed into one integer, and the
// reusable event object handed to handlers.

import type { Event, EventHandler, Source } from "./event.ts";
import type { Token } from "./token.ts";
import type { TimerNode } from "../_internal/timer_heap.ts";
import type { InflightOutcome } from "../_internal/inflight.ts";
import type { LoopCore, SourceKind } from "./_core.ts";
import { defineExtras, defineFlags } from "../_internal/record_fields.ts";

// Source kinds (`Entry.kind`), one module each: _connection.ts,
// _listener_source.ts, _timer_source.ts, _waker_source.ts,
// _datagram_source.ts.
export const KIND_CONN = 0;
export const KIND_LISTENER = 1;
export const KIND_TIMER = 2;
export const KIND_WAKER = 3;
export const KIND_DATAGRAM = 4;

/** The reusable event object the loop hands to handlers. */
export class MutableEvent implements Event {
  token: Token = 0;
  readable = false;
  writable = false;
  readClosed = false;
  error: Error | undefined = undefined;
  closed = false;
  data: Uint8Array | undefined = undefined;
  conn: Deno.Conn | undefined = undefined;
  remoteAddr: Deno.Addr | undefined = undefined;
}

/** A `flush()` waiting for a write queue to drain. */
export interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Boolean state of an Entry, packed into one small integer: an idle
// connection's bookkeeping is what its RSS is made of, next to Deno's own.
// The accessors (`entry.writing`) are defined from this table below.
const ENTRY_FLAGS = {
  registered: 1,
  closing: 2,
  queued: 4,
  closeAfter: 8,
  reading: 16,
  fired: 32,
  readPooled: 64,
  readEof: 128,
  eofSeen: 256,
  writing: 512,
  kickPending: 1024,
  writeShut: 2048,
  writeFailed: 4096,
  writablePending: 8192,
  readDeferred: 16384,
} as const;
const F_INITIAL = ENTRY_FLAGS.registered | ENTRY_FLAGS.readPooled;

/** The rarely used parts of an Entry, allocated on first use. */
export class EntryExtra {
  adopt: ((outcome: InflightOutcome) => void) | undefined = undefined;
  flushWaiters: Waiter[] | undefined = undefined;
  detachedFlush: (() => void) | undefined = undefined;
  /** Bytes a previous owner still writes ahead of ours (a hand-over). */
  heldBytes: (() => number) | undefined = undefined;
  wq: (Uint8Array | undefined)[] | undefined = undefined;
  wqOwned: (Uint8Array | undefined)[] | undefined = undefined;
  wqAt = 0;
  accepted: Deno.Conn | undefined = undefined;
  backoffTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  timerNode: TimerNode | undefined = undefined;
  /** A datagram socket's state (_datagram_source.ts). */
  datagram: unknown = undefined;
}

/** Bookkeeping of one registered source; kept small (idle connections). */
export class Entry {
  token: Token;
  source: Source;
  readonly kind: number;
  interest: number;
  handler: EventHandler;
  flags: number = F_INITIAL;
  /** An error to deliver; `closeAfter` says whether the source goes with it. */
  pendingError: Error | undefined = undefined;
  readPromise: Promise<void> | undefined = undefined;
  readBuf: Uint8Array | undefined = undefined;
  /** The view of `readViewOf` reads of `lastReadN` bytes get (viewOf). */
  readView: Uint8Array | undefined = undefined;
  readViewOf: Uint8Array | undefined = undefined;
  lastReadN = -1;
  /** Bytes of a completed read not yet delivered, or -1. */
  readN = -1;
  readSize: number;
  minRead: number;
  maxRead: number;
  // Connection writes: the head chunk, then (rarely) an array behind it.
  wHead: Uint8Array | undefined = undefined;
  wHeadOwned: Uint8Array | undefined = undefined;
  queuedBytes = 0;
  writePromise: Promise<void> | undefined = undefined;
  x: EntryExtra | undefined = undefined;
  // Completion callbacks, bound once per source when first needed: one for
  // reads (accepts, wakes) and one for writes, each taking both the value
  // and the error, sharing one closure context (idle memory, no closure per
  // operation).
  onRead: ((value: unknown) => void) | undefined = undefined;
  onWrite: ((value: unknown) => void) | undefined = undefined;
  /** The loop's core, for the completion callbacks bound to this entry. */
  core: LoopCore | undefined = undefined;
  /** What kind of source this is: the functions that drive it. */
  readonly ops: SourceKind;

  constructor(
    token: Token,
    source: Source,
    ops: SourceKind,
    interest: number,
    handler: EventHandler,
    minRead: number,
    maxRead: number,
  ) {
    this.token = token;
    this.source = source;
    this.ops = ops;
    this.kind = ops.kind;
    this.interest = interest;
    this.handler = handler;
    this.minRead = minRead;
    this.maxRead = maxRead;
    // The first read is twice the minimum: a first message of exactly the
    // minimum size is then a partial read, after which Deno (tokio) waits
    // for epoll before the next read; a read that fills its buffer leaves
    // the socket marked readable, so the next read is a wasted EAGAIN
    // syscall (docs/design.md, "Closing the last gaps").
    this.readSize = Math.min(minRead * 2, maxRead);
  }

  get conn(): Deno.Conn {
    return this.source as Deno.Conn;
  }
  get listener(): Deno.Listener<Deno.Conn, Deno.Addr> {
    return this.source as Deno.Listener<Deno.Conn, Deno.Addr>;
  }
  // Bits of `flags` (see ENTRY_FLAGS), defined below.
  /** Registered with the loop. */
  declare registered: boolean;
  /** Closed (or being closed) by the loop. */
  declare closing: boolean;
  /** In the ready queue. */
  declare queued: boolean;
  /** The pending error closes the source. */
  declare closeAfter: boolean;
  /** A read, accept or waker wait is in flight. */
  declare reading: boolean;
  /** A Timer expired or a Waker was woken, not yet delivered. */
  declare fired: boolean;
  /** `readBuf` came from the pool. */
  declare readPooled: boolean;
  /** A completed read returned EOF, not yet delivered. */
  declare readEof: boolean;
  /** EOF was delivered: no more reads. */
  declare eofSeen: boolean;
  /** A write is in flight. */
  declare writing: boolean;
  /** A write start is scheduled. */
  declare kickPending: boolean;
  /** `shutdownWrite()` half-closed the connection. */
  declare writeShut: boolean;
  /** A write failed; later writes are dropped. */
  declare writeFailed: boolean;
  /** A writable event waits for delivery. */
  declare writablePending: boolean;
  /** The next read waits for the write in flight to complete. */
  declare readDeferred: boolean;
  // Kept in `x` (see EntryExtra), defined below.
  declare adopt: ((outcome: InflightOutcome) => void) | undefined;
  declare flushWaiters: Waiter[] | undefined;
  declare detachedFlush: (() => void) | undefined;
  declare wq: (Uint8Array | undefined)[] | undefined;
  declare wqOwned: (Uint8Array | undefined)[] | undefined;
  declare accepted: Deno.Conn | undefined;
  declare backoffTimer: ReturnType<typeof setTimeout> | undefined;
  declare timerNode: TimerNode | undefined;
  declare datagram: unknown;
  declare wqAt: number;
}

defineFlags(Entry.prototype, ENTRY_FLAGS);
defineExtras(Entry.prototype, EntryExtra, {
  adopt: undefined,
  flushWaiters: undefined,
  detachedFlush: undefined,
  wq: undefined,
  wqOwned: undefined,
  wqAt: 0,
  accepted: undefined,
  backoffTimer: undefined,
  timerNode: undefined,
  datagram: undefined,
});
