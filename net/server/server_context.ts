// The context handed to every `NetworkHandler` callback: the operations on the
// server's connections, in the manner of mill-net's `ServerContext`.

import type { ProxyInfo } from "../proxy/proxy_info.ts";

/**
 * Options of {@linkcode ServerContext.broadcast}.
 *
 * @example Usage
 * ```ts
 * import type { BroadcastOptions, NetworkHandler } from "@millrace/io/net";
 *
 * const relay: NetworkHandler = {
 *   onData(ctx, id, data) {
 *     const options: BroadcastOptions = { except: id }; // everyone but the sender
 *     ctx.broadcast(data, options);
 *   },
 * };
 * ```
 */
export interface BroadcastOptions {
  /** A connection id (or ids) to leave out, e.g. the sender. */
  except?: number | readonly number[];
}

/**
 * Options of {@linkcode ServerContext.closeConnection}.
 *
 * @example Usage
 * ```ts
 * import type { CloseConnectionOptions, NetworkHandler } from "@millrace/io/net";
 *
 * const quit: NetworkHandler = {
 *   onData(ctx, id, data) {
 *     if (new TextDecoder().decode(data).trim() !== "QUIT") return;
 *     ctx.sendTo(id, "bye\n");
 *     const options: CloseConnectionOptions = { flush: true }; // "bye" goes out first
 *     ctx.closeConnection(id, options);
 *   },
 * };
 * ```
 */
export interface CloseConnectionOptions {
  /** Write the queued bytes before closing. @default {true} */
  flush?: boolean;
}

/**
 * The operations on a server's connections, passed to every
 * {@linkcode NetworkHandler} callback (one preallocated object per server;
 * `TcpServer.context` is the same object, for use outside callbacks).
 *
 * @example Broadcasting to everyone but the sender
 * ```ts
 * import type { NetworkHandler } from "@millrace/io/net";
 *
 * const chat: NetworkHandler<{ nick: string }> = {
 *   onConnect(ctx, id) {
 *     ctx.setData(id, { nick: `guest${id}` });
 *   },
 *   onData(ctx, id, data) {
 *     const nick = ctx.getData(id)?.nick ?? "?";
 *     ctx.broadcast(`${nick}: ${new TextDecoder().decode(data)}`, { except: id });
 *   },
 * };
 * ```
 *
 * @typeParam T The per-connection user data.
 * @typeParam E What `sendFrame`/`broadcastFrame` encode (the codec's input).
 */
