import type { Token } from "./token.ts";
import type { EventLoop } from "./event_loop.ts";
import type { Timer } from "./timer.ts";
import type { Waker } from "./waker.ts";

/**
 * What the loop reports about one source in one dispatch (mio's `Event`).
 *
 * The loop reuses one `Event` object for every dispatch: its fields, and the
 * bytes of `data`, are valid only during the handler call. Copy what you need
 * to keep (writing `data` back through `loop.write()` during the call is the
 * exception: the loop hands the buffer over to the write queue).
 *
 * @example Reading the fields in a handler
 * ```ts
 * import type { Event, EventHandler } from "@millrace/io/reactor";
 *
 * const handler: EventHandler = (event: Event, loop) => {
 *   if (event.data) loop.write(event.token, event.data);
 *   if (event.readClosed || event.error) void loop.close(event.token);
 * };
 * console.log(typeof handler);
 * ```
 */
export interface Event {
  /** The token the source was registered with. */
  readonly token: Token;
  /**
   * `data` holds bytes read, or `conn` a connection accepted by a listener,
   * or a {@linkcode Timer} expired, or a {@linkcode Waker} was woken.
   */
  readonly readable: boolean;
  /** The write queue drained below its low-water mark. */
  readonly writable: boolean;
  /** The peer sent EOF; the source stays registered (half-close). */
  readonly readClosed: boolean;
  /** The Deno error (`ConnectionReset`, `BrokenPipe`, EMFILE, ...), if any. */
  readonly error: Error | undefined;
  /** The loop closed and deregistered the source after this event. */
  readonly closed: boolean;
  /** Bytes read; valid during the callback only. */
  readonly data: Uint8Array | undefined;
  /** A connection accepted by a listener source; the handler owns it. */
  readonly conn: Deno.Conn | undefined;
  /** A datagram socket's event: the sender of the datagram in `data`. */
  readonly remoteAddr: Deno.Addr | undefined;
}

/**
 * Called by the loop with each event of a source. A handler that throws is
 * reported through `EventLoopOptions.onError`; its source is closed and
 * deregistered and the loop keeps serving the others.
 *
 * A handler may be `async`: a returned promise (any thenable) that rejects
 * is handled exactly like a throw, when it rejects. The loop does not wait
 * for it: the source's next events are dispatched while the promise is
 * pending (as mio hands out events regardless of what the program does with
 * the last ones), so a handler that must not overlap itself keeps its own
 * queue. The `Event` is valid only until the first `await`.
 *
 * @example Usage
 * ```ts
 * import type { EventHandler } from "@millrace/io/reactor";
 *
 * const echo: EventHandler = (event, loop) => {
 *   if (event.data) loop.write(event.token, event.data);
 * };
 * console.log(typeof echo);
 * ```
 */
// Two function types rather than one returning `void | Promise<void>`: a
// `void` return accepts any function (say `() => count++`); a call returns
// `void | Promise<void>` all the same.
export type EventHandler =
  | ((event: Event, loop: EventLoop) => void)
  | ((event: Event, loop: EventLoop) => Promise<void>);

/**
 * What can be registered with an `EventLoop`: a TCP, Unix or TLS listener, a
 * connection, a {@linkcode Timer} or a {@linkcode Waker}.
 *
 * @example Usage
 * ```ts
 * import { type Source, Timer } from "@millrace/io/reactor";
 *
 * const source: Source = new Timer(10);
 * console.log(source instanceof Timer);
 * ```
 */
export type Source =
  | Deno.Listener<Deno.Conn, Deno.Addr>
  | Deno.Conn
  | Deno.DatagramConn
  | Timer
  | Waker;
