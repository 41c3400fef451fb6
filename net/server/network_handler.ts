// The callbacks a `TcpServer` or `TcpClient` calls, in the manner of mill-net's
// `NetworkHandler` trait.

import type { ServerContext } from "./server_context.ts";

/**
 * Why a connection ended, as passed to {@linkcode NetworkHandler.onDisconnect}:
 *
 * - `"peer closed"`: the peer sent end of stream (what is queued for it is
 *   still written, within a bounded time, before the connection closes);
 * - `"reset"`: the peer reset the connection (or the pipe broke);
 * - `"idle timeout"`: no traffic for the configured idle timeout;
 * - `"slow consumer"`: more than `maxWriteBuffer` bytes queued for a peer that
 *   does not read;
 * - `"shutdown"`: the server or client shut down;
 * - `"handler error"`: a callback of the handler threw for this connection;
 * - `"frame too large"`: with a `codec`, the peer sent a frame over the
 *   codec's `maxFrameSize` (or one the codec cannot decode); `onError` gets
 *   the `FrameTooLargeError`;
 * - `"closed"`: closed locally through `closeConnection()` or `close()`;
 * - `"error"`: any other I/O error (passed to `onError` too).
 * - `"bad proxy header"`: a server with `proxyProtocol` got a bad, late or
 *   untrusted PROXY header (the detail goes to `onError`). Such a connection
 *   was never passed to `onConnect`, so `onDisconnect` is not called for it
 *   either: this reason shows up in `TcpServer.stats().disconnects`.
 * - `"worker crashed"`: the Worker serving it (`TcpServer` with `workers`)
 *   died; reported by its replacement before it serves.
 *
 * @example Usage
 * ```ts
 * import type { DisconnectReason } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * // e.g. called from NetworkHandler.onDisconnect(ctx, id, reason)
 * const peerAtFault = (reason: DisconnectReason): boolean =>
 *   reason === "reset" || reason === "slow consumer" || reason === "idle timeout";
 * assertEquals(peerAtFault("idle timeout"), true);
 * assertEquals(peerAtFault("peer closed"), false);
 * ```
 */
export type DisconnectReason =
  | "peer closed"
  | "reset"
  | "idle timeout"
  | "slow consumer"
  | "shutdown"
  | "handler error"
  | "frame too large"
  | "closed"
  | "error"
  | "bad proxy header"
  | "worker crashed";

/**
 * What a {@linkcode NetworkHandler} callback returns: nothing, or a promise
 * when the callback is `async`. The server or client does not wait for the
 * promise; one that rejects is handled like a throw (see
 * {@linkcode NetworkHandler}).
 *
 * @example Usage
 * ```ts
 * import type { HandlerResult, NetworkHandler, ServerContext } from "@millrace/io/net";
 *
 * async function greet(ctx: ServerContext, id: number): Promise<void> {
 *   await Promise.resolve(); // e.g. look the peer up first
 *   ctx.sendTo(id, new TextEncoder().encode("hello\n"));
 * }
 * const handler: NetworkHandler = {
 *   onConnect: (ctx, id): HandlerResult => greet(ctx, id),
 *   onData() {},
 * };
 * console.log(typeof handler.onConnect);
 * ```
 */
export type HandlerResult = void | Promise<void>;

/**
 * What a {@linkcode TcpServer} (or {@linkcode TcpClient}) calls on events.
 * Only `onData` is required, or `onFrame` instead when the server or client
 * has a `codec`. Every callback gets the one shared
 * {@linkcode ServerContext}; `T` is the type of the per-connection user data,
 * `F` the type of decoded frames and `E` what `ctx.sendFrame` encodes (both
 * from the codec).
 *
 * A callback that throws costs only the connection it was called for: it is
 * closed with reason `"handler error"`, the error goes to `onError`, and
 * everyone else keeps being served.
 *
 * Callbacks may be `async`: a returned promise that rejects is handled
 * exactly like a throw, when it rejects. The server does not wait for it:
 * while it is pending, the connection's next callbacks (more `onData`,
 * `onWritable`, `onDisconnect`) are made as events arrive, so a callback that
 * must not overlap itself keeps its own queue (and copies `data` before its
 * first `await`).
 *
 * @example An echo handler
 * ```ts
 * import type { NetworkHandler } from "@millrace/io/net";
 *
 * const echo: NetworkHandler = {
 *   onData(ctx, id, data) {
 *     ctx.sendTo(id, data); // sendTo copies, so passing `data` on is safe
 *   },
 * };
 * ```
 */
export interface NetworkHandler<T = unknown, F = Uint8Array, E = F> {
  /**
   * Bytes arrived on connection `id` (required without a `codec`, unused
   * with one). `data` is a view of a pooled buffer and is valid only during
   * this call: copy it (or pass it to `sendTo`, which copies) to keep it.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param id The connection.
   * @param data The bytes, valid during this call only.
   */
  onData?(
    ctx: ServerContext<T, E>,
    id: number,
    data: Uint8Array,
  ): HandlerResult;
  /**
   * With a `codec`: one whole frame arrived on connection `id` (required
   * then). A `Uint8Array` frame may be a view of the receive buffer, valid
   * only during this call: copy it to keep it.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param id The connection.
   * @param frame The decoded frame.
   */
  onFrame?(ctx: ServerContext<T, E>, id: number, frame: F): HandlerResult;
  /**
   * Connection `id` opened (accepted by a server, or connected by a client).
   *
   * @param ctx The server context (all connections of the server or client).
   * @param id The new connection.
   */
  onConnect?(ctx: ServerContext<T, E>, id: number): HandlerResult;
  /**
   * The write queue of `id` drained below the low-water mark after `sendTo` returned `false`.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param id The connection whose queue drained.
   */
  onWritable?(ctx: ServerContext<T, E>, id: number): HandlerResult;
  /**
   * Connection `id` closed; it is no longer in `connectionIds()` (so a
   * broadcast from here skips it), but `getData(id)` still returns its user
   * data during this call.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param id The connection that closed.
   * @param reason Why it closed.
   */
  onDisconnect?(
    ctx: ServerContext<T, E>,
    id: number,
    reason: DisconnectReason,
  ): HandlerResult;
  /**
   * Something failed: an I/O error, an accept error (`id` undefined; the
   * server backs off and keeps going), a per-connection broadcast failure, or
   * a callback that threw.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param error What failed.
   * @param id The connection concerned, or `undefined` (accept errors).
   */
  onError?(
    ctx: ServerContext<T, E>,
    error: Error,
    id: number | undefined,
  ): HandlerResult;
  /**
   * The server is bound and accepting at `addr`.
   *
   * @param ctx The server context (all connections of the server or client).
   * @param addr The bound address.
   */
  onListening?(ctx: ServerContext<T, E>, addr: Deno.Addr): HandlerResult;
  /**
   * A graceful shutdown started: the server no longer accepts; open
   * connections get their queued bytes flushed, then end of stream, and have
   * until the shutdown's `timeoutMs` to close. Send goodbyes here.
   *
   * @param ctx The server context (all connections of the server or client).
   */
  onShutdown?(ctx: ServerContext<T, E>): HandlerResult;
}