export interface ServerContext<T = unknown, E = Uint8Array> {
  /**
   * Queues bytes (a string is UTF-8 encoded) for connection `id`. The bytes
   * are copied, written in order and never interleaved with another write to
   * the same connection. Never fails for lack of buffer space: returns `false`
   * once the queue is above the high-water mark (wait for `onWritable`), and
   * disconnects the peer with reason `"slow consumer"` above `maxWriteBuffer`.
   * While the queue is above the high-water mark the server also stops
   * reading from that peer, so one that sends faster than it reads is paced
   * by TCP flow control rather than cut off.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals(ctx.sendTo(id, "hello"), true);
   * const buf = new Uint8Array(5);
   * await conn.read(buf);
   * assertEquals(new TextDecoder().decode(buf), "hello");
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @param bytes What to send.
   * @returns `false` once the queue is above the high-water mark.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   * @throws {NetError} With kind `"closed"` if the connection's write side is
   * already shut (during a graceful shutdown).
   */
  sendTo(id: number, bytes: Uint8Array | string): boolean;
  /**
   * Queues the same bytes for every open connection (but `except`). The bytes
   * are copied once and that one buffer is shared by all the writes.
   * Per-connection failures go to `onError`, never to the caller.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals(ctx.broadcast("news\n"), 1);
   * assertEquals(ctx.broadcast("news\n", { except: id }), 0);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param bytes What to send.
   * @param options Connections to skip.
   * @returns The number of connections the bytes were queued for.
   */
  broadcast(bytes: Uint8Array | string, options?: BroadcastOptions): number;
  /**
   * Encodes `frame` with the server's (or client's) `codec` and queues it for
   * connection `id`, like `sendTo` (without another copy).
   *
   * @example Answer each line
   * ```ts
   * import { LineCodec, TcpServer } from "@millrace/io/net";
   *
   * const server = new TcpServer({ port: 0 }, {
   *   onFrame: (ctx, id, line: string) => void ctx.sendFrame(id, `you said: ${line}`),
   * }, { codec: new LineCodec({ decodeUtf8: true }) });
   * ```
   *
   * @param id The connection.
   * @param frame The frame to encode and send.
   * @returns `false` above the high-water mark (wait for `onWritable`).
   * @throws {TypeError} If there is no `codec`.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   * @throws {NetError} With kind `"closed"` if the write side is shut.
   * @throws What the codec's `encode` throws for a frame it cannot encode.
   */
  sendFrame(id: number, frame: E): boolean;
  /**
   * Encodes `frame` once with the `codec` and queues it for every open
   * connection (but `except`), like `broadcast`.
   *
   * @example Relay each line to everyone else
   * ```ts
   * import { LineCodec, TcpServer } from "@millrace/io/net";
   *
   * const server = new TcpServer({ port: 0 }, {
   *   onFrame: (ctx, id, line: string) => void ctx.broadcastFrame(`${id}: ${line}`, { except: id }),
   * }, { codec: new LineCodec({ decodeUtf8: true }) });
   * ```
   *
   * @param frame The frame to encode and send.
   * @param options Connections to leave out.
   * @returns The number of connections the frame was queued for.
   * @throws {TypeError} If there is no `codec`.
   */
  broadcastFrame(frame: E, options?: BroadcastOptions): number;
  /**
   * Closes connection `id` (reason `"closed"`), after writing its queue unless
   * `flush` is `false`. With flush the close lingers, as
   * `EventLoop.close(token, { flush: true })`: after the queue the write
   * side is half-closed and the peer's input discarded until its end of
   * stream, so that unread input cannot turn the close into a reset that
   * destroys the bytes just written. Flush and linger are bounded (5 s, or a
   * forced shutdown): a peer that stops reading cannot keep it open. The
   * handler sees no more events for `id` at once.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals(ctx.closeConnection(id), true);
   * assertEquals(await conn.read(new Uint8Array(1)), null); // the peer sees end of stream
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @param options Whether to flush first.
   * @returns `false` if no open connection has this id.
   */
  closeConnection(id: number, options?: CloseConnectionOptions): boolean;
  /**
   * The peer address of connection `id`; behind a PROXY protocol header with
   * addresses, the original client's (the header's source).
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals((ctx.remoteAddr(id) as Deno.NetAddr).port, (conn.localAddr as Deno.NetAddr).port);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @returns The peer's address.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   */
  remoteAddr(id: number): Deno.Addr;
  /**
   * The local address of connection `id`: the address the peer connected
   * to. Behind a PROXY protocol header with addresses, the header's
   * destination (see `proxyInfo`).
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const { port } = server.addr as Deno.NetAddr;
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
   * const id = await opened.promise;
   * assertEquals((server.context.localAddr(id) as Deno.NetAddr).port, port);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @returns The address the peer connected to.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   */
  localAddr(id: number): Deno.Addr;
  /**
   * How connection `id` arrived through a proxy (server option
   * `proxyProtocol`): the PROXY header and whether `remoteAddr`/`localAddr`
   * come from it; `undefined` when the server does not use the PROXY
   * protocol.
   *
   * @example Behind HAProxy's send-proxy-v2
   * ```ts
   * import { encodeProxyHeader, TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0, proxyProtocol: "v2" }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const client = { transport: "tcp" as const, hostname: "192.0.2.7", port: 51234 };
   * await conn.write(encodeProxyHeader({
   *   version: 2,
   *   source: client,
   *   destination: { transport: "tcp", hostname: "198.51.100.1", port: 443 },
   * }));
   * const id = await opened.promise;
   * assertEquals(server.context.proxyInfo(id)?.addressesFromHeader, true);
   * assertEquals(server.context.remoteAddr(id), client);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @returns The header and where the addresses come from, or `undefined`.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   */
  proxyInfo(id: number): ProxyInfo | undefined;
  /**
   * The ids of the open connections, oldest first.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals(ctx.connectionIds(), [id]);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @returns The ids, oldest first.
   */
  connectionIds(): number[];
  /**
   * Whether connection `id` is open.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * assertEquals([ctx.has(id), ctx.has(id + 1)], [true, false]);
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @returns Whether it is open.
   */
  has(id: number): boolean;
  /** The number of open connections. */
  readonly connectionCount: number;
  /**
   * The user data stored for connection `id` (`undefined` when none or closed).
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * ctx.setData(id, { nick: "ada" });
   * assertEquals(ctx.getData(id), { nick: "ada" });
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @returns The data, or `undefined`.
   */
  getData(id: number): T | undefined;
  /**
   * Stores user data for connection `id`; it is dropped when the connection closes.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const opened = Promise.withResolvers<number>();
   * const server = new TcpServer({ port: 0 }, {
   *   onConnect: (_ctx, id) => opened.resolve(id),
   *   onData() {},
   * });
   * const serving = server.run();
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
   * const id = await opened.promise;
   * const ctx = server.context;
   * ctx.setData(id, "ada");
   * assertEquals(ctx.getData(id), "ada");
   * conn.close();
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @param id The connection.
   * @param value The data to keep with it.
   * @throws {ConnectionNotFoundError} If no open connection has this id.
   */
  setData(id: number, value: T): void;
}
