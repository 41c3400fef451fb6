// The options, results and stats of `TcpServer` (its listening address and
// connection limits are in tcp_server_config_options.ts).
import type { DisconnectReason } from "./network_handler.ts";
import type { Codec } from "../codec/codec.ts";

/**
 * Options of {@linkcode TcpServer.shutdown}.
 *
 * @example Usage
 * ```ts
 * import { TcpServer, TcpServerConfig, type TcpServerShutdownOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), { onData() {} });
 * const options: TcpServerShutdownOptions = { force: false, timeoutMs: 1_000 };
 * await server.shutdown(options); // never started: nothing to wait for
 * assertEquals(server.stats().state, "closed");
 * ```
 */
export interface TcpServerShutdownOptions {
  /** Close every connection now instead of waiting. @default {false} */
  force?: boolean;
  /**
   * How long connections may take to close after the server stopped
   * accepting; the rest are then force-closed with reason `"shutdown"`.
   * From 0 to 2 ** 31 - 1 ms.
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * Half-close each connection once its queue is flushed, so peers read end
   * of stream at once. `false` leaves connections fully open until they end
   * by themselves or the deadline passes: a load balancer's drain, where
   * sessions already routed to a server go on while new ones go elsewhere.
   * @default {true}
   */
  closeWrites?: boolean;
}

/**
 * What {@linkcode TcpServer.shutdown} resolves with.
 *
 * @example Usage
 * ```ts
 * import { TcpServer, TcpServerConfig, type TcpServerShutdownResult } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), { onData() {} });
 * const serving = server.run();
 * const result: TcpServerShutdownResult = await server.shutdown({ timeoutMs: 1_000 });
 * await serving;
 * assertEquals(result, { closedGracefully: 0, forced: 0 });
 * ```
 */
export interface TcpServerShutdownResult {
  /** Connections that closed on their own before the deadline. */
  closedGracefully: number;
  /** Connections force-closed (forced shutdown or deadline passed). */
  forced: number;
}

/**
 * Options of {@linkcode TcpServer.run}.
 *
 * @example Usage
 * ```ts
 * import { TcpServer, TcpServerConfig, type TcpServerRunOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), { onData() {} });
 * const controller = new AbortController();
 * const options: TcpServerRunOptions = { signal: controller.signal };
 * const serving = server.run(options);
 * controller.abort(); // graceful shutdown
 * await serving;
 * assertEquals(server.stats().state, "closed");
 * ```
 */
export interface TcpServerRunOptions {
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
}

/**
 * A snapshot of a server's counters, from {@linkcode TcpServer.stats}.
 *
 * @example Usage
 * ```ts
 * import { TcpServer, TcpServerConfig, type TcpServerStats } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), { onData() {} });
 * const stats: TcpServerStats = server.stats();
 * assertEquals(stats.state, "idle");
 * assertEquals(stats.disconnects["slow consumer"], 0);
 * ```
 */
export interface TcpServerStats {
  /** `"idle"`, `"listening"`, `"paused"` (at `maxConnections`), `"shutting down"` or `"closed"`. */
  state: "idle" | "listening" | "paused" | "shutting down" | "closed";
  /** Open connections. */
  connections: number;
  /** Most connections open at once. */
  peakConnections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections closed since start. */
  closed: number;
  /** Closed connections by reason. */
  disconnects: Record<DisconnectReason, number>;
  /** Bytes received (passed to `onData`). */
  bytesReceived: number;
  /** Bytes queued by `sendTo` and `broadcast` (one count per connection). */
  bytesQueued: number;
  /** Bytes queued and not yet written, over all connections. */
  bytesPending: number;
  /** `onData` calls. */
  dataEvents: number;
  /** Callbacks that threw. */
  handlerErrors: number;
  /** Accept errors (the server backed off and kept going). */
  acceptErrors: number;
  /** Accept errors that were EMFILE/ENFILE (out of file descriptors). */
  descriptorErrors: number;
  /** Times accepting paused at `maxConnections`. */
  acceptPauses: number;
  /** Milliseconds since the server started listening. */
  uptimeMs: number;
}

/**
 * Options of {@linkcode TcpServer} beyond its {@linkcode TcpServerConfig}.
 *
 * @example A line server
 * ```ts
 * import { LineCodec, TcpServer, TcpServerConfig, type TcpServerOptions } from "@millrace/io/net";
 *
 * const options: TcpServerOptions<string, string | Uint8Array> = { codec: new LineCodec({ decodeUtf8: true }) };
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
 *   onFrame: (ctx, id, line) => void ctx.sendFrame(id, line.toUpperCase()),
 * }, options);
 * ```
 */
export interface TcpServerOptions<F = Uint8Array, E = F> {
  /**
   * Frame the byte stream: the handler's `onFrame` gets one decoded frame
   * per call (instead of `onData` with raw chunks) and `ctx.sendFrame` /
   * `ctx.broadcastFrame` encode. A frame over the codec's limit closes the
   * connection (reason `"frame too large"`, the error to `onError`).
   */
  codec?: Codec<F, E>;
}
