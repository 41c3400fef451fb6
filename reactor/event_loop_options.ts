// The option and result types of `EventLoop` (re-exported by event_loop.ts).

import type { BufferPool } from "./buffer_pool.ts";
import type { Token } from "./token.ts";

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
   * The most events dispatched while the runtime gets no macrotask turn;
   * past it the loop waits for one, so that timers and other I/O get their
   * turn. (After half of it the loop asks for a turn without waiting; events
   * that arrive through the runtime's own turns are never held back.) From 1 to 2 ** 20.
   * Sockets' completions arrive in the runtime's own turns, so the bound only
   * matters for sources that complete in microtasks; asking for a turn more
   * often costs a busy server CPU (3–4 % at 1,024).
   *
   * @default {16384}
   */
  eventsCapacity?: number;
  /**
   * The receive buffer of a quiet connection, in bytes; what an idle
   * connection pins while its read is pending: 1 B to 1 GiB. A new
   * connection's first read is twice this (at most `maxReadBufferSize`), so
   * that a first message of this size does not fill it.
   *
   * @default {64}
   */
  minReadBufferSize?: number;
  /**
   * The largest receive buffer, in bytes; full reads double the buffer up to
   * it, small reads halve it again: from `minReadBufferSize` to 1 GiB.
   *
   * @default {65536}
   */
  maxReadBufferSize?: number;
  /**
   * `write()` returns `false` once this many bytes are queued on a source:
   * 2 B to 1 GiB.
   *
   * @default {65536}
   */
  writeHighWaterMark?: number;
  /**
   * A source with WRITABLE interest gets a writable event when its queue
   * drains below this many bytes: at least 1 and less than
   * `writeHighWaterMark`.
   *
   * @default {a quarter of `writeHighWaterMark`, at most 16384}
   */
  writeLowWaterMark?: number;
  /**
   * Queued chunks are copied into one write of at most this many bytes:
   * 1 B to 1 GiB.
   *
   * @default {65536}
   */
  maxCoalesceSize?: number;
  /**
   * After an accept error that is not transient (EMFILE, ENFILE, ...), the
   * listener waits this long before accepting again: whole ms from 0 to
   * 2 ** 31 - 1.
   *
   * @default {100}
   */
  acceptErrorDelayMs?: number;
  /**
   * How long `close(token, { flush: true })` lingers on a connection after
   * writing its queue out: it half-closes the write side (FIN), then reads
   * and discards what the peer still sends until end of stream, an error,
   * or this many milliseconds, and only then closes. Closing a socket with
   * unread input makes the kernel send a reset, which can destroy the bytes
   * just flushed before the peer read them (nginx's `lingering_close`,
   * Apache's lingering close). Whole ms from 0 to 2 ** 31 - 1; `0` closes
   * at once after the flush.
   *
   * @default {2000}
   */
  lingerMs?: number;
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
   * The smallest receive buffer of this connection, in bytes: 1 B to 1 GiB.
   *
   * @default {EventLoopOptions.minReadBufferSize}
   */
  minReadBufferSize?: number;
  /**
   * The largest receive buffer of this connection, in bytes: 1 B to 1 GiB
   * (raised to `minReadBufferSize` if below it).
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
 * // Write "bye" out, then wait at most 100 ms for the peer's end of stream.
 * const options: CloseOptions = { flush: true, lingerMs: 100 };
 * await loop.close(1, options);
 * assertEquals(loop.has(1), false);
 * ```
 */
export interface CloseOptions {
  /**
   * Write out the queued bytes before closing, then linger (see
   * `lingerMs`) so that the peer receives them. Without it the connection
   * closes at once and its queue is dropped.
   *
   * @default {false}
   */
  flush?: boolean;
  /**
   * With `flush`: after the queue is written, how long to keep reading and
   * discarding the peer's input, with the write side half-closed, before
   * closing (ends early at the peer's end of stream): whole ms from 0 to
   * 2 ** 31 - 1; `0` closes right after the flush.
   *
   * @default {EventLoopOptions.lingerMs}
   */
  lingerMs?: number;
  /**
   * With `flush`: cuts the flush and the linger short; the connection then
   * closes at once (the promise still resolves).
   */
  signal?: AbortSignal;
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
  /**
   * Connections closing gracefully now (`close(token, { flush: true })`):
   * deregistered, still writing their queue or lingering.
   */
  closingSources: number;
  /** Timers scheduled now (callback timers and Timer sources). */
  pendingTimers: number;
  /** Compute tasks spawned and not settled. */
  pendingCompute: number;
  /** Handler and timer-callback errors reported through `onError`. */
  handlerErrors: number;
  /** Errors thrown by `accept()` on listener sources. */
  acceptErrors: number;
}
