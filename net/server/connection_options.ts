// The per-connection options TcpServerConfig and TcpClient share: one
// definition, one set of ranges (checked by `_connection_options.ts`).

/**
 * Options of every connection of a {@linkcode TcpServer} or a
 * {@linkcode TcpClient}; both option objects extend this one.
 *
 * @example Usage
 * ```ts
 * import { type ConnectionOptions, TcpClient, TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const perConnection: ConnectionOptions = { idleTimeoutMs: 30_000, writeHighWaterMark: 32_768 };
 * const config = new TcpServerConfig({ port: 0, ...perConnection });
 * await using client = new TcpClient({ onData() {} }, perConnection);
 * assertEquals(config.writeLowWaterMark, 8192); // a quarter of the high mark
 * ```
 */
export interface ConnectionOptions {
  /** `TCP_NODELAY` on every TCP connection. @default {true} */
  noDelay?: boolean;
  /**
   * `SO_KEEPALIVE` on every TCP connection. Deno exposes no keep-alive
   * interval: the operating system's default applies.
   * @default {false}
   */
  keepAlive?: boolean;
  /**
   * Close a connection with no traffic for this many ms: a whole number
   * from 0 to 2 ** 31 - 1 (about 24.8 days); `0` disables.
   * @default {0}
   */
  idleTimeoutMs?: number;
  /**
   * `sendTo`/`send` return `false` once this many bytes are queued: 2 B to
   * 1 GiB. The water marks configure the loop the server's `run()` or the
   * client creates; a loop passed in keeps its own.
   * @default {65536}
   */
  writeHighWaterMark?: number;
  /**
   * `onWritable` fires once the queue drains below this many bytes: at
   * least 1 and less than `writeHighWaterMark` (see `writeHighWaterMark` for
   * which loop applies it).
   * @default {a quarter of `writeHighWaterMark`, at most 16384}
   */
  writeLowWaterMark?: number;
  /**
   * Per-connection cap on queued outbound bytes: from `writeHighWaterMark`
   * to 1 GiB, or `Infinity`. A peer that lets more pile up is disconnected
   * with reason `"slow consumer"`; being at least the high-water mark, the
   * cut never comes before `sendTo` has returned `false`.
   * @default {1048576, or 16 × `writeHighWaterMark` when that is more}
   */
  maxWriteBuffer?: number;
}
