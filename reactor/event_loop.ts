// The public face of the reactor: the API's docs and delegation to the
// private modules, one per concept (docs/design.md has the map).

import type { EventHandler, Source } from "./event.ts";
import type { Interest } from "./interest.ts";
import { RESERVED_TOKEN_BASE, type Token } from "./token.ts";
import type { TimerHandle, TimerOptions } from "./timer.ts";
import type { BufferPool } from "./buffer_pool.ts";
import type {
  CloseOptions,
  EventLoopMetrics,
  EventLoopOptions,
  EventLoopRunOptions,
  FlushOptions,
  RegisterOptions,
} from "./event_loop_options.ts";
import type { ComputeRunner, ComputeRunOptions } from "./compute_runner.ts";
import { loopSettings } from "./_loop_options.ts";
import { entryOf, LoopCore } from "./_core.ts";
import { disposeLoop, LoopRunner, metricsOf } from "./_lifecycle.ts";
import { ComputeSlot } from "./_compute.ts";
import {
  deregisterSource,
  registerSource,
  reregisterSource,
} from "./_registry.ts";
import { flushSource, shutdownWriteOf, writeTo } from "./_conn_writer.ts";
import { closeSource } from "./_conn_linger.ts";
import { addCallbackTimer } from "./_timer_source.ts";
import { sendDatagram } from "./_datagram_source.ts";
import { pendingBytes } from "./_handover.ts";

/** `register()` and `close()` without options: no object per call. */
const NO_OPTIONS: RegisterOptions & CloseOptions = Object.freeze({});

/**
 * A readiness-emulating event loop over Deno sockets (mio's `Poll` plus
 * mill-io's `EventLoop`): TCP, Unix and TLS listeners and connections, UDP
 * sockets, {@linkcode Timer}s and {@linkcode Waker}s, each registered under a
 * token with a handler. How readiness is emulated is in the module doc; what
 * a handler may do with its (reused) {@linkcode Event} in
 * {@linkcode EventHandler}; how one busy source is kept from starving the
 * others in {@linkcode EventLoopOptions.eventsCapacity}.
 *
 * @example Two sources, one loop
 * ```ts
 * import { EventLoop, Interest, Timer, Waker } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop(); // disposing closes what is registered
 * const waker = new Waker();
 * loop.register(waker, 1, Interest.READABLE, (_event, loop) => loop.stop());
 * loop.register(new Timer(1), 2, Interest.READABLE, () => waker.wake());
 * await loop.run();
 * // Stopping closes nothing; a one-shot timer leaves after its event.
 * assertEquals([loop.has(1), loop.has(2)], [true, false]);
 * ```
 */
export class EventLoop implements AsyncDisposable {
  #core: LoopCore;
  #run: LoopRunner;
  #compute = new ComputeSlot();

  /**
   * Constructs a loop; no I/O happens until a source is registered.
   *
   * @param options Sizes, watermarks, the buffer pool and the error callback.
   * @throws {RangeError} If a size is not a positive integer, or
   * `maxReadBufferSize < minReadBufferSize`, or
   * `writeLowWaterMark > writeHighWaterMark`.
   * @throws {TypeError} If `bufferPool` is not a `BufferPool` or `onError`
   * not a function.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertThrows } from "@std/assert";
   *
   * await using _loop = new EventLoop({ eventsCapacity: 64 });
   * assertThrows(() => new EventLoop({ eventsCapacity: 0 }), RangeError);
   * ```
   */
  constructor(options: EventLoopOptions = {}) {
    this.#core = new LoopCore(this, loopSettings(options));
    this.#run = new LoopRunner(this.#core);
  }

  /**
   * The pool receive buffers come from.
   *
   * @example Usage
   * ```ts
   * import { BufferPool, EventLoop } from "@millrace/io/reactor";
   * import { assertStrictEquals } from "@std/assert";
   *
   * const bufferPool = new BufferPool();
   * await using loop = new EventLoop({ bufferPool });
   * assertStrictEquals(loop.bufferPool, bufferPool);
   * ```
   */
  get bufferPool(): BufferPool {
    return this.#core.pool;
  }

  /**
   * Whether `run()` is dispatching.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * assertEquals(loop.running, false);
   * ```
   */
  get running(): boolean {
    return this.#core.running;
  }

