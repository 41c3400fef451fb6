import type { Event, EventHandler, Source } from "./event.ts";
import { assertInterest, formatValue, Interest } from "./interest.ts";
import { assertToken, RESERVED_TOKEN_BASE, type Token } from "./token.ts";
import {
  assertDelay,
  assertInterval,
  Timer,
  type TimerHandle,
  type TimerOptions,
} from "./timer.ts";
import { Waker, wakerState } from "./waker.ts";
import { BufferPool, releaseOwnBuffer } from "./buffer_pool.ts";
import { TimerHeap, TimerNode } from "../_internal/timer_heap.ts";
import { classifyAcceptError } from "../_internal/accept_policy.ts";
import { toError } from "../_internal/to_error.ts";
import {
  type InflightOutcome,
  stashInflightRead,
  stashPendingWrites,
  takeInflightRead,
  takePendingWrites,
} from "./_inflight.ts";

/**
 * Options for {@linkcode EventLoop}.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, type EventLoopOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const options: EventLoopOptions = {
 *   eventsCapacity: 256,
 *   writeHighWaterMark: 1 << 20,
 *   onError: (error) => reportError(error),
 * };
 * await using loop = new EventLoop(options);
 * assertEquals(loop.running, false);
 * ```
 */
export interface EventLoopOptions {
  /**
   * The most events dispatched before the loop yields to the runtime (a
   * macrotask turn) so that timers and other I/O get their turn.
   *
   * @default {1024}
   */
  eventsCapacity?: number;
  /**
   * The receive buffer of a quiet connection, in bytes; what an idle
   * connection pins while its read is pending.
   *
   * @default {64}
   */
  minReadBufferSize?: number;
  /**
   * The largest receive buffer, in bytes; full reads double the buffer up to
   * it, small reads halve it again.
   *
   * @default {65536}
   */
  maxReadBufferSize?: number;
  /**
   * `write()` returns `false` once this many bytes are queued on a source.
   *
   * @default {65536}
   */
  writeHighWaterMark?: number;
  /**
   * A source with WRITABLE interest gets a writable event when its queue
   * drains below this many bytes.
   *
   * @default {16384}
   */
  writeLowWaterMark?: number;
  /**
   * Queued chunks are copied into one write of at most this many bytes.
   *
   * @default {65536}
   */
  maxCoalesceSize?: number;
  /**
   * After an accept error that is not transient (EMFILE, ENFILE, ...), the
   * listener waits this long before accepting again.
   *
   * @default {100}
   */
  acceptErrorDelayMs?: number;
  /**
   * The pool receive and coalescing buffers come from.
   *
   * @default {new BufferPool()}
   */
  bufferPool?: BufferPool;
  /**
   * Called with an error thrown by a handler (its source is then closed and
   * deregistered) or by a timer callback (`token` is `undefined`).
   *
   * @default {console.error}
   */
  onError?: (error: unknown, token: Token | undefined) => void;
}

/**
 * Options for {@linkcode EventLoop.prototype.register}.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, Interest, type RegisterOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const perConnection: RegisterOptions = { minReadBufferSize: 4096, maxReadBufferSize: 4096 };
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * loop.register(listener, 0, Interest.READABLE, (event, loop) => {
 *   if (event.conn) loop.register(event.conn, loop.allocateToken(), Interest.READABLE, () => {}, perConnection);
 * });
 * assertEquals(loop.metrics().registeredSources, 1);
 * ```
 */
export interface RegisterOptions {
  /**
   * The smallest receive buffer of this connection, in bytes.
   *
   * @default {EventLoopOptions.minReadBufferSize}
   */
  minReadBufferSize?: number;
  /**
   * The largest receive buffer of this connection, in bytes.
   *
   * @default {EventLoopOptions.maxReadBufferSize}
   */
  maxReadBufferSize?: number;
}

/**
 * Options for {@linkcode EventLoop.prototype.flush}.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, type FlushOptions, Interest } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * loop.register(conn, 1, Interest.READABLE, () => {});
 * loop.write(1, new TextEncoder().encode("hello"));
 * const options: FlushOptions = { signal: AbortSignal.timeout(1000) };
 * await loop.flush(1, options);
 * assertEquals(loop.pendingWriteBytes(1), 0);
 * ```
 */
export interface FlushOptions {
  /** Stops waiting (rejects with the signal's reason); the queue is kept. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode EventLoop.prototype.close}.
 *
 * @example Usage
 * ```ts
 * import { type CloseOptions, EventLoop, Interest } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * loop.register(conn, 1, Interest.READABLE, () => {});
 * loop.write(1, new TextEncoder().encode("bye"));
 * const options: CloseOptions = { flush: true };
 * await loop.close(1, options);
 * assertEquals(loop.has(1), false);
 * ```
 */
export interface CloseOptions {
  /**
   * Write out the queued bytes before closing.
   *
   * @default {false}
   */
  flush?: boolean;
}

/**
 * Options for {@linkcode EventLoop.prototype.run}.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, type EventLoopRunOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const controller = new AbortController();
 * const options: EventLoopRunOptions = { signal: controller.signal };
 * loop.addTimer(1, () => controller.abort());
 * await loop.run(options);
 * assertEquals(loop.running, false);
 * ```
 */
export interface EventLoopRunOptions {
  /** Stops the loop (like `stop()`) when aborted. */
  signal?: AbortSignal;
}

/**
 * Options passed through to {@linkcode ComputeRunner.run}.
 *
 * @example Usage
 * ```ts
 * import { type ComputeRunOptions, EventLoop } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * loop.attachCompute({ run: (_name, _input, options) => Promise.resolve(options?.timeoutMs) });
 * const options: ComputeRunOptions = { timeoutMs: 500, priority: "high" };
 * assertEquals(await loop.spawnCompute("resize", new Uint8Array(8), options), 500);
 * ```
 */
export interface ComputeRunOptions {
  /** Aborts the task; the loop also aborts it when disposed. */
  signal?: AbortSignal;
  /** The task's priority, as the runner defines it. */
  priority?: unknown;
  /** A per-task time limit, as the runner defines it. */
  timeoutMs?: number;
  /** Objects to transfer with the input. */
  transfer?: Transferable[];
}

/**
 * Runs named CPU-heavy tasks off the loop's thread; `compute/ComputePool`
 * satisfies it.
 *
 * @example Usage
 * ```ts
 * import { type ComputeRunner, EventLoop } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const runner: ComputeRunner = {
 *   run: (name, input) => Promise.resolve(name === "double" ? Number(input) * 2 : NaN),
 * };
 * await using loop = new EventLoop();
 * loop.attachCompute(runner);
 * assertEquals(await loop.spawnCompute("double", 21), 42);
 * ```
 */
export interface ComputeRunner {
  /** Runs task `name` on `input`; resolves with its result. */
  run(
    name: string,
    input: unknown,
    options?: ComputeRunOptions,
  ): Promise<unknown>;
}

/**
 * Counters of an {@linkcode EventLoop}.
 *
 * @example Usage
 * ```ts
 * import { EventLoop, type EventLoopMetrics } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * using _timer = loop.addTimer(1000, () => {});
 * const metrics: EventLoopMetrics = loop.metrics();
 * assertEquals(metrics.pendingTimers, 1);
 * assertEquals(metrics.registeredSources, 0);
 * ```
 */
export interface EventLoopMetrics {
  /** Dispatch passes (batches of at most `eventsCapacity` events). */
  ticks: number;
  /** Events handed to handlers. */
  eventsDispatched: number;
  /** Completed reads (including EOF). */
  reads: number;
  /** Completed writes (each possibly partial or coalesced). */
  writes: number;
  /** Bytes read from connections. */
  bytesRead: number;
  /** Bytes written to connections. */
  bytesWritten: number;
  /** Sources registered now. */
  registeredSources: number;
  /** Timers scheduled now (callback timers and Timer sources). */
  pendingTimers: number;
  /** Compute tasks spawned and not settled. */
  pendingCompute: number;
  /** Handler and timer-callback errors reported through `onError`. */
  handlerErrors: number;
  /** Errors thrown by `accept()` on listener sources. */
  acceptErrors: number;
}

const KIND_CONN = 0;
const KIND_LISTENER = 1;
const KIND_TIMER = 2;
const KIND_WAKER = 3;

const READABLE = Interest.READABLE;
const WRITABLE = Interest.WRITABLE;

/** The reusable event object the loop hands to handlers. */
class MutableEvent implements Event {
  token: Token = 0;
  readable = false;
  writable = false;
  readClosed = false;
  error: Error | undefined = undefined;
  closed = false;
  data: Uint8Array | undefined = undefined;
  conn: Deno.Conn | undefined = undefined;
}

interface Waiter {
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
class EntryExtra {
  adopt: ((outcome: InflightOutcome) => void) | undefined = undefined;
  flushWaiters: Waiter[] | undefined = undefined;
  detachedFlush: (() => void) | undefined = undefined;
  wq: (Uint8Array | undefined)[] | undefined = undefined;
  wqOwned: (Uint8Array | undefined)[] | undefined = undefined;
  wqAt = 0;
  accepted: Deno.Conn | undefined = undefined;
  backoffTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  timerNode: TimerNode | undefined = undefined;
}

/** Bookkeeping of one registered source; kept small (idle connections). */
class Entry {
  token: Token;
  source: Source;
  kind: number;
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
  loop: EventLoop | undefined = undefined;

