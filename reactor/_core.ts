// The loop's core: the registry, the ready queue, dispatch and the yield to
// the runtime (mio's `Poll` and `Registry`). What differs per source kind
// (how its I/O starts, what an event of it carries, how it re-arms and
// closes) lives in one module per kind behind `SourceKind`; the core calls
// those functions and knows nothing else of connections, listeners, timers
// or wakers.
//
// Everything here is module-internal state of one `EventLoop` (plain fields
// and functions over them, as Node's stream_base_commons does): the public
// facade is event_loop.ts.

import { isThenable } from "../_internal/watch_result.ts";
import type { EventLoop } from "./event_loop.ts";
import { assertToken, type Token } from "./token.ts";
import { type BufferPool, releaseOwnBuffer } from "./buffer_pool.ts";
import { TimerHeap } from "../_internal/timer_heap.ts";
import { IntMap } from "../_internal/int_map.ts";
import { toError } from "../_internal/to_error.ts";
import { type Entry, MutableEvent } from "./_entry.ts";
import type { LoopSettings } from "./_loop_options.ts";
import { runKicks } from "./_conn_writer.ts";
import { arm, onNativeTimer, runTimers } from "./_timer_source.ts";

/**
 * The functions that drive one kind of source. The core calls them through
 * the entry (`e.ops`); a new kind (say, datagrams) is one more module that
 * exports one of these and a branch in `EventLoop.register`'s detection.
 */
export interface SourceKind {
  /** `Entry.kind`: a small integer, for the few checks by kind. */
  readonly kind: number;
  /** Registration: start the source's I/O for `e.interest`. */
  start(core: LoopCore, e: Entry): void;
  /** `reregister` added READABLE: deliver what is held, or start I/O. */
  resume(core: LoopCore, e: Entry): void;
  /**
   * Fills `ev` with what `e` has to deliver under its interest (and takes it
   * from `e`); returns whether there is anything.
   */
  collect(core: LoopCore, e: Entry, ev: MutableEvent): boolean;
  /** After a handler returned, `e` still registered: issue the next I/O. */
  rearm(core: LoopCore, e: Entry): void;
  /** Taken out of the registry (deregister or close): release kind state. */
  detach(core: LoopCore, e: Entry): void;
  /**
   * Closes the source; returns a promise of its operations still in flight
   * settling, or `undefined` if none is (`bothSettled` joins two).
   */
  close(core: LoopCore, e: Entry): Promise<void> | undefined;
}

/** The state of one loop, shared by the modules that make it up. */
export class LoopCore {
  /** The facade handed to handlers. */
  readonly loop: EventLoop;
  /** By token; not a `Map`, whose churn retains dead entries (int_map.ts). */
  readonly entries: IntMap<Entry> = new IntMap();
  readonly bySource: WeakMap<object, Entry> = new WeakMap();
  nextReserved = 0;
  readonly event: MutableEvent = new MutableEvent();

  // Options, validated by the facade (_loop_options.ts).
  readonly settings: LoopSettings;
  readonly cap: number;
  readonly minRead: number;
  readonly maxRead: number;
  /** `minRead` rounded up to its pool size class (a registration's default). */
  readonly minReadClass: number;
  readonly hwm: number;
  readonly lwm: number;
  readonly maxCoalesce: number;
  readonly acceptDelay: number;
  /** How long `close({ flush: true })` lingers (`EventLoopOptions.lingerMs`). */
  readonly lingerMs: number;
  readonly pool: BufferPool;
  readonly onError: (error: unknown, token: Token | undefined) => void;

  // Ready queue: entries with something to deliver, FIFO; each at most once.
  // Invariant: an entry on the list is always dispatched. Whoever sets
  // `draining` (the drain loop, or the fast path of `enqueue`) dispatches
  // what is pushed meanwhile before it returns, or leaves it to a turn
  // already scheduled: the probe (`onProbe`) of a yield or `run()`.
  readonly ready: (Entry | undefined)[] = [];
  head = 0;
  draining = false;
  drainScheduled = false;
  /** Events dispatched since the runtime last had a macrotask turn. */
  burst = 0;
  /** `burst` at which a probe for a macrotask turn is posted (`cap / 2`). */
  readonly probeAt: number;
  /** Dispatch is held until the probe arrives (`burst` reached `cap`). */
  yieldPending = false;
  /** The probe in flight: a MessageChannel message to ourselves. */
  channel: MessageChannel | undefined = undefined;

