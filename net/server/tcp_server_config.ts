// Configuration of `TcpServer`: a validated, immutable record. Its options are
// in tcp_server_config_options.ts, its builder (mill-net's
// `ServerConfig::builder()`) in tcp_server_config_builder.ts.
import {
  invalidOption,
  MAX_BACKLOG,
  MAX_CONNECTIONS,
  validateByteSize,
  validateEnum,
  validateHostname,
  validateInteger,
  validateMilliseconds,
  validatePort,
  validateString,
  validateTypeOf,
} from "../../_internal/validate.ts";
import { formatValue } from "../../_internal/format.ts";
import { resolveConnectionOptions } from "./_connection_options.ts";
import type {
  TcpServerConfigOptions,
  TcpServerTlsOptions,
  TcpServerTransport,
} from "./tcp_server_config_options.ts";
import { TcpServerConfigBuilder } from "./tcp_server_config_builder.ts";
import type { ProxyProtocolMode } from "../proxy/proxy_header.ts";
import { validateProxyOptions } from "../proxy/_server_proxy.ts";

const ACTION = "create server config";
const TRANSPORTS = ["tcp", "unix", "tls"] as const;

function fail(field: string, rule: string, value: unknown): never {
  throw invalidOption(TypeError, ACTION, field, rule, value);
}

function validateTls(
  tls: TcpServerTlsOptions | undefined,
): Readonly<Required<TcpServerTlsOptions>> {
  if (tls === null || typeof tls !== "object") {
    fail("tls", "an object with 'cert' and 'key' for transport 'tls'", tls);
  }
  if (typeof tls.cert !== "string") fail("tls.cert", "a PEM string", tls.cert);
  if (!tls.cert.includes("-----BEGIN")) {
    throw invalidOption(
      RangeError,
      ACTION,
      "tls.cert",
      "a PEM string",
      tls.cert,
    );
  }
  if (typeof tls.key !== "string" || !tls.key.includes("-----BEGIN")) {
    if (typeof tls.key === "string") {
      // Never echo key material into an error message or a log.
      throw new RangeError(
        `Cannot ${ACTION} as 'tls.key' must be a PEM string: received a string that is not PEM`,
      );
    }
    fail("tls.key", "a PEM string", tls.key);
  }
  const alpn = tls.alpnProtocols ?? [];
  if (
    !Array.isArray(alpn) ||
    !alpn.every((p) => typeof p === "string" && p !== "")
  ) {
    fail("tls.alpnProtocols", "an array of non-empty strings", alpn);
  }
  return Object.freeze({
    cert: tls.cert,
    key: tls.key,
    alpnProtocols: Object.freeze([...alpn]) as string[],
  });
}

/**
 * The validated, immutable configuration of a {@linkcode TcpServer}. Build one
 * with {@linkcode TcpServerConfig.builder} (mill-net's style) or pass options
 * to the constructor; both validate every field and throw a `TypeError` or
 * `RangeError` naming the field and the value.
 *
 * Every option is applied: `noDelay`/`keepAlive` through
 * `conn.setNoDelay()`/`conn.setKeepAlive()` on each accepted TCP connection
 * (Deno's TLS and Unix connections expose neither), `tcpBacklog` as the
 * listener's, the rest by the server itself. Option names follow Deno's
 * where Deno has one (`hostname`, `port`, `transport`, `path`,
 * `tcpBacklog`, `noDelay`, `keepAlive`, `alpnProtocols`).
 *
 * @example Using the builder
 * ```ts
 * import { TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const config = TcpServerConfig.builder()
 *   .address("127.0.0.1:0")
 *   .maxReadBufferSize(16384)
 *   .maxConnections(100)
 *   .idleTimeoutMs(30_000)
 *   .build();
 * assertEquals(config.maxConnections, 100);
 * assertEquals(config.port, 0);
 * ```
 *
 * @example Bad values are rejected
 * ```ts
 * import { TcpServerConfig } from "@millrace/io/net";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(
 *   () => TcpServerConfig.builder().maxConnections(0).build(),
 *   RangeError,
 *   "'maxConnections' must be an integer from 1 to 2 ** 24 or Infinity: received 0",
 * );
 * ```
 */
