// The loop's record of one registered source (mio keeps this in its
// selector; we keep it in one small object per source, since idle
// connections are made of it), its flags packed into one integer, and the
// reusable event object handed to handlers.

import type { Event, EventHandler, Source } from "./event.ts";
import type { Token } from "./token.ts";
import type { TimerNode } from "../_internal/timer_heap.ts";
import type { InflightOutcome } from "../_internal/inflight.ts";
import type { LoopCore, SourceKind } from "./_core.ts";

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
const F_REGISTERED = 1;
const F_CLOSING = 2;
const F_QUEUED = 4;
const F_CLOSEAFTER = 8;
const F_READING = 16;
const F_FIRED = 32;
const F_READPOOLED = 64;
const F_READEOF = 128;
const F_EOFSEEN = 256;
const F_WRITING = 512;
const F_KICKPENDING = 1024;
const F_WRITESHUT = 2048;
const F_WRITEFAILED = 4096;
const F_WRITABLEPENDING = 8192;
const F_READDEFERRED = 16384;
const F_INITIAL = F_REGISTERED | F_READPOOLED;

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
  /** Registered with the loop. */
  get registered(): boolean {
    return (this.flags & F_REGISTERED) !== 0;
  }
  set registered(value: boolean) {
    this.flags = value ? this.flags | F_REGISTERED : this.flags & ~F_REGISTERED;
  }
  /** Closed (or being closed) by the loop. */
  get closing(): boolean {
    return (this.flags & F_CLOSING) !== 0;
  }
  set closing(value: boolean) {
    this.flags = value ? this.flags | F_CLOSING : this.flags & ~F_CLOSING;
  }
  /** In the ready queue. */
  get queued(): boolean {
    return (this.flags & F_QUEUED) !== 0;
  }
  set queued(value: boolean) {
    this.flags = value ? this.flags | F_QUEUED : this.flags & ~F_QUEUED;
  }
  /** The pending error closes the source. */
  get closeAfter(): boolean {
    return (this.flags & F_CLOSEAFTER) !== 0;
  }
  set closeAfter(value: boolean) {
    this.flags = value ? this.flags | F_CLOSEAFTER : this.flags & ~F_CLOSEAFTER;
  }
  /** A read, accept or waker wait is in flight. */
  get reading(): boolean {
    return (this.flags & F_READING) !== 0;
  }
  set reading(value: boolean) {
    this.flags = value ? this.flags | F_READING : this.flags & ~F_READING;
  }
  /** A Timer expired or a Waker was woken, not yet delivered. */
  get fired(): boolean {
    return (this.flags & F_FIRED) !== 0;
  }
  set fired(value: boolean) {
    this.flags = value ? this.flags | F_FIRED : this.flags & ~F_FIRED;
  }
  /** `readBuf` came from the pool. */
  get readPooled(): boolean {
    return (this.flags & F_READPOOLED) !== 0;
  }
  set readPooled(value: boolean) {
    this.flags = value ? this.flags | F_READPOOLED : this.flags & ~F_READPOOLED;
  }
  /** A completed read returned EOF, not yet delivered. */
  get readEof(): boolean {
    return (this.flags & F_READEOF) !== 0;
  }
  set readEof(value: boolean) {
    this.flags = value ? this.flags | F_READEOF : this.flags & ~F_READEOF;
  }
  /** EOF was delivered: no more reads. */
  get eofSeen(): boolean {
    return (this.flags & F_EOFSEEN) !== 0;
  }
  set eofSeen(value: boolean) {
    this.flags = value ? this.flags | F_EOFSEEN : this.flags & ~F_EOFSEEN;
  }
  /** A write is in flight. */
  get writing(): boolean {
    return (this.flags & F_WRITING) !== 0;
  }
  set writing(value: boolean) {
    this.flags = value ? this.flags | F_WRITING : this.flags & ~F_WRITING;
  }
  /** A write start is scheduled. */
  get kickPending(): boolean {
    return (this.flags & F_KICKPENDING) !== 0;
  }
  set kickPending(value: boolean) {
    this.flags = value
      ? this.flags | F_KICKPENDING
      : this.flags & ~F_KICKPENDING;
  }
  /** `shutdownWrite()` half-closed the connection. */
  get writeShut(): boolean {
    return (this.flags & F_WRITESHUT) !== 0;
  }
  set writeShut(value: boolean) {
    this.flags = value ? this.flags | F_WRITESHUT : this.flags & ~F_WRITESHUT;
  }
  /** A write failed; later writes are dropped. */
  get writeFailed(): boolean {
    return (this.flags & F_WRITEFAILED) !== 0;
  }
  set writeFailed(value: boolean) {
    this.flags = value
      ? this.flags | F_WRITEFAILED
      : this.flags & ~F_WRITEFAILED;
  }
  /** A writable event waits for delivery. */
  get writablePending(): boolean {
    return (this.flags & F_WRITABLEPENDING) !== 0;
  }
  set writablePending(value: boolean) {
    this.flags = value
      ? this.flags | F_WRITABLEPENDING
      : this.flags & ~F_WRITABLEPENDING;
  }
  /** The next read waits for the write in flight to complete. */
  get readDeferred(): boolean {
    return (this.flags & F_READDEFERRED) !== 0;
  }
  set readDeferred(value: boolean) {
    this.flags = value
      ? this.flags | F_READDEFERRED
      : this.flags & ~F_READDEFERRED;
  }
  get adopt(): ((outcome: InflightOutcome) => void) | undefined {
    return this.x?.adopt;
  }
  set adopt(value: ((outcome: InflightOutcome) => void) | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).adopt = value;
  }
  get flushWaiters(): Waiter[] | undefined {
    return this.x?.flushWaiters;
  }
  set flushWaiters(value: Waiter[] | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).flushWaiters = value;
  }
  get detachedFlush(): (() => void) | undefined {
    return this.x?.detachedFlush;
  }
  set detachedFlush(value: (() => void) | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).detachedFlush = value;
  }
  get wq(): (Uint8Array | undefined)[] | undefined {
    return this.x?.wq;
  }
  set wq(value: (Uint8Array | undefined)[] | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).wq = value;
  }
  get wqOwned(): (Uint8Array | undefined)[] | undefined {
    return this.x?.wqOwned;
  }
  set wqOwned(value: (Uint8Array | undefined)[] | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).wqOwned = value;
  }
  get accepted(): Deno.Conn | undefined {
    return this.x?.accepted;
  }
  set accepted(value: Deno.Conn | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).accepted = value;
  }
  get backoffTimer(): ReturnType<typeof setTimeout> | undefined {
    return this.x?.backoffTimer;
  }
  set backoffTimer(value: ReturnType<typeof setTimeout> | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).backoffTimer = value;
  }
  get timerNode(): TimerNode | undefined {
    return this.x?.timerNode;
  }
  set timerNode(value: TimerNode | undefined) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).timerNode = value;
  }
  get datagram(): unknown {
    return this.x?.datagram;
  }
  set datagram(value: unknown) {
    if (value === undefined && this.x === undefined) return;
    (this.x ??= new EntryExtra()).datagram = value;
  }
  get wqAt(): number {
    return this.x?.wqAt ?? 0;
  }
  set wqAt(value: number) {
    if (value === 0 && this.x === undefined) return;
    (this.x ??= new EntryExtra()).wqAt = value;
  }
}