  // Writes requested outside a write in flight, started after the handler.
  readonly kicks: Entry[] = [];
  kickScheduled = false;
  /**
   * The receive buffer of the event being dispatched; whether `write()` took
   * it over; whether it came from the pool.
   */
  dispatchBuf: Uint8Array | undefined = undefined;
  dispatchBufTaken = false;
  dispatchPooled = false;
  /** The entry whose handler runs now. */
  current: Entry | undefined = undefined;

  running = false;
  disposed = false;

  readonly timers: TimerHeap = new TimerHeap();
  armedId: ReturnType<typeof setTimeout> | undefined = undefined;
  armedDeadline = Infinity;
  // Atomics.waitAsync does not keep Deno's event loop alive: while the loop
  // runs with a Waker registered, a ref'ed idle interval does, so that a
  // wake from another thread is not lost to "event loop has resolved".
  wakers = 0;
  keepAlive: ReturnType<typeof setInterval> | undefined = undefined;

  /** Closes whose operations have not settled yet (awaited on dispose). */
  readonly lingering: Set<Promise<void>> = new Set();
  /** Cuts short the graceful closes in progress (flush, then linger): dispose. */
  readonly closers: Set<() => void> = new Set();

  ticks = 0;
  eventsDispatched = 0;
  reads = 0;
  writes = 0;
  bytesRead = 0;
  bytesWritten = 0;
  handlerErrors = 0;
  acceptErrors = 0;

  // Callbacks bound once (no closure per use).
  readonly drainTask = (): void => {
    this.drainScheduled = false;
    if (this.running && !this.draining && !this.yieldPending) drain(this);
  };
  readonly onProbe = (): void => onProbe(this);
  readonly runKicksTask = (): void => {
    this.kickScheduled = false;
    runKicks(this);
  };
  readonly onNativeTimer = (): void => onNativeTimer(this);
  readonly timerFailed = (error: unknown): void => {
    this.handlerErrors++;
    report(this, error, undefined);
  };

  constructor(loop: EventLoop, settings: LoopSettings) {
    this.loop = loop;
    this.settings = settings;
    this.cap = settings.cap;
    this.probeAt = settings.cap >> 1;
    this.minRead = settings.minRead;
    this.maxRead = settings.maxRead;
    this.minReadClass = settings.pool.classSize(settings.minRead);
    this.hwm = settings.hwm;
    this.lwm = settings.lwm;
    this.maxCoalesce = settings.maxCoalesce;
    this.acceptDelay = settings.acceptDelay;
    this.lingerMs = settings.lingerMs;
    this.pool = settings.pool;
    this.onError = settings.onError;
  }
}

// ------------------------------------------------------------ ready queue

/** Queues `e` from an I/O completion: dispatch at once when possible. */
export function enqueue(core: LoopCore, e: Entry): void {
  if (core.running && !core.draining && !core.yieldPending) {
    if (
      !e.queued && core.head === core.ready.length && core.burst < core.cap
    ) {
      // Nothing else is waiting: dispatch at once, without the queue.
      core.draining = true;
      core.ticks++;
      if (++core.burst === core.probeAt) probe(core);
      try {
        dispatch(core, e);
      } finally {
        core.draining = false;
        if (core.kicks.length > 0) runKicks(core);
      }
      // While `draining` was set, whatever the handler put on the ready
      // list (a reregister, a writable event) was left to us: dispatch it
      // now, as the drain loop would have.
      if (core.head < core.ready.length) drain(core);
      return;
    }
    if (!e.queued) {
      e.queued = true;
      core.ready.push(e);
    }
    drain(core);
    return;
  }
  if (!e.queued) {
    e.queued = true;
    core.ready.push(e);
  }
}

/** Queues `e` from an API call: dispatch in a microtask (no re-entrance). */
export function enqueueSoon(core: LoopCore, e: Entry): void {
  if (!e.queued) {
    e.queued = true;
    core.ready.push(e);
  }
  scheduleDrain(core);
}