export class TcpServerConfig {
  /** The transport. */
  readonly transport: TcpServerTransport;
  /** Hostname to bind (TCP and TLS). */
  readonly hostname: string;
  /** Port to bind (TCP and TLS); `0` for an ephemeral port. */
  readonly port: number;
  /** Socket path (Unix). */
  readonly path: string | undefined;
  /** TLS certificate, key and ALPN protocols (TLS). */
  readonly tls: Readonly<Required<TcpServerTlsOptions>> | undefined;
  /** Maximum size of one receive buffer. */
  readonly maxReadBufferSize: number;
  /** Maximum number of open connections. */
  readonly maxConnections: number;
  /** `TCP_NODELAY` on accepted connections. */
  declare readonly noDelay: boolean;
  /** `SO_KEEPALIVE` on accepted connections. */
  declare readonly keepAlive: boolean;
  /** Idle timeout in ms; `0` when disabled. */
  declare readonly idleTimeoutMs: number;
  /** Queue size above which `sendTo` returns `false`. */
  declare readonly writeHighWaterMark: number;
  /** Queue size below which `onWritable` fires. */
  declare readonly writeLowWaterMark: number;
  /** Queue size above which a peer is disconnected as a slow consumer. */
  declare readonly maxWriteBuffer: number;
  /** Kernel accept queue length. */
  readonly tcpBacklog: number;
  /** Pause after an accept error, in ms. */
  readonly acceptErrorDelayMs: number;
  /** The PROXY protocol mode, or `undefined` when off. */
  declare readonly proxyProtocol: ProxyProtocolMode | undefined;
  /** Time for a PROXY header to arrive, in ms. */
  declare readonly proxyHeaderTimeoutMs: number;
  /** Peers trusted to send a PROXY header (`undefined`: any). */
  declare readonly trustedProxies: readonly string[] | undefined;
  /** The health port, or `undefined` when off. */
  declare readonly healthPort: number | undefined;

  /**
   * Validates and freezes a configuration.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = new TcpServerConfig({ port: 0, tcpBacklog: 128 });
   * assertEquals(config.tcpBacklog, 128);
   * ```
   *
   * @param options The fields to set; the rest take their defaults.
   * @throws {TypeError} If an option has the wrong type (`hostname: 5`), or
   * `tls` is given with a Unix socket.
   * @throws {RangeError} If an option is out of its documented range.
   */
  constructor(options: TcpServerConfigOptions = {}) {
    validateTypeOf(ACTION, "options", options, "object");
    const transport = validateEnum(
      ACTION,
      "transport",
      options.transport ??
        (options.path !== undefined
          ? "unix"
          : options.tls !== undefined
          ? "tls"
          : "tcp"),
      TRANSPORTS,
    );
    this.transport = transport;
    this.hostname = validateHostname(
      ACTION,
      "hostname",
      options.hostname ?? "127.0.0.1",
    );
    this.port = validatePort(ACTION, "port", options.port ?? 0);
    if (transport === "unix") {
      validateString(ACTION, "path", options.path);
      // Deno listens with TLS on TCP only: a TLS option here would be
      // dropped without a word.
      if (options.tls !== undefined) {
        throw new TypeError(
          `Cannot ${ACTION} as 'tls' needs a TCP address: received Unix socket path ${
            formatValue(options.path)
          }`,
        );
      }
    }
    this.path = options.path;
    this.tls = transport === "tls" ? validateTls(options.tls) : undefined;
    this.maxReadBufferSize = validateByteSize(
      ACTION,
      "maxReadBufferSize",
      options.maxReadBufferSize ?? 65536,
    );
    this.maxConnections = validateInteger(
      ACTION,
      "maxConnections",
      options.maxConnections ?? Infinity,
      { min: 1, max: MAX_CONNECTIONS, allowInfinity: true },
    );
    // The per-connection options, as TcpClient checks them too.
    Object.assign(this, resolveConnectionOptions(ACTION, options));
    this.tcpBacklog = validateInteger(
      ACTION,
      "tcpBacklog",
      options.tcpBacklog ?? 511,
      {
        min: 1,
        max: MAX_BACKLOG,
      },
    );
    this.acceptErrorDelayMs = validateMilliseconds(
      ACTION,
      "acceptErrorDelayMs",
      options.acceptErrorDelayMs ?? 100,
    );
    Object.assign(this, validateProxyOptions(options, transport));
    // The health port binds the same hostname: one port for both would fail
    // only when the server starts. A Unix socket leaves 'port' unused.
    if (
      transport !== "unix" && this.port !== 0 && this.healthPort === this.port
    ) {
      throw invalidOption(
        RangeError,
        ACTION,
        "healthPort",
        "different from 'port'",
        this.healthPort,
      );
    }
    Object.freeze(this);
  }

  /**
   * Starts a builder with every field at its default.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().port(8080).build().port, 8080);
   * ```
   *
   * @returns A new builder.
   */
  static builder(): TcpServerConfigBuilder {
    return new TcpServerConfigBuilder();
  }
}