  /**
   * Registers a source under `token` and starts its I/O at once (events
   * queue until `run()`).
   *
   * @param source A listener, a connection, a {@linkcode Timer} or a {@linkcode Waker}.
   * @param token The token events of this source carry: an integer from 0,
   * or one from `allocateToken()`.
   * @param interest `Interest.READABLE`, `Interest.WRITABLE`, both or `NONE`.
   * @param handler Called with each event (may be `async`).
   * @param options Per-connection receive buffer sizes.
   * @throws {TypeError} If the loop is disposed, the token or the source is
   * already registered, the source is of no known kind, or `handler` is not
   * a function.
   * @throws {RangeError} If the token is negative, not an integer, or in the
   * reserved range but not from `allocateToken()`.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest, Timer } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * loop.register(new Timer(1), 7, Interest.READABLE, (event, loop) => {
   *   assertEquals(event.token, 7);
   *   loop.stop();
   * });
   * await loop.run();
   * ```
   */
  register(
    source: Source,
    token: Token,
    interest: Interest,
    handler: EventHandler,
    options: RegisterOptions = NO_OPTIONS,
  ): void {
    registerSource(this.#core, source, token, interest, handler, options);
  }

  /**
   * A fresh token from the reserved range (from {@linkcode RESERVED_TOKEN_BASE}
   * up), which no application counting from 0 reaches.
   *
   * @returns A token no other source of this loop has or will get.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, RESERVED_TOKEN_BASE } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * assertEquals(loop.allocateToken(), RESERVED_TOKEN_BASE);
   * assertEquals(loop.allocateToken(), RESERVED_TOKEN_BASE + 1);
   * ```
   */
  allocateToken(): Token {
    return RESERVED_TOKEN_BASE + this.#core.nextReserved++;
  }

  /**
   * Changes a source's interest (and handler). Removing READABLE stops
   * issuing reads (backpressure); a read already in flight is kept and
   * delivered when READABLE returns. Adding WRITABLE while the write queue is
   * below the low-water mark delivers a writable event.
   *
   * @param token The source's token.
   * @param interest The new interest.
   * @param handler A new handler; the current one is kept when omitted.
   * @throws {TypeError} If `token` is not registered or `handler` is not a
   * function.
   * @throws {RangeError} If `interest` is not a valid interest.
   *
   * @example Pausing reads
   * ```ts
   * import { EventLoop, Interest, Timer } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * loop.register(new Timer(1, { intervalMs: 1 }), 1, Interest.READABLE, () => {});
   * loop.reregister(1, Interest.NONE); // expiries wait until READABLE returns
   * assertEquals(loop.has(1), true);
   * ```
   */
  reregister(token: Token, interest: Interest, handler?: EventHandler): void {
    reregisterSource(this.#core, token, interest, handler);
  }

  /**
   * Stops delivering events of `token` and returns its source, left open. A
   * read in flight (or read but not delivered) is handed over to whoever
   * reads the connection next through the loop or `net/`'s `TcpStream`;
   * queued writes keep going out.
   *
   * @param token The source's token.
   * @returns The source, still open; the caller owns it.
   * @throws {TypeError} If `token` is not registered.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest, Timer } from "@millrace/io/reactor";
   * import { assertEquals, assertInstanceOf } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * loop.register(new Timer(1000), 1, Interest.READABLE, () => {});
   * assertInstanceOf(loop.deregister(1), Timer);
   * assertEquals(loop.has(1), false);
   * ```
   */
  deregister(token: Token): Source {
    return deregisterSource(this.#core, token);
  }

  /**
   * Whether `token` is registered.
   *
   * @param token A token.
   * @returns `true` while a source is registered under `token`.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * assertEquals(loop.has(1), false);
   * ```
   */
  has(token: Token): boolean {
    return this.#core.entries.has(token);
  }

  /**
   * Queues `bytes` on connection `token`, not copied: do not change them
   * afterwards (writing the current event's `data` is fine: the loop takes
   * that buffer over). One write is in flight per source; partial writes are
   * continued, and chunks queued together coalesced into one write.
   *
   * @param token A connection's token.
   * @param bytes The bytes to write.
   * @returns `false` once the queue is at or above the high-water mark (keep
   * the bytes queued; wait for a writable event or `flush()` before writing
   * more), or after a write failed; `true` otherwise.
   * @throws {TypeError} If `token` is not a registered connection, `bytes` is
   * not a `Uint8Array`, or the write side was shut down.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop({ writeHighWaterMark: 4 });
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * loop.register(await Deno.connect({ port: listener.addr.port }), 1, Interest.READABLE, () => {});
   * assertEquals(loop.write(1, new TextEncoder().encode("hi")), true);
   * assertEquals(loop.write(1, new TextEncoder().encode("there")), false);
   * ```
   */
  write(token: Token, bytes: Uint8Array): boolean {
    return writeTo(this.#core, token, bytes);
  }

  /**
   * Queues one datagram for `addr` on datagram socket `token` (from
   * {@linkcode listenDatagram}, which says how its queue drops and drains);
   * like `write`, the bytes are not copied.
   *
   * @param token A datagram socket's token.
   * @param bytes The datagram's payload.
   * @param addr The receiver, e.g. an event's `remoteAddr`.
   * @returns `false` if the datagram was dropped or the queue is at or above
   * the high-water mark; `true` otherwise.
   * @throws {TypeError} If `token` is not a registered datagram socket,
   * `bytes` is not a `Uint8Array` or `addr` has no hostname and port.
   *
   * @example Sending a datagram
   * ```ts
   * // Needs `--unstable-net` (UDP is unstable in Deno).
   * import { EventLoop, Interest, isDatagramAvailable, listenDatagram } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * if (isDatagramAvailable()) {
   *   await using loop = new EventLoop();
   *   const peer = listenDatagram({ hostname: "127.0.0.1", port: 0 });
   *   loop.register(listenDatagram({ hostname: "127.0.0.1", port: 0 }), 1, Interest.READABLE, () => {});
   *   assertEquals(loop.sendTo(1, new TextEncoder().encode("hi"), peer.addr), true);
   *   const [bytes] = await peer.receive();
   *   assertEquals(new TextDecoder().decode(bytes), "hi");
   *   peer.close();
   * }
   * ```
   */
  sendTo(token: Token, bytes: Uint8Array, addr: Deno.Addr): boolean {
    return sendDatagram(this.#core, token, bytes, addr);
  }

  /**
   * Bytes queued on connection `token` and not yet written; after a
   * hand-over, also those the previous owner still writes ahead of them.
   *
   * @param token A connection's token.
   * @returns The number of bytes queued (0 for other sources).
   * @throws {TypeError} If `token` is not registered.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * loop.register(await Deno.connect({ port: listener.addr.port }), 1, Interest.READABLE, () => {});
   * loop.write(1, new Uint8Array(10));
   * assertEquals(loop.pendingWriteBytes(1), 10);
   * ```
   */
  pendingWriteBytes(token: Token): number {
    return pendingBytes(entryOf(this.#core, token, "get pending write bytes"));
  }

  /**
   * Resolves when the write queue of `token` is empty.
   *
   * @param token A connection's token.
   * @param options An abort signal that stops waiting (the queue is kept).
   * @returns A promise that resolves once the queue drained; it rejects with
   * the write error if a write failed, or with the signal's reason.
   * @throws {TypeError} (as a rejection) If `token` is not registered.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * loop.register(await Deno.connect({ port: listener.addr.port }), 1, Interest.READABLE, () => {});
   * loop.write(1, new TextEncoder().encode("hello"));
   * await loop.flush(1, { signal: AbortSignal.timeout(5000) });
   * assertEquals(loop.pendingWriteBytes(1), 0);
   * ```
   */
  flush(token: Token, options: FlushOptions = {}): Promise<void> {
    return flushSource(this.#core, token, options.signal);
  }

  /**
   * Flushes the queue of `token`, then half-closes it (`closeWrite`): the
   * peer reads end of stream and may still send.
   *
   * @param token A connection's token.
   * @returns A promise that resolves once the write side is closed.
   * @throws {TypeError} If `token` is not a registered connection.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
   * using peer = await listener.accept();
   * loop.register(conn, 1, Interest.READABLE, () => {});
   * await loop.shutdownWrite(1);
   * assertEquals(await peer.read(new Uint8Array(1)), null);
   * ```
   */
  shutdownWrite(token: Token): Promise<void> {
    return shutdownWriteOf(this.#core, token);
  }

  /**
   * Deregisters and closes the source of `token`: it gets no more events and
   * its token is free at once. A connection's write queue is dropped, unless
   * `flush: true`: then it is written out and the connection lingers (see
   * {@linkcode EventLoopOptions.lingerMs}: why, and how long) before closing;
   * a write error, `signal` or disposing of the loop cuts that short.
   *
   * @param token The source's token.
   * @param options `flush: true` writes the queue out and lingers first;
   * `lingerMs` and `signal` bound that.
   * @returns A promise that resolves once the source is closed and its
   * pending operations have settled (after the flush and the linger).
   * @throws {TypeError} If `token` is not registered, or `signal` is not an
   * `AbortSignal`.
   * @throws {RangeError} If `lingerMs` is out of range.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * loop.register(await Deno.connect({ port: listener.addr.port }), 1, Interest.READABLE, () => {});
   * using peer = await listener.accept();
   * loop.write(1, new TextEncoder().encode("bye"));
   * const closed = loop.close(1, { flush: true });
   * assertEquals(loop.has(1), false);
   * // The peer reads everything, then end of stream, and closes: the linger ends.
   * const buf = new Uint8Array(8);
   * assertEquals(await peer.read(buf), 3);
   * assertEquals(await peer.read(buf), null);
   * peer.close();
   * await closed;
   * ```
   */
  close(token: Token, options: CloseOptions = NO_OPTIONS): Promise<void> {
    return closeSource(this.#core, token, options);
  }

  /**
   * Calls `callback` after `delayMs` ms (then every `intervalMs`, if set)
   * while the loop runs: O(log n) to schedule or cancel, one native timer for
   * all. A throw or a rejection goes to `onError` (with token `undefined`);
   * an interval keeps running. The loop does not wait for a returned promise.
   *
   * @param delayMs Milliseconds until the first call (a non-negative number).
   * @param callback What to call (may be `async`).
   * @param options `intervalMs` to repeat.
   * @returns A handle to cancel the timer (also `Disposable`).
   * @throws {TypeError} If `callback` is not a function or the loop is
   * disposed.
   * @throws {RangeError} If `delayMs` or `intervalMs` is out of range.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * let ticks = 0;
   * using _ticker = loop.addTimer(1, () => {
   *   if (++ticks === 3) loop.stop();
   * }, { intervalMs: 1 });
   * await loop.run();
   * assertEquals(ticks, 3);
   * ```
   */
  addTimer(
    delayMs: number,
    callback: (() => void) | (() => Promise<void>),
    options: TimerOptions = {},
  ): TimerHandle {
    return addCallbackTimer(this.#core, delayMs, callback, options);
  }

  /**
   * Attaches the runner `spawnCompute()` hands tasks to.
   *
   * @param runner An object with a `run(name, input, options)` method, such
   * as `compute/ComputePool`.
   * @throws {TypeError} If `runner` has no `run()` method.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * loop.attachCompute({ run: (name) => Promise.resolve(name.length) });
   * assertEquals(await loop.spawnCompute("four", null), 4);
   * ```
   */
  attachCompute(runner: ComputeRunner): void {
    this.#compute.attach(runner);
  }

  /**
   * Runs task `name` on the attached runner; the task is aborted when the
   * loop is disposed.
   *
   * @param name The task's name, as the runner knows it.
   * @param input The task's input.
   * @param options Signal, priority, time limit and transfer list, passed on.
   * @returns A promise of the task's result.
   * @throws {TypeError} (as a rejection) If no runner is attached or the loop
   * is disposed.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * loop.attachCompute({ run: (_name, input) => Promise.resolve(Number(input) * 2) });
   * assertEquals(await loop.spawnCompute("double", 21), 42);
   * ```
   */
  spawnCompute(
    name: string,
    input: unknown,
    options: ComputeRunOptions = {},
  ): Promise<unknown> {
    return this.#compute.spawn(name, input, options, this.#core.disposed);
  }

  /**
   * Dispatches events until `stop()` (or `signal` aborts).
   *
   * @param options An abort signal that stops the loop.
   * @returns A promise that resolves when the loop stops.
   * @throws {TypeError} (as a rejection) If the loop is already running or
   * disposed.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   *
   * await using loop = new EventLoop();
   * await loop.run({ signal: AbortSignal.timeout(10) });
   * ```
   */
  run(options: EventLoopRunOptions = {}): Promise<void> {
    return this.#run.start(options);
  }

  /**
   * Stops dispatching and resolves `run()`; idempotent. Sources stay open.
   * It has no effect on a loop that is not running: to stop from a signal
   * handler that may fire before `run()` starts, pass `run({ signal })`.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * const running = loop.run();
   * loop.stop();
   * await running;
   * assertEquals(loop.running, false);
   * ```
   */
  stop(): void {
    this.#run.stop();
  }

  /**
   * A snapshot of the loop's counters.
   *
   * @returns The counters now.
   *
   * @example Usage
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * assertEquals(loop.metrics().registeredSources, 0);
   * ```
   */
  metrics(): EventLoopMetrics {
    return metricsOf(this.#core, this.#compute.pending);
  }

  /**
   * Stops the loop, closes every registered source, cancels the timers and
   * compute tasks.
   *
   * @returns A promise that resolves once the pending operations settled.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest, Timer } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const loop = new EventLoop();
   * loop.register(new Timer(1000), 1, Interest.READABLE, () => {});
   * await loop[Symbol.asyncDispose]();
   * assertEquals(loop.has(1), false);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    const settled = disposeLoop(this.#core); // closes everything at once
    this.#compute.dispose();
    return settled;
  }
}