/** Drains the ready list in a microtask, unless a drain will anyway. */
export function scheduleDrain(core: LoopCore): void {
  if (core.drainScheduled || core.draining || !core.running) return;
  core.drainScheduled = true;
  queueMicrotask(core.drainTask);
}

/** Dispatches the ready list, up to `cap` events per macrotask turn. */
export function drain(core: LoopCore): void {
  core.draining = true;
  core.ticks++;
  const ready = core.ready;
  const cap = core.cap;
  try {
    while (core.head < ready.length) {
      if (core.burst >= cap) {
        yieldTurn(core);
        break;
      }
      if (!core.running) break;
      const e = ready[core.head]!;
      ready[core.head++] = undefined;
      e.queued = false;
      if (e.registered) {
        if (++core.burst === core.probeAt) probe(core);
        dispatch(core, e);
      }
    }
  } finally {
    core.draining = false;
    if (core.head >= ready.length) {
      ready.length = 0;
      core.head = 0;
    } else if (core.head > 1024 && core.head * 2 > ready.length) {
      ready.splice(0, core.head);
      core.head = 0;
    }
    if (core.kicks.length > 0) runKicks(core);
  }
}

// ------------------------------------------------------------------- yield
//
// Fairness without a tail. Completions of Deno's ops arrive in macrotask
// turns, so dispatching them as they come starves nobody; but a read that
// completes eagerly (bytes already there) resolves in the same microtask
// checkpoint, and a busy peer could then keep the loop in microtasks, away
// from timers and other I/O. So after `cap / 2` events the loop posts a
// probe, a MessageChannel message to itself (a few microseconds; setTimeout(0)
// costs milliseconds), and keeps dispatching. The probe arriving proves the
// runtime had a macrotask turn: the count starts over. Only if `cap` events
// go by first does dispatch wait for it. Until 0.2 the loop stopped at every
// `cap` events and waited a turn, which held up every completion queued
// meanwhile: the ping-pong p99 was 1.6–2.7× the plain Deno loop's, with
// that wait as its cause (docs/design.md, "Where the tail came from").

/** Posts the probe for a macrotask turn, unless one is in flight. */
export function probe(core: LoopCore): void {
  if (core.channel !== undefined || !core.running) return;
  // The channel exists only while a probe is in flight: a listening port
  // costs on every event-loop turn.
  const channel = new MessageChannel();
  channel.port1.onmessage = core.onProbe;
  core.channel = channel;
  channel.port2.postMessage(0);
}

/** `cap` events without a turn: hold dispatch until the probe arrives. */
export function yieldTurn(core: LoopCore): void {
  if (core.yieldPending || !core.running) return;
  core.yieldPending = true;
  probe(core);
}

function onProbe(core: LoopCore): void {
  closeChannel(core);
  const held = core.yieldPending;
  core.yieldPending = false;
  core.burst = 0;
  if (!core.running) return;
  runTimers(core);
  arm(core);
  if (
    (held || core.head < core.ready.length) && !core.draining &&
    !core.yieldPending
  ) drain(core);
}

/** Drops a pending yield's channel (on stop, or once it fired). */
export function closeChannel(core: LoopCore): void {
  const channel = core.channel;
  if (channel === undefined) return;
  core.channel = undefined;
  channel.port1.onmessage = null;
  channel.port1.close();
  channel.port2.close();
}

// ---------------------------------------------------------------- dispatch