  constructor(
    token: Token,
    source: Source,
    kind: number,
    interest: number,
    handler: EventHandler,
    minRead: number,
    maxRead: number,
  ) {
    this.token = token;
    this.source = source;
    this.kind = kind;
    this.interest = interest;
    this.handler = handler;
    this.minRead = minRead;
    this.maxRead = maxRead;
    this.readSize = minRead;
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
  get wqAt(): number {
    return this.x?.wqAt ?? 0;
  }
  set wqAt(value: number) {
    if (value === 0 && this.x === undefined) return;
    (this.x ??= new EntryExtra()).wqAt = value;
  }
}

class TimerHandleImpl implements TimerHandle {
  #node: TimerNode;
  #cancel: (node: TimerNode) => void;
  constructor(node: TimerNode, cancel: (node: TimerNode) => void) {
    this.#node = node;
    this.#cancel = cancel;
  }
  get active(): boolean {
    return this.#node.index >= 0;
  }
  cancel(): void {
    this.#cancel(this.#node);
  }
  [Symbol.dispose](): void {
    this.cancel();
  }
}

function positiveInt(name: string, value: unknown, action: string): number {
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 1
  ) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be a positive integer: received ${
        formatValue(value)
      }`,
    );
  }
  return value;
}

function noop(): void {}

function defaultOnError(error: unknown, token: Token | undefined): void {
  // deno-lint-ignore no-console
  console.error(
    token === undefined
      ? "EventLoop: a timer callback threw:"
      : `EventLoop: the handler of token ${token} threw:`,
    error,
  );
}

/**
 * A readiness-emulating event loop over Deno sockets (mio's `Poll` plus
 * mill-io's `EventLoop`).
 *
 * Deno has no readiness API, so the loop keeps exactly one read (or accept)
 * in flight per readable source, into an adaptive pooled buffer, and
 * delivers "readable + the bytes"; "writable" means the source's write queue
 * drained below its low-water mark. Sources are TCP, Unix and TLS listeners
 * and connections, {@linkcode Timer}s and {@linkcode Waker}s. Events are
 * dispatched as soon as their I/O completes (in the same microtask
 * checkpoint); after `eventsCapacity` events the loop yields a macrotask
 * turn, so that one busy connection cannot starve timers or other I/O.
 *
 * The `Event` handed to a handler is reused: read its fields during the call.
 *
 * @example An echo server
 * ```ts
 * import { EventLoop, Interest } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * let next = 1;
 * loop.register(listener, 0, Interest.READABLE, (event, loop) => {
 *   if (!event.conn) return;
 *   loop.register(event.conn, next++, Interest.READABLE, (event, loop) => {
 *     if (event.data) loop.write(event.token, event.data);
 *     else if (event.readClosed || event.error) void loop.close(event.token);
 *   });
 * });
 * const running = loop.run();
 *
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * assertEquals(await client.read(buf), 4);
 * assertEquals(new TextDecoder().decode(buf), "ping");
 *
 * loop.stop();
 * await running;
 * ```
 */
export class EventLoop implements AsyncDisposable {
  #entries = new Map<Token, Entry>();
  #bySource = new WeakMap<object, Entry>();
  #nextReserved = 0;
  #event = new MutableEvent();

  #cap: number;
  #minRead: number;
  #maxRead: number;
  #hwm: number;
  #lwm: number;
  #maxCoalesce: number;
  #acceptDelay: number;
  #pool: BufferPool;
  #onError: (error: unknown, token: Token | undefined) => void;

  // Ready queue: entries with something to deliver, FIFO; each at most once.
  // Invariant: an entry on the list is always dispatched. Whoever sets
  // `#draining` (the drain loop, or the fast path of `#enqueue`) dispatches
  // what is pushed meanwhile before it returns, or leaves it to a turn
  // already scheduled: the yield (`#onYield`) or `run()`.
  #ready: (Entry | undefined)[] = [];
  #head = 0;
  #draining = false;
  #drainScheduled = false;
  #burst = 0;
  #yieldPending = false;
  #channel: MessageChannel | undefined = undefined;

  // Writes requested outside a write in flight, started after the handler.
  #kicks: Entry[] = [];
  #kickScheduled = false;
  #dispatchBuf: Uint8Array | undefined = undefined;
  #dispatchBufTaken = false;
  /** The entry whose handler runs now. */
  #current: Entry | undefined = undefined;

  #running = false;
  #disposed = false;
  #runResolve: (() => void) | undefined = undefined;
  #runSignal: AbortSignal | undefined = undefined;