/** Delivers what `e` has to deliver to its handler, then re-arms it. */
export function dispatch(core: LoopCore, e: Entry): void {
  const ev = core.event;
  let deliver = false;
  if (e.pendingError !== undefined) {
    ev.error = e.pendingError;
    ev.closed = e.closeAfter;
    e.pendingError = undefined;
    deliver = true;
  }
  if (e.ops.collect(core, e, ev)) deliver = true;
  if (!deliver) return;

  ev.token = e.token;
  core.eventsDispatched++;
  let threw = false;
  let thrown: unknown;
  let result: void | Promise<void> = undefined;
  core.current = e;
  try {
    result = e.handler(ev, core.loop);
  } catch (error) {
    threw = true;
    thrown = error;
  } finally {
    core.current = undefined;
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
  ev.remoteAddr = undefined;

  const readBuf = core.dispatchBuf;
  if (readBuf !== undefined) {
    // The receive buffer goes back to the pool unless write() took it over.
    core.dispatchBuf = undefined;
    if (core.dispatchPooled && !core.dispatchBufTaken) {
      releaseOwnBuffer(core.pool, readBuf);
    }
  }

  if (threw) {
    handlerFailed(core, e, thrown, accepted);
    return;
  }
  // An async handler: its rejection is a throw that arrives later; its
  // next events are not held back meanwhile.
  if (isThenable(result)) watchHandler(core, e, result, accepted);
  if (!e.registered) return;
  if (closed) {
    closeEntry(core, e);
    return;
  }
  e.ops.rearm(core, e);
}

// The closures of rare paths live in functions of their own: a function
// that creates a closure over its parameters allocates a context on every
// call, taken path or not (V8), and dispatch runs once per event.

/** An async handler's rejection is handled like a throw. */
function watchHandler(
  core: LoopCore,
  e: Entry,
  result: PromiseLike<void>,
  accepted: Deno.Conn | undefined,
): void {
  Promise.resolve(result).then(
    undefined,
    (error) => handlerFailed(core, e, error, accepted),
  );
}

/** A handler threw: report it, close its source (and an unowned accept). */
function handlerFailed(
  core: LoopCore,
  e: Entry,
  error: unknown,
  accepted: Deno.Conn | undefined,
): void {
  core.handlerErrors++;
  report(core, error, e.token);
  if (accepted !== undefined && !core.bySource.has(accepted)) {
    try {
      accepted.close();
    } catch { /* already closed */ }
  }
  if (e.registered) closeEntry(core, e);
}

/** Calls `onError`; an error callback that throws must not take the loop down. */
export function report(
  core: LoopCore,
  error: unknown,
  token: Token | undefined,
): void {
  try {
    core.onError(error, token);
  } catch { /* nobody left to tell */ }
}

/** Reports `error` as the source's last event, then closes it. */
export function fail(core: LoopCore, e: Entry, error: unknown): void {
  if (e.pendingError !== undefined && e.closeAfter) return;
  e.pendingError = toError(error);
  e.closeAfter = true;
  e.writeFailed = true;
  enqueue(core, e);
}

// ---------------------------------------------------------------- registry

/** Removes `e` from the registry; its I/O keeps going. */
export function detach(core: LoopCore, e: Entry): void {
  if (!e.registered) return;
  e.registered = false;
  core.entries.delete(e.token);
  core.bySource.delete(e.source);
  e.ops.detach(core, e);
}

/** Detaches and closes `e`; returns a promise of its operations settling. */
export function closeEntry(
  core: LoopCore,
  e: Entry,
): Promise<void> | undefined {
  if (e.closing) return undefined;
  detach(core, e);
  e.closing = true;
  // No array per close: the common close (the churn path) has nothing in
  // flight.
  const pending = e.ops.close(core, e);
  if (pending === undefined) return undefined;
  return trackLingering(core, pending);
}

/** Keeps a close's `pending` operations for dispose until they settle. */
function trackLingering(core: LoopCore, pending: Promise<void>): Promise<void> {
  const settled = pending.then(() => {
    core.lingering.delete(settled);
  });
  core.lingering.add(settled);
  return settled;
}

const NOOP = (): void => {};

/** What a closing source still waits for: `a`, `b`, both, or nothing. */
export function bothSettled(
  a: Promise<void> | undefined,
  b: Promise<void> | undefined,
): Promise<void> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Promise.all([a, b]).then(NOOP);
}

/** The entry of `token`; a TypeError/RangeError naming `action` if none. */
export function entryOf(core: LoopCore, token: Token, action: string): Entry {
  const e = core.entries.get(token);
  if (e !== undefined) return e;
  assertToken(token, action);
  throw new TypeError(
    `Cannot ${action} as 'token' is not registered: received '${token}'`,
  );
}