  #timers = new TimerHeap();
  #armedId: ReturnType<typeof setTimeout> | undefined = undefined;
  #armedDeadline = Infinity;
  // Atomics.waitAsync does not keep Deno's event loop alive: while the loop
  // runs with a Waker registered, a ref'ed idle interval does, so that a
  // wake from another thread is not lost to "event loop has resolved".
  #wakers = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined = undefined;

  #lingering = new Set<Promise<void>>();
  #compute: ComputeRunner | undefined = undefined;
  #computeAbort = new AbortController();
  #pendingCompute = 0;

  #ticks = 0;
  #eventsDispatched = 0;
  #reads = 0;
  #writes = 0;
  #bytesRead = 0;
  #bytesWritten = 0;
  #handlerErrors = 0;
  #acceptErrors = 0;

  /** Constructs a loop; no I/O happens until a source is registered. */
  constructor(options: EventLoopOptions = {}) {
    const action = "create event loop";
    this.#cap = positiveInt(
      "eventsCapacity",
      options.eventsCapacity ?? 1024,
      action,
    );
    this.#minRead = positiveInt(
      "minReadBufferSize",
      options.minReadBufferSize ?? 64,
      action,
    );
    this.#maxRead = positiveInt(
      "maxReadBufferSize",
      options.maxReadBufferSize ?? 65536,
      action,
    );
    if (this.#maxRead < this.#minRead) {
      throw new RangeError(
        `Cannot ${action} as 'maxReadBufferSize' must be at least 'minReadBufferSize' (${this.#minRead}): received ${this.#maxRead}`,
      );
    }
    this.#hwm = positiveInt(
      "writeHighWaterMark",
      options.writeHighWaterMark ?? 65536,
      action,
    );
    this.#lwm = positiveInt(
      "writeLowWaterMark",
      options.writeLowWaterMark ?? Math.min(16384, this.#hwm),
      action,
    );
    if (this.#lwm > this.#hwm) {
      throw new RangeError(
        `Cannot ${action} as 'writeLowWaterMark' must be at most 'writeHighWaterMark' (${this.#hwm}): received ${this.#lwm}`,
      );
    }
    this.#maxCoalesce = positiveInt(
      "maxCoalesceSize",
      options.maxCoalesceSize ?? 65536,
      action,
    );
    const delay = options.acceptErrorDelayMs ?? 100;
    assertDelay(delay, action);
    this.#acceptDelay = delay;
    if (
      options.bufferPool !== undefined &&
      !(options.bufferPool instanceof BufferPool)
    ) {
      throw new TypeError(
        `Cannot ${action} as 'bufferPool' must be a BufferPool`,
      );
    }
    this.#pool = options.bufferPool ?? new BufferPool();
    if (
      options.onError !== undefined && typeof options.onError !== "function"
    ) {
      throw new TypeError(`Cannot ${action} as 'onError' must be a function`);
    }
    this.#onError = options.onError ?? defaultOnError;
  }

  /** The pool receive buffers come from. */
  get bufferPool(): BufferPool {
    return this.#pool;
  }

  /** Whether `run()` is dispatching. */
  get running(): boolean {
    return this.#running;
  }

  // ---------------------------------------------------------------- registry

  /**
   * Registers a source under `token` and starts its I/O at once (events
   * queue until `run()`). A listener delivers accepted connections, a
   * connection the bytes it reads, a timer its expiries, a waker its wakes.
   *
   * A duplicate token, a source already registered, a negative or
   * non-integer token, or a token in the reserved range not obtained from
   * `allocateToken()` is a `TypeError`/`RangeError`.
   */
  register(
    source: Source,
    token: Token,
    interest: Interest,
    handler: EventHandler,
    options: RegisterOptions = {},
  ): void {
    const action = "register source";
    if (this.#disposed) {
      throw new TypeError(`Cannot ${action} as the event loop is disposed`);
    }
    assertToken(token, action);
    if (
      token >= RESERVED_TOKEN_BASE &&
      token >= RESERVED_TOKEN_BASE + this.#nextReserved
    ) {
      throw new RangeError(
        `Cannot ${action} as 'token' is in the reserved range but was not obtained from allocateToken(): received '${token}'`,
      );
    }
    if (this.#entries.has(token)) {
      throw new TypeError(
        `Cannot ${action} as 'token' is already registered: received '${token}'`,
      );
    }
    assertInterest(interest, action);
    if (typeof handler !== "function") {
      throw new TypeError(
        `Cannot ${action} as 'handler' must be a function: received ${
          formatValue(handler)
        }`,
      );
    }
    let kind: number;
    if (source instanceof Timer) kind = KIND_TIMER;
    else if (source instanceof Waker) kind = KIND_WAKER;
    else if (
      source !== null && typeof source === "object" &&
      typeof (source as Deno.Listener).accept === "function"
    ) kind = KIND_LISTENER;
    else if (
      source !== null && typeof source === "object" &&
      typeof (source as Deno.Conn).read === "function" &&
      typeof (source as Deno.Conn).write === "function"
    ) kind = KIND_CONN;
    else {
      throw new TypeError(
        `Cannot ${action} as 'source' must be a listener, a connection, a Timer or a Waker: received ${
          formatValue(source)
        }`,
      );
    }
    const existing = this.#bySource.get(source);
    if (existing !== undefined) {
      throw new TypeError(
        `Cannot ${action} as the source is already registered under token '${existing.token}'`,
      );
    }
    let minRead = this.#minRead;
    let maxRead = this.#maxRead;
    if (options.minReadBufferSize !== undefined) {
      minRead = positiveInt(
        "minReadBufferSize",
        options.minReadBufferSize,
        action,
      );
    }
    if (options.maxReadBufferSize !== undefined) {
      maxRead = positiveInt(
        "maxReadBufferSize",
        options.maxReadBufferSize,
        action,
      );
    }
    if (maxRead < minRead) maxRead = minRead;
    minRead = this.#pool.classSize(minRead);

    const e = new Entry(
      token,
      source,
      kind,
      interest,
      handler,
      minRead,
      maxRead,
    );
    this.#entries.set(token, e);
    this.#bySource.set(source, e);

    switch (kind) {
      case KIND_CONN: {
        const conn = source as Deno.Conn;
        const inflight = takeInflightRead(conn);
        if (inflight !== undefined) this.#adoptRead(e, inflight);
        const writes = takePendingWrites(conn);
        if (writes !== undefined) {
          // Writes of a previous owner are still going out: hold ours back.
          e.writing = true;
          writes.then(() => {
            e.writing = false;
            if (e.registered && e.wHead !== undefined) this.#startWrite(e);
          });
        } else if (interest & WRITABLE) {
          e.writablePending = true;
          this.#enqueueSoon(e);
        }
        if (interest & READABLE) this.#startRead(e);
        break;
      }
      case KIND_LISTENER:
        if (interest & READABLE) this.#startAccept(e);
        break;
      case KIND_TIMER: {
        const timer = source as Timer;
        const node = new TimerNode(undefined, token);
        node.intervalMs = timer.intervalMs ?? 0;
        node.entry = e;
        e.timerNode = node;
        this.#timers.push(node, performance.now() + timer.delayMs);
        this.#arm();
        break;
      }
      case KIND_WAKER:
        this.#wakers++;
        this.#updateKeepAlive();
        if (interest & READABLE) this.#waitWaker(e);
        break;
    }
  }

  /**
   * A fresh token from the reserved range (from {@linkcode RESERVED_TOKEN_BASE}
   * up), which no application counting from 0 reaches.
   */
  allocateToken(): Token {
    return RESERVED_TOKEN_BASE + this.#nextReserved++;
  }

  /**
   * Changes a source's interest (and handler). Removing READABLE stops
   * issuing reads (backpressure); a read already in flight is kept and
   * delivered when READABLE returns. Adding WRITABLE while the write queue is
   * below the low-water mark delivers a writable event.
   */
  reregister(token: Token, interest: Interest, handler?: EventHandler): void {
    const action = "reregister source";
    const e = this.#get(token, action);
    assertInterest(interest, action);
    if (handler !== undefined) {
      if (typeof handler !== "function") {
        throw new TypeError(
          `Cannot ${action} as 'handler' must be a function: received ${
            formatValue(handler)
          }`,
        );
      }
      e.handler = handler;
    }
    const added = interest & ~e.interest;
    e.interest = interest;
    if (added & READABLE) {
      switch (e.kind) {
        case KIND_CONN:
          if (e.readN >= 0 || e.readEof) this.#enqueueSoon(e);
          else this.#startRead(e);
          break;
        case KIND_LISTENER:
          if (e.accepted !== undefined) this.#enqueueSoon(e);
          else this.#startAccept(e);
          break;
        case KIND_TIMER:
          if (e.fired) this.#enqueueSoon(e);
          break;
        case KIND_WAKER:
          if (e.fired) this.#enqueueSoon(e);
          else if (!e.reading) this.#waitWaker(e);
          break;
      }
    }
    if (
      (added & WRITABLE) && e.kind === KIND_CONN && e.queuedBytes < this.#lwm
    ) {
      e.writablePending = true;
      this.#enqueueSoon(e);
    }
  }

  /**
   * Stops delivering events of `token` and returns its source, left open. A
   * read in flight (or read but not delivered) is handed over to whoever
   * reads the connection next through the loop or `net/`'s `TcpStream`;
   * queued writes keep going out.
   */
  deregister(token: Token): Source {
    const e = this.#get(token, "deregister source");
    this.#detach(e);
    if (e.kind === KIND_CONN) this.#handOver(e);
    else if (e.kind === KIND_LISTENER && e.accepted !== undefined) {
      // An accepted connection nobody will see: do not leak it.
      try {
        e.accepted.close();
      } catch { /* already closed */ }
      e.accepted = undefined;
    }
    return e.source;
  }

  /** Whether `token` is registered. */
  has(token: Token): boolean {
    return this.#entries.has(token);
  }

  // ------------------------------------------------------------------ writes

  /**
   * Queues `bytes` on connection `token`; they are not copied, so the caller
   * must not change them afterwards (writing the current event's `data` is
   * fine: the loop takes that buffer over). One write is in flight per
   * source; partial writes are continued; chunks queued together are
   * coalesced into one write. Returns `false` once the queue is at or above
   * the high-water mark (keep the bytes queued; wait for a writable event or
   * `flush()` before writing more).
   */
  write(token: Token, bytes: Uint8Array): boolean {
    const current = this.#current;
    const e =
      current !== undefined && current.token === token && current.registered
        ? current
        : this.#entries.get(token) ?? this.#get(token, "write");
    if (e.kind !== KIND_CONN) {
      throw new TypeError(
        `Cannot write as token '${token}' is not a connection`,
      );
    }
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot write as 'bytes' must be a Uint8Array: received ${
          formatValue(bytes)
        }`,
      );
    }
    if (e.writeShut) {
      throw new TypeError(
        `Cannot write as the write side of token '${token}' is shut down`,
      );
    }
    if (e.writeFailed) return false;
    const len = bytes.length;
    if (len === 0) return e.queuedBytes < this.#hwm;
    let release: Uint8Array | undefined;
    const dbuf = this.#dispatchBuf;
    if (
      dbuf !== undefined && bytes.buffer === dbuf.buffer &&
      bytes.byteOffset >= dbuf.byteOffset &&
      bytes.byteOffset + len <= dbuf.byteOffset + dbuf.length
    ) {
      if (this.#dispatchBufTaken) bytes = bytes.slice();
      else {
        this.#dispatchBufTaken = true;
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
      if (e !== this.#current) {
        this.#kicks.push(e);
        if (!this.#draining && !this.#kickScheduled) {
          this.#kickScheduled = true;
          queueMicrotask(this.#runKicksTask);
        }
      }
    }
    return e.queuedBytes < this.#hwm;
  }

  /** Bytes queued on connection `token` and not yet written. */
  pendingWriteBytes(token: Token): number {
    return this.#get(token, "get pending write bytes").queuedBytes;
  }

  /** Resolves when the write queue of `token` is empty. */
  flush(token: Token, options: FlushOptions = {}): Promise<void> {
    let e: Entry;
    try {
      e = this.#get(token, "flush");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#flushEntry(e, options.signal);
  }

  /** Flushes the queue of `token`, then half-closes it (`closeWrite`). */
  async shutdownWrite(token: Token): Promise<void> {
    const e = this.#get(token, "shut down write");
    if (e.kind !== KIND_CONN) {
      throw new TypeError(
        `Cannot shut down write as token '${token}' is not a connection`,
      );
    }
    if (e.writeShut) return;
    await this.#flushEntry(e, undefined);
    if (e.writeShut) return;
    e.writeShut = true;
    await e.conn!.closeWrite();
  }

  /**
   * Deregisters and closes the source of `token` (after writing out its
   * queue when `flush` is set); resolves once its pending operations have
   * settled.
   */
  async close(token: Token, options: CloseOptions = {}): Promise<void> {
    const e = this.#get(token, "close source");
    if (options.flush && e.kind === KIND_CONN && e.queuedBytes > 0) {
      try {
        await this.#flushEntry(e, undefined);
      } catch {
        // The error was or will be reported as an event; close anyway.
      }
    }
    const settled = this.#closeEntry(e);
    if (settled !== undefined) await settled;
  }

  // ------------------------------------------------------------------ timers

  /**
   * Calls `callback` after `delayMs` milliseconds (and every `intervalMs`
   * after that when set), while the loop runs. Scheduling and cancelling are
   * O(log n); one native timer is armed for the earliest deadline. A callback
   * that throws, or returns a promise that rejects, is reported through
   * `onError` (with token `undefined`); an interval keeps running. The loop
   * does not wait for a returned promise.
   */
  addTimer(
    delayMs: number,
    callback: (() => void) | (() => Promise<void>),
    options: TimerOptions = {},
  ): TimerHandle {
    const action = "add timer";
    assertDelay(delayMs, action);
    if (typeof callback !== "function") {
      throw new TypeError(
        `Cannot ${action} as 'callback' must be a function: received ${
          formatValue(callback)
        }`,
      );
    }
    if (options.intervalMs !== undefined) {
      assertInterval(options.intervalMs, action);
    }
    if (this.#disposed) {
      throw new TypeError(`Cannot ${action} as the event loop is disposed`);
    }
    const node = new TimerNode(callback, -1);
    node.intervalMs = options.intervalMs ?? 0;
    this.#timers.push(node, performance.now() + delayMs);
    this.#arm();
    return new TimerHandleImpl(node, this.#cancelTimer);
  }

  #cancelTimer = (node: TimerNode): void => {
    if (this.#timers.remove(node) && this.#timers.size === 0) this.#disarm();
  };

  // ----------------------------------------------------------------- compute

  /** Attaches the runner `spawnCompute()` hands tasks to. */
  attachCompute(runner: ComputeRunner): void {
    if (
      runner === null || typeof runner !== "object" ||
      typeof runner.run !== "function"
    ) {
      throw new TypeError(
        `Cannot attach compute as 'runner' must have a run() method: received ${
          formatValue(runner)
        }`,
      );
    }
    this.#compute = runner;
  }

  /**
   * Runs task `name` on the attached runner; the task is aborted when the
   * loop is disposed.
   */
  async spawnCompute(
    name: string,
    input: unknown,
    options: ComputeRunOptions = {},
  ): Promise<unknown> {
    const runner = this.#compute;
    if (runner === undefined) {
      throw new TypeError(
        "Cannot spawn compute task as no compute runner is attached: call attachCompute() first",
      );
    }
    if (this.#disposed) {
      throw new TypeError(
        "Cannot spawn compute task as the event loop is disposed",
      );
    }
    const signal = options.signal === undefined
      ? this.#computeAbort.signal
      : AbortSignal.any([options.signal, this.#computeAbort.signal]);
    this.#pendingCompute++;
    try {
      return await runner.run(name, input, { ...options, signal });
    } finally {
      this.#pendingCompute--;
    }
  }

  // --------------------------------------------------------------------- run

  /** Dispatches events until `stop()` (or `signal` aborts). */
  run(options: EventLoopRunOptions = {}): Promise<void> {
    if (this.#running) {
      return Promise.reject(
        new TypeError("Cannot run event loop as it is already running"),
      );
    }
    if (this.#disposed) {
      return Promise.reject(
        new TypeError("Cannot run event loop as it is disposed"),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#running = true;
    this.#runResolve = resolve;
    if (signal !== undefined) {
      this.#runSignal = signal;
      signal.addEventListener("abort", this.#stopListener, { once: true });
    }
    this.#burst = 0;
    this.#yieldPending = false;
    this.#runTimers();
    this.#arm();
    this.#updateKeepAlive();
    this.#scheduleDrain();
    return promise;
  }

  #stopListener = (): void => this.stop();

  /**
   * Stops dispatching and resolves `run()`; idempotent. Sources stay open.
   * It has no effect on a loop that is not running: to stop from a signal
   * handler that may fire before `run()` starts, pass `run({ signal })`.
   */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#disarm();
    this.#updateKeepAlive();
    this.#closeChannel();
    this.#yieldPending = false;
    this.#runSignal?.removeEventListener("abort", this.#stopListener);
    this.#runSignal = undefined;
    const resolve = this.#runResolve;
    this.#runResolve = undefined;
    resolve?.();
  }

  /** A snapshot of the loop's counters. */
  metrics(): EventLoopMetrics {
    return {
      ticks: this.#ticks,
      eventsDispatched: this.#eventsDispatched,
      reads: this.#reads,
      writes: this.#writes,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      registeredSources: this.#entries.size,
      pendingTimers: this.#timers.size,
      pendingCompute: this.#pendingCompute,
      handlerErrors: this.#handlerErrors,
      acceptErrors: this.#acceptErrors,
    };
  }

  /**
   * Stops the loop, closes every registered source, cancels the timers and
   * compute tasks, and resolves once the pending operations have settled.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    this.#disposed = true;
    for (const e of [...this.#entries.values()]) this.#closeEntry(e);
    this.#timers.clear();
    this.#disarm();
    this.#computeAbort.abort(
      new DOMException("The event loop was disposed", "AbortError"),
    );
    while (this.#lingering.size > 0) {
      await Promise.all([...this.#lingering]);
    }
  }

  // ---------------------------------------------------------------- internal

  #get(token: Token, action: string): Entry {
    const e = this.#entries.get(token);
    if (e !== undefined) return e;
    assertToken(token, action);
    throw new TypeError(
      `Cannot ${action} as 'token' is not registered: received '${token}'`,
    );
  }

  /** Queue `e` from an I/O completion: dispatch at once when possible. */
  #enqueue(e: Entry): void {
    if (this.#running && !this.#draining && !this.#yieldPending) {
      if (
        !e.queued && this.#head === this.#ready.length &&
        this.#burst < this.#cap
      ) {
        // Nothing else is waiting: dispatch at once, without the queue.
        this.#draining = true;
        this.#ticks++;
        this.#burst++;
        try {
          this.#dispatch(e);
        } finally {
          this.#draining = false;
          if (this.#kicks.length > 0) this.#runKicks();
        }
        // While `#draining` was set, whatever the handler put on the ready
        // list (a reregister, a writable event) was left to us: dispatch it
        // now, as the drain loop would have.
        if (this.#head < this.#ready.length) this.#drain();
        return;
      }
      if (!e.queued) {
        e.queued = true;
        this.#ready.push(e);
      }
      this.#drain();
      return;
    }
    if (!e.queued) {
      e.queued = true;
      this.#ready.push(e);
    }
  }

  /** Queue `e` from an API call: dispatch in a microtask (no re-entrance). */
  #enqueueSoon(e: Entry): void {
    if (!e.queued) {
      e.queued = true;
      this.#ready.push(e);
    }
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#draining || !this.#running) return;
    this.#drainScheduled = true;
    queueMicrotask(this.#drainTask);
  }

  #drainTask = (): void => {
    this.#drainScheduled = false;
    if (this.#running && !this.#draining && !this.#yieldPending) this.#drain();
  };

  #onYield = (): void => {
    this.#closeChannel();
    this.#yieldPending = false;
    this.#burst = 0;
    if (!this.#running) return;
    this.#runTimers();
    this.#arm();
    if (!this.#draining && !this.#yieldPending) this.#drain();
  };

  /**
   * Lets the runtime run a macrotask turn (poll I/O, fire timers) before
   * dispatching more. A MessageChannel hop costs a few microseconds where
   * `setTimeout(0)` costs milliseconds; the channel exists only while a yield
   * is pending, since a listening port costs on every event-loop turn.
   */
  #yield(): void {
    if (this.#yieldPending || !this.#running) return;
    this.#yieldPending = true;
    const channel = new MessageChannel();
    channel.port1.onmessage = this.#onYield;
    this.#channel = channel;
    channel.port2.postMessage(0);
  }

  #closeChannel(): void {
    const channel = this.#channel;
    if (channel === undefined) return;
    this.#channel = undefined;
    channel.port1.onmessage = null;
    channel.port1.close();
    channel.port2.close();
  }

  #drain(): void {
    this.#draining = true;
    this.#ticks++;
    const ready = this.#ready;
    const cap = this.#cap;
    try {
      while (this.#head < ready.length) {
        if (this.#burst >= cap) {
          this.#yield();
          break;
        }
        if (!this.#running) break;
        const e = ready[this.#head]!;
        ready[this.#head++] = undefined;
        e.queued = false;
        if (e.registered) {
          this.#burst++;
          this.#dispatch(e);
        }
      }
    } finally {
      this.#draining = false;
      if (this.#head >= ready.length) {
        ready.length = 0;
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > ready.length) {
        ready.splice(0, this.#head);
        this.#head = 0;
      }
      if (this.#kicks.length > 0) this.#runKicks();
    }
  }

  #dispatch(e: Entry): void {
    const ev = this.#event;
    let deliver = false;
    let readBuf: Uint8Array | undefined;
    let readN = -1;
    let readPooled = false;
    const interest = e.interest;
    if (e.pendingError !== undefined) {
      ev.error = e.pendingError;
      ev.closed = e.closeAfter;
      e.pendingError = undefined;
      deliver = true;
    }
    switch (e.kind) {
      case KIND_CONN:
        if (interest & READABLE) {
          if (e.readN >= 0) {
            readBuf = e.readBuf!;
            readN = e.readN;
            readPooled = e.readPooled;
            e.readBuf = undefined;
            e.readN = -1;
            ev.readable = true;
            ev.data = readN === readBuf.length
              ? readBuf
              : readBuf.subarray(0, readN);
            deliver = true;
          } else if (e.readEof) {
            e.readEof = false;
            e.eofSeen = true;
            ev.readClosed = true;
            deliver = true;
          }
        }
        if (e.writablePending && (interest & WRITABLE)) {
          e.writablePending = false;
          ev.writable = true;
          deliver = true;
        }
        break;
      case KIND_LISTENER:
        if (e.accepted !== undefined && (interest & READABLE)) {
          ev.conn = e.accepted;
          e.accepted = undefined;
          ev.readable = true;
          deliver = true;
        }
        break;
      case KIND_TIMER:
        if (e.fired && (interest & READABLE)) {
          e.fired = false;
          ev.readable = true;
          if (e.timerNode!.intervalMs === 0) ev.closed = true;
          deliver = true;
        }
        break;
      case KIND_WAKER:
        if (e.fired && (interest & READABLE)) {
          e.fired = false;
          // Reset before the handler runs: a wake during it is a new event.
          Atomics.store(wakerState(e.source as Waker), 0, 0);
          ev.readable = true;
          deliver = true;
        }
        break;
    }
    if (!deliver) return;

    ev.token = e.token;
    this.#eventsDispatched++;
    if (readBuf !== undefined) {
      this.#dispatchBuf = readBuf;
      this.#dispatchBufTaken = false;
    }
    let threw = false;
    let thrown: unknown;
    let result: void | Promise<void> = undefined;
    this.#current = e;
    try {
      result = e.handler(ev, this);
    } catch (error) {
      threw = true;
      thrown = error;
    } finally {
      this.#current = undefined;
    }
    const closed = ev.closed;
    const accepted = ev.conn;
    ev.readable = false;
    ev.writable = false;
    ev.readClosed = false;
    ev.error = undefined;
    ev.closed = false;
    ev.data = undefined;
    ev.conn = undefined;

    if (readBuf !== undefined) {
      this.#dispatchBuf = undefined;
      if (readPooled && !this.#dispatchBufTaken) {
        releaseOwnBuffer(this.#pool, readBuf);
      }
      // Adaptive receive buffer: grow on full reads, shrink on small ones.
      const size = e.readSize;
      if (readN >= size) {
        if (size < e.maxRead) {
          e.readSize = Math.min(size * 2, e.maxRead);
        }
      } else if (readN * 4 <= size && size > e.minRead) {
        e.readSize = Math.max(size >> 1, e.minRead);
      }
    }

    if (threw) {
      this.#handlerFailed(e, thrown, accepted);
      return;
    }
    // An async handler: its rejection is a throw that arrives later; its
    // next events are not held back meanwhile.
    if (result !== undefined && typeof result.then === "function") {
      this.#watchHandler(e, result, accepted);
    }
    if (!e.registered) return;
    if (closed) {
      this.#closeEntry(e);
      return;
    }
    switch (e.kind) {
      case KIND_CONN:
        // Start the handler's writes before the next read: the reply goes
        // out first (lower latency).
        if (e.kickPending) {
          e.kickPending = false;
          if (!e.writing && e.wHead !== undefined) this.#startWrite(e);
        }
        if (this.#kicks.length > 0) this.#runKicks();
        if (
          (e.interest & READABLE) && !e.reading && e.readN < 0 && !e.readEof
        ) {
          if (e.writing && e.queuedBytes <= this.#lwm) {
            // A small reply is in flight: issue the next read when it
            // completes (almost always at once). Deno costs measurably more
            // with a read and a write in flight on one socket, and this is
            // also backpressure against a peer that stops reading.
            e.readDeferred = true;
          } else this.#startRead(e);
        }
        break;
      case KIND_LISTENER:
        if ((e.interest & READABLE) && e.accepted === undefined) {
          this.#startAccept(e);
        }
        break;
      case KIND_WAKER:
        if ((e.interest & READABLE) && !e.reading && !e.fired) {
          this.#waitWaker(e);
        }
        break;
    }
  }

  /** A handler threw: report it, close its source (and an unowned accept). */
  #handlerFailed(
    e: Entry,
    error: unknown,
    accepted: Deno.Conn | undefined,
  ): void {
    this.#handlerErrors++;
    this.#report(error, e.token);
    if (accepted !== undefined && !this.#bySource.has(accepted)) {
      try {
        accepted.close();
      } catch { /* already closed */ }
    }
    if (e.registered) this.#closeEntry(e);
  }

  #watchHandler(
    e: Entry,
    result: PromiseLike<void>,
    accepted: Deno.Conn | undefined,
  ): void {
    Promise.resolve(result).then(
      undefined,
      (error) => this.#handlerFailed(e, error, accepted),
    );
  }

  #report(error: unknown, token: Token | undefined): void {
    try {
      this.#onError(error, token);
    } catch {
      // An error callback that throws must not take the loop down.
    }
  }

  // -------------------------------------------------------------- conn reads

  #startRead(e: Entry, spare?: Uint8Array): void {
    if (
      e.reading || e.eofSeen || e.closing || !e.registered ||
      e.pendingError !== undefined || e.readN >= 0 || e.readEof
    ) {
      if (spare !== undefined) releaseOwnBuffer(this.#pool, spare);
      return;
    }
    e.readDeferred = false;
    const buf = spare ?? this.#pool.acquire(e.readSize);
    e.readBuf = buf;
    e.readPooled = true;
    e.reading = true;
    if (e.onRead === undefined) this.#bind(e);
    e.readPromise = e.conn!.read(buf).then(e.onRead, e.onRead);
  }

  #adoptRead(e: Entry, inflight: Promise<InflightOutcome>): void {
    e.reading = true;
    e.readPooled = false;
    e.readPromise = inflight.then((outcome) => {
      if (outcome.data !== undefined) {
        e.readBuf = outcome.data;
        this.#readDone(e, outcome.data.length);
      } else if (outcome.eof) {
        this.#readDone(e, null);
      } else {
        this.#readFailed(e, outcome.error);
      }
    });
  }

  #readDone(e: Entry, n: number | null): void {
    e.reading = false;
    e.readPromise = undefined;
    if (!e.registered) {
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
        releaseOwnBuffer(this.#pool, buf);
      }
      return;
    }
    this.#reads++;
    if (n === null) {
      if (e.readPooled && e.readBuf !== undefined) {
        releaseOwnBuffer(this.#pool, e.readBuf);
      }
      e.readBuf = undefined;
      e.readEof = true;
    } else {
      this.#bytesRead += n;
      e.readN = n;
    }
    if (e.interest & READABLE) this.#enqueue(e);
  }

  #readFailed(e: Entry, error: unknown): void {
    e.reading = false;
    e.readPromise = undefined;
    const buf = e.readBuf;
    e.readBuf = undefined;
    if (buf !== undefined && e.readPooled) releaseOwnBuffer(this.#pool, buf);
    if (!e.registered) {
      const adopt = e.adopt;
      if (adopt !== undefined) {
        e.adopt = undefined;
        adopt({ eof: false, error });
      }
      return;
    }
    if (e.closing) return;
    this.#fail(e, error);
  }

  /** Reports `error` as the source's last event, then closes it. */
  #fail(e: Entry, error: unknown): void {
    if (e.pendingError !== undefined && e.closeAfter) return;
    e.pendingError = toError(error);
    e.closeAfter = true;
    e.writeFailed = true;
    this.#enqueue(e);
  }

  // ------------------------------------------------------------- conn writes

  #runKicksTask = (): void => {
    this.#kickScheduled = false;
    this.#runKicks();
  };

  #runKicks(): void {
    const kicks = this.#kicks;
    for (let i = 0; i < kicks.length; i++) {
      const e = kicks[i]!;
      e.kickPending = false;
      if (!e.writing && !e.closing && e.wHead !== undefined) {
        this.#startWrite(e);
      }
    }
    kicks.length = 0;
  }

  /** Creates the completion callbacks of `e`. */
  // Reads resolve with a number or null and reject with an Error; writes
  // resolve with a number. `this` is the connection's Entry.
  static #connRead = function (this: Entry, value: unknown): void {
    const loop = this.loop!;
    if (value === null || typeof value === "number") {
      loop.#readDone(this, value);
    } else loop.#readFailed(this, value);
  };
  static #connWrite = function (this: Entry, value: unknown): void {
    const loop = this.loop!;
    if (typeof value === "number") loop.#writeDone(this, value);
    else loop.#writeFailed(this, value);
  };

  #bind(e: Entry): void {
    switch (e.kind) {
      case KIND_CONN:
        // Bound functions are smaller than two closures and their context
        // (idle connections).
        e.loop = this;
        e.onRead = EventLoop.#connRead.bind(e);
        e.onWrite = EventLoop.#connWrite.bind(e);
        break;
      case KIND_LISTENER:
        e.onRead = (value) => {
          if (
            value !== null && typeof value === "object" &&
            !(value instanceof Error) &&
            typeof (value as Deno.Conn).read === "function"
          ) this.#acceptDone(e, value as Deno.Conn);
          else this.#acceptFailed(e, value);
        };
        break;
      default:
        e.onRead = () => this.#wakeDone(e);
    }
  }

  #startWrite(e: Entry): void {
    let chunk = e.wHead!;
    const wq = e.wq;
    const max = this.#maxCoalesce;
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
        const pool = this.#pool;
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
        this.#compactQueue(e);
        chunk = total === buf.length ? buf : buf.subarray(0, total);
        e.wHead = chunk;
        e.wHeadOwned = buf;
      }
    }
    e.writing = true;
    if (e.onWrite === undefined) this.#bind(e);
    e.writePromise = e.conn!.write(chunk).then(e.onWrite, e.onWrite);
  }

  #compactQueue(e: Entry): void {
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

  #writeDone(e: Entry, n: number): void {
    e.writing = false;
    e.writePromise = undefined;
    const chunk = e.wHead;
    if (chunk === undefined) return; // closed under us
    const before = e.queuedBytes;
    this.#writes++;
    this.#bytesWritten += n;
    e.queuedBytes = before - n;
    let spare: Uint8Array | undefined;
    if (n < chunk.length) {
      e.wHead = chunk.subarray(n);
    } else {
      const owned = e.wHeadOwned;
      if (owned !== undefined) {
        // An echoed receive buffer comes back: reuse it for the next read.
        if (e.readDeferred && owned.length === e.readSize) spare = owned;
        else releaseOwnBuffer(this.#pool, owned);
      }
      const wq = e.wq;
      if (wq !== undefined && e.wqAt < wq.length) {
        e.wHead = wq[e.wqAt];
        e.wHeadOwned = e.wqOwned![e.wqAt];
        wq[e.wqAt] = undefined;
        e.wqOwned![e.wqAt] = undefined;
        e.wqAt++;
        this.#compactQueue(e);
      } else {
        e.wHead = undefined;
        e.wHeadOwned = undefined;
      }
    }
    if (e.readDeferred) {
      e.readDeferred = false;
      if (e.registered && (e.interest & READABLE)) this.#startRead(e, spare);
      else if (spare !== undefined) releaseOwnBuffer(this.#pool, spare);
      spare = undefined;
    }
    if (e.closing) return;
    if (e.wHead !== undefined) {
      this.#startWrite(e);
    } else {
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
    if (
      e.registered && before >= this.#lwm && e.queuedBytes < this.#lwm &&
      (e.interest & WRITABLE)
    ) {
      e.writablePending = true;
      this.#enqueue(e);
    }
  }

  #writeFailed(e: Entry, error: unknown): void {
    e.writing = false;
    e.writePromise = undefined;
    e.readDeferred = false;
    this.#dropWrites(e, error);
    if (e.registered && !e.closing) this.#fail(e, error);
  }

  #dropWrites(e: Entry, error: unknown | undefined): void {
    const pool = this.#pool;
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

  #flushEntry(e: Entry, signal: AbortSignal | undefined): Promise<void> {
    if (e.writeFailed && e.queuedBytes === 0 && e.pendingError !== undefined) {
      return Promise.reject(e.pendingError);
    }
    if (e.queuedBytes === 0) return Promise.resolve();
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

  // --------------------------------------------------------------- listeners

  #startAccept(e: Entry): void {
    if (
      e.reading || e.closing || !e.registered ||
      e.backoffTimer !== undefined || e.accepted !== undefined
    ) return;
    e.reading = true;
    if (e.onRead === undefined) this.#bind(e);
    e.readPromise = e.listener!.accept().then(e.onRead, e.onRead);
  }

  #acceptDone(e: Entry, conn: Deno.Conn): void {
    e.reading = false;
    e.readPromise = undefined;
    if (!e.registered) {
      // Nobody will see it; do not leak it.
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    e.accepted = conn;
    if (e.interest & READABLE) this.#enqueue(e);
  }

  #acceptFailed(e: Entry, error: unknown): void {
    e.reading = false;
    e.readPromise = undefined;
    if (!e.registered || e.closing) return;
    this.#acceptErrors++;
    switch (classifyAcceptError(error)) {
      case "retry":
        if (e.interest & READABLE) this.#startAccept(e);
        return;
      case "closed":
        this.#fail(e, error);
        return;
      case "backoff":
        e.pendingError = toError(error);
        e.closeAfter = false;
        e.backoffTimer = setTimeout(() => {
          e.backoffTimer = undefined;
          if (e.registered && (e.interest & READABLE)) this.#startAccept(e);
        }, this.#acceptDelay);
        this.#enqueue(e);
        return;
    }
  }

  // ------------------------------------------------------------------ wakers

  #waitWaker(e: Entry): void {
    const state = wakerState(e.source as Waker);
    const result = Atomics.waitAsync(state, 0, 0);
    if (!result.async) {
      e.fired = true;
      this.#enqueueSoon(e);
      return;
    }
    e.reading = true;
    if (e.onRead === undefined) this.#bind(e);
    e.readPromise = result.value.then(e.onRead);
  }

  #wakeDone(e: Entry): void {
    e.reading = false;
    e.readPromise = undefined;
    if (!e.registered) return;
    if (Atomics.load(wakerState(e.source as Waker), 0) !== 0) {
      e.fired = true;
      if (e.interest & READABLE) this.#enqueue(e);
    } else if (e.interest & READABLE) {
      this.#waitWaker(e);
    }
  }

  // ------------------------------------------------------------------ timers

  #runTimers(): void {
    const heap = this.#timers;
    if (heap.size === 0) return;
    const now = performance.now();
    const cap = this.#cap;
    let fired = 0;
    for (;;) {
      const node = heap.peek();
      if (node === undefined || node.deadline > now) break;
      if (fired++ >= cap) {
        this.#yield();
        break;
      }
      heap.pop();
      if (node.intervalMs > 0) {
        let next = node.deadline + node.intervalMs;
        if (next <= now) next = now + node.intervalMs;
        heap.push(node, next);
      }
      const entry = node.entry as Entry | undefined;
      if (entry !== undefined) {
        if (!entry.registered) continue;
        entry.fired = true;
        if (entry.interest & READABLE && !entry.queued) {
          entry.queued = true;
          this.#ready.push(entry);
        }
      } else {
        try {
          const result = node.callback!();
          if (result !== undefined && typeof result.then === "function") {
            Promise.resolve(result).then(undefined, this.#timerFailed);
          }
        } catch (error) {
          this.#timerFailed(error);
        }
      }
    }
  }

  #timerFailed = (error: unknown): void => {
    this.#handlerErrors++;
    this.#report(error, undefined);
  };

  #onNativeTimer = (): void => {
    this.#armedId = undefined;
    this.#armedDeadline = Infinity;
    if (!this.#running) return;
    this.#runTimers();
    this.#arm();
    if (!this.#draining && !this.#yieldPending) this.#drain();
  };

  #arm(): void {
    if (!this.#running) return;
    const top = this.#timers.peek();
    if (top === undefined) {
      this.#disarm();
      return;
    }
    if (this.#armedId !== undefined && this.#armedDeadline <= top.deadline) {
      return;
    }
    if (this.#armedId !== undefined) clearTimeout(this.#armedId);
    const delay = Math.max(0, Math.ceil(top.deadline - performance.now()));
    this.#armedDeadline = top.deadline;
    this.#armedId = setTimeout(this.#onNativeTimer, delay);
  }

  #updateKeepAlive(): void {
    const want = this.#running && this.#wakers > 0;
    if (want && this.#keepAlive === undefined) {
      this.#keepAlive = setInterval(noop, 2 ** 31 - 1);
    } else if (!want && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  #disarm(): void {
    if (this.#armedId !== undefined) {
      clearTimeout(this.#armedId);
      this.#armedId = undefined;
      this.#armedDeadline = Infinity;
    }
  }

  // --------------------------------------------------------- detach / close

  /** Removes `e` from the registry; its I/O keeps going. */
  #detach(e: Entry): void {
    if (!e.registered) return;
    e.registered = false;
    this.#entries.delete(e.token);
    this.#bySource.delete(e.source);
    if (e.timerNode !== undefined) {
      this.#timers.remove(e.timerNode);
      if (this.#timers.size === 0) this.#disarm();
    }
    if (e.kind === KIND_WAKER) {
      this.#wakers--;
      this.#updateKeepAlive();
    }
    if (e.kind === KIND_WAKER && e.reading) {
      // Release our waitAsync; a real wake stays visible in the state word.
      Atomics.notify(wakerState(e.source as Waker), 0);
    }
    if (e.backoffTimer !== undefined) {
      clearTimeout(e.backoffTimer);
      e.backoffTimer = undefined;
    }
  }

  /** After deregister: hand a conn's read and writes to its next owner. */
  #handOver(e: Entry): void {
    const conn = e.conn!;
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
      stashPendingWrites(conn, promise);
      if (!e.writing) this.#startWrite(e);
    }
  }

  /** Detaches and closes `e`; returns a promise of its operations settling. */
  #closeEntry(e: Entry): Promise<void> | undefined {
    if (e.closing) return undefined;
    this.#detach(e);
    e.closing = true;
    const pending: Promise<void>[] = [];
    switch (e.kind) {
      case KIND_CONN: {
        if (e.reading && e.readPromise) pending.push(e.readPromise);
        if (e.writing && e.writePromise) pending.push(e.writePromise);
        const held = e.readBuf;
        if (!e.reading && held !== undefined) {
          if (e.readPooled) releaseOwnBuffer(this.#pool, held);
          e.readBuf = undefined;
          e.readN = -1;
        }
        try {
          e.conn!.close();
        } catch { /* already closed */ }
        // `undefined`: the error for flush() waiters is made only if needed
        // (an Error's stack trace costs microseconds per connection).
        this.#dropWrites(e, undefined);
        break;
      }
      case KIND_LISTENER:
        if (e.reading && e.readPromise) pending.push(e.readPromise);
        if (e.accepted !== undefined) {
          try {
            e.accepted.close();
          } catch { /* already closed */ }
          e.accepted = undefined;
        }
        try {
          e.listener!.close();
        } catch { /* already closed */ }
        break;
        // A waker's waitAsync is not an op (nothing for the sanitizers) and
        // its settling does not keep Deno's event loop alive: not awaited.
    }
    if (pending.length === 0) return undefined;
    const settled = Promise.all(pending).then(() => {
      this.#lingering.delete(settled);
    });
    this.#lingering.add(settled);
    return settled;
  }
}
