// Configuration of `TcpServer`: a validated, immutable record plus a builder in
// the manner of mill-net's `ServerConfig::builder()`.
import {
  invalidOption,
  MAX_BACKLOG,
  MAX_CONNECTIONS,
  validateByteSize,
  validateEnum,
  validateHostname,
  validateInteger,
  validateMilliseconds,
  validateObject,
  validatePort,
  validateString,
} from "../../_internal/validate.ts";
import { parseAddress } from "../_address.ts";
import { resolveConnectionOptions } from "./_connection_options.ts";
import type { ConnectionOptions } from "./connection_options.ts";
import type { ProxyProtocolMode } from "../proxy/proxy_header.ts";
import { validateProxyOptions } from "../proxy/_server_proxy.ts";

/**
 * The transports a {@linkcode TcpServer} can listen on.
 *
 * @example Usage
 * ```ts
 * import { TcpServerConfig, type TcpServerTransport } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const transport: TcpServerTransport = "unix";
 * const config = new TcpServerConfig({ transport, path: "/tmp/millrace.sock" });
 * assertEquals(config.transport, "unix");
 * ```
 */
export type TcpServerTransport = "tcp" | "unix" | "tls";

/**
 * Where a server listens: a TCP/TLS host and port, or a Unix socket path.
 *
 * @example Usage
 * ```ts
 * import { type TcpServerAddress, TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const address: TcpServerAddress = "[::1]:8080";
 * const config = TcpServerConfig.builder().address(address).build();
 * assertEquals([config.hostname, config.port], ["::1", 8080]);
 * ```
 */
export type TcpServerAddress =
  | string
  | { hostname?: string; port: number }
  | { transport: "unix"; path: string };

/**
 * TLS material of a server listening with transport `"tls"`.
 *
 * @example Usage
 * ```ts
 * import { TcpServerConfig, type TcpServerTlsOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const tls: TcpServerTlsOptions = {
 *   cert: "-----BEGIN CERTIFICATE-----\n...", // e.g. Deno.readTextFileSync("cert.pem")
 *   key: "-----BEGIN PRIVATE KEY-----\n...",
 *   alpnProtocols: ["h2", "http/1.1"],
 * };
 * const config = new TcpServerConfig({ transport: "tls", port: 0, tls });
 * assertEquals(config.tls?.alpnProtocols, ["h2", "http/1.1"]);
 * ```
 */
export interface TcpServerTlsOptions {
  /** PEM-encoded certificate chain. */
  cert: string;
  /** PEM-encoded private key. */
  key: string;
  /** ALPN protocols to offer, most preferred first. @default {[]} */
  alpnProtocols?: string[];
}

/**
 * Options of {@linkcode TcpServerConfig}; every field is optional.
 *
 * @example Usage
 * ```ts
 * import { TcpServerConfig, type TcpServerConfigOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: TcpServerConfigOptions = { port: 0, maxConnections: 1_000, idleTimeoutMs: 30_000 };
 * const config = new TcpServerConfig(options);
 * assertEquals(config.maxConnections, 1_000);
 * assertEquals(config.noDelay, true); // the default
 * ```
 */
export interface TcpServerConfigOptions extends ConnectionOptions {
  /** The transport: `"tcp"`, `"unix"` or `"tls"`. @default {"tcp"} */
  transport?: TcpServerTransport;
  /**
   * Hostname or IP address to bind (TCP and TLS): a non-empty string without
   * spaces or slashes.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** Port to bind (TCP and TLS): 0 to 65535; `0` picks an ephemeral port. @default {0} */
  port?: number;
  /** Socket path (transport `"unix"`): a non-empty string. */
  path?: string;
  /** Certificate, key and ALPN protocols (transport `"tls"`). */
  tls?: TcpServerTlsOptions;
  /**
   * Maximum size in bytes of one receive buffer (reads grow up to it):
   * 1 B to 1 GiB.
   * @default {65536}
   */
  maxReadBufferSize?: number;
  /**
   * Maximum number of open connections: 1 to 2 ** 24, or `Infinity`. At the
   * limit the server stops accepting (the kernel backlog holds new peers)
   * and resumes below it.
   * @default {Infinity}
   */
  maxConnections?: number;
  /** Kernel accept queue length (TCP and TLS): 1 to 65535. @default {511} */
  tcpBacklog?: number;
  /**
   * After an accept error that is not a peer's reset/abort (EMFILE, ENFILE,
   * ...), wait this long before accepting again: whole ms from 0 to
   * 2 ** 31 - 1 (as `TcpListenerOptions.acceptErrorDelayMs`). Applies to the
   * loop `TcpServer.run()` creates; a loop passed to `start()` keeps its own.
   * @default {100}
   */
  acceptErrorDelayMs?: number;
  /**
   * Expect a PROXY protocol header (from HAProxy, an AWS NLB, nginx, …) at
   * the start of every connection: `"v1"`, `"v2"`, `"any"`, or `"optional"`
   * (a connection without one is served as a direct client; note that a
   * direct client that waits for the server to speak first is only served
   * after `proxyHeaderTimeoutMs`). The header is read and removed before
   * `onConnect`; `ctx.remoteAddr(id)`/`ctx.localAddr(id)` then report the
   * addresses it carries and `ctx.proxyInfo(id)` the header itself. A bad,
   * truncated or late header closes the connection with disconnect reason
   * `"bad proxy header"` (counted in `stats().disconnects`; `onError` gets
   * the {@linkcode ProxyHeaderError}; `onConnect`/`onDisconnect` are not
   * called for it). A peer that connects and closes without sending a byte
   * (a TCP health check) is closed quietly. Not with transport `"tls"`: the
   * header comes before the TLS handshake, so terminate TLS at the proxy.
   * Unset: no PROXY protocol.
   */
  proxyProtocol?: ProxyProtocolMode;
  /**
   * Time for the whole PROXY header to arrive, from accept.
   * @default {3000}
   */
  proxyHeaderTimeoutMs?: number;
  /**
   * Peers allowed to send a PROXY header: IP addresses or CIDR ranges
   * (`"10.0.0.0/8"`, `"::1"`; IPv4 also matches IPv4-mapped IPv6 peers).
   * Unset: any peer is trusted, which is right only when direct clients
   * cannot reach the port. An untrusted peer is refused (`"bad proxy
   * header"`, code `"untrusted"`) in modes `"v1"`, `"v2"` and `"any"`; in mode
   * `"optional"` it is served as a direct client, and refused if it sends a
   * header anyway (it would be spoofing an address).
   * @default {undefined}
   */
  trustedProxies?: readonly string[];
  /**
   * Also listen on this port (same hostname; `0` for an ephemeral one, see
   * `TcpServer.healthAddr`) and answer every connection with one line for a
   * load balancer, then close: `up ready` while serving, `maint` while
   * paused at `maxConnections`, `drain` during a graceful shutdown (the
   * health port stays open until the shutdown ends). This is HAProxy's
   * `agent-check` protocol and suits `option tcp-check` with
   * `tcp-check expect string up`. Unset: no health port.
   */
  healthPort?: number;
}

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
  readonly noDelay: boolean;
  /** `SO_KEEPALIVE` on accepted connections. */
  readonly keepAlive: boolean;
  /** Idle timeout in ms; `0` when disabled. */
  readonly idleTimeoutMs: number;
  /** Queue size above which `sendTo` returns `false`. */
  readonly writeHighWaterMark: number;
  /** Queue size below which `onWritable` fires. */
  readonly writeLowWaterMark: number;
  /** Queue size above which a peer is disconnected as a slow consumer. */
  readonly maxWriteBuffer: number;
  /** Kernel accept queue length. */
  readonly tcpBacklog: number;
  /** Pause after an accept error, in ms. */
  readonly acceptErrorDelayMs: number;
  /** The PROXY protocol mode, or `undefined` when off. */
  readonly proxyProtocol: ProxyProtocolMode | undefined;
  /** Time for a PROXY header to arrive, in ms. */
  readonly proxyHeaderTimeoutMs: number;
  /** Peers trusted to send a PROXY header (`undefined`: any). */
  readonly trustedProxies: readonly string[] | undefined;
  /** The health port, or `undefined` when off. */
  readonly healthPort: number | undefined;

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
   * @throws {TypeError} If an option has the wrong type (`hostname: 5`).
   * @throws {RangeError} If an option is out of its documented range.
   */
  constructor(options: TcpServerConfigOptions = {}) {
    validateObject(ACTION, "options", options);
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
    const connection = resolveConnectionOptions(ACTION, options);
    this.noDelay = connection.noDelay;
    this.keepAlive = connection.keepAlive;
    this.idleTimeoutMs = connection.idleTimeoutMs;
    this.writeHighWaterMark = connection.writeHighWaterMark;
    this.writeLowWaterMark = connection.writeLowWaterMark;
    this.maxWriteBuffer = connection.maxWriteBuffer;
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
    const proxy = validateProxyOptions(options, transport);
    this.proxyProtocol = proxy.proxyProtocol;
    this.proxyHeaderTimeoutMs = proxy.proxyHeaderTimeoutMs;
    this.trustedProxies = proxy.trustedProxies;
    this.healthPort = proxy.healthPort;
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

/**
 * Fluent builder of {@linkcode TcpServerConfig} (mill-net's style): a thin
 * layer over {@linkcode TcpServerConfigOptions}, one method per option, same
 * names; `build()` validates.
 *
 * @example Usage
 * ```ts
 * import { TcpServerConfigBuilder } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const config = new TcpServerConfigBuilder().address({ transport: "unix", path: "/tmp/x.sock" }).build();
 * assertEquals(config.transport, "unix");
 * ```
 */
export class TcpServerConfigBuilder {
  #options: TcpServerConfigOptions = {};

  #set<K extends keyof TcpServerConfigOptions>(
    key: K,
    value: TcpServerConfigOptions[K],
  ): this {
    this.#options[key] = value;
    return this;
  }

  /**
   * Sets where to listen: `"host:port"`, `"[::1]:port"`, `":port"`,
   * `{ hostname, port }` or `{ transport: "unix", path }`.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder().address("[::1]:8080").build();
   * assertEquals([config.hostname, config.port], ["::1", 8080]);
   * ```
   *
   * @param address The address.
   * @returns This builder.
   * @throws {TypeError} If `address` is neither a string nor an object.
   * @throws {RangeError} If the string is not `host:port` or the port is out of range.
   */
  address(address: TcpServerAddress): this {
    const parsed = parseAddress(ACTION, address, true);
    if (parsed.transport === "unix") {
      this.#options.transport = "unix";
      this.#options.path = parsed.path;
    } else {
      if (parsed.hostname !== undefined) {
        this.#options.hostname = parsed.hostname;
      }
      this.#options.port = parsed.port;
    }
    return this;
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.hostname}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().hostname("::1").build().hostname, "::1");
   * ```
   *
   * @param hostname The hostname or IP address to bind.
   * @returns This builder.
   */
  hostname(hostname: string): this {
    return this.#set("hostname", hostname);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.port} (`0` for an ephemeral port).
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().port(8080).build().port, 8080);
   * ```
   *
   * @param port The port, 0 to 65535.
   * @returns This builder.
   */
  port(port: number): this {
    return this.#set("port", port);
  }

  /**
   * Listens on a Unix socket at `path` (transport `"unix"`).
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder().unix("/tmp/app.sock").build();
   * assertEquals([config.transport, config.path], ["unix", "/tmp/app.sock"]);
   * ```
   *
   * @param path The socket path.
   * @returns This builder.
   */
  unix(path: string): this {
    this.#options.transport = "unix";
    return this.#set("path", path);
  }

  /**
   * Listens with TLS (transport `"tls"`).
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder().tls({
   *   cert: "-----BEGIN CERTIFICATE-----\n...", // e.g. Deno.readTextFileSync("cert.pem")
   *   key: "-----BEGIN PRIVATE KEY-----\n...",
   * }).build();
   * assertEquals(config.transport, "tls");
   * ```
   *
   * @param tls Certificate, key and ALPN protocols.
   * @returns This builder.
   */
  tls(tls: TcpServerTlsOptions): this {
    this.#options.transport = "tls";
    return this.#set("tls", tls);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.maxReadBufferSize}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().maxReadBufferSize(16384).build().maxReadBufferSize, 16384);
   * ```
   *
   * @param bytes The size, 1 B to 1 GiB.
   * @returns This builder.
   */
  maxReadBufferSize(bytes: number): this {
    return this.#set("maxReadBufferSize", bytes);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.maxConnections}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().maxConnections(100).build().maxConnections, 100);
   * ```
   *
   * @param count The limit: 1 to 2 ** 24, or `Infinity`.
   * @returns This builder.
   */
  maxConnections(count: number): this {
    return this.#set("maxConnections", count);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.noDelay}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().noDelay(false).build().noDelay, false);
   * ```
   *
   * @param enabled Whether to disable Nagle's algorithm.
   * @returns This builder.
   */
  noDelay(enabled: boolean): this {
    return this.#set("noDelay", enabled);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.keepAlive} (no interval: Deno
   * exposes none).
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().keepAlive(true).build().keepAlive, true);
   * ```
   *
   * @param enabled Whether to enable keep-alive probes.
   * @returns This builder.
   */
  keepAlive(enabled: boolean): this {
    return this.#set("keepAlive", enabled);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.idleTimeoutMs}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().idleTimeoutMs(30_000).build().idleTimeoutMs, 30_000);
   * ```
   *
   * @param ms Whole milliseconds from 0 (off) to 2 ** 31 - 1.
   * @returns This builder.
   */
  idleTimeoutMs(ms: number): this {
    return this.#set("idleTimeoutMs", ms);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.writeHighWaterMark}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder().writeHighWaterMark(4096).build();
   * assertEquals([config.writeHighWaterMark, config.writeLowWaterMark], [4096, 1024]);
   * ```
   *
   * @param bytes The high-water mark, 2 B to 1 GiB.
   * @returns This builder.
   */
  writeHighWaterMark(bytes: number): this {
    return this.#set("writeHighWaterMark", bytes);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.writeLowWaterMark}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().writeLowWaterMark(8192).build().writeLowWaterMark, 8192);
   * ```
   *
   * @param bytes The low-water mark, at least 1 and below the high-water mark.
   * @returns This builder.
   */
  writeLowWaterMark(bytes: number): this {
    return this.#set("writeLowWaterMark", bytes);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.maxWriteBuffer}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().maxWriteBuffer(4 << 20).build().maxWriteBuffer, 4 << 20);
   * ```
   *
   * @param bytes The cap: from the high-water mark to 1 GiB, or `Infinity`.
   * @returns This builder.
   */
  maxWriteBuffer(bytes: number): this {
    return this.#set("maxWriteBuffer", bytes);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.tcpBacklog}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().tcpBacklog(1024).build().tcpBacklog, 1024);
   * ```
   *
   * @param count The accept queue length, 1 to 65535.
   * @returns This builder.
   */
  tcpBacklog(count: number): this {
    return this.#set("tcpBacklog", count);
  }

  /**
   * Expects a PROXY protocol header on every connection (see
   * {@linkcode TcpServerConfigOptions.proxyProtocol}).
   *
   * @example Behind HAProxy
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder()
   *   .proxyProtocol("v2", { headerTimeoutMs: 1_000, trustedProxies: ["10.0.0.0/8"] })
   *   .build();
   * assertEquals(config.proxyProtocol, "v2");
   * assertEquals(config.trustedProxies, ["10.0.0.0/8"]);
   * ```
   *
   * @param mode `"v1"`, `"v2"`, `"any"` or `"optional"`.
   * @param options The header timeout and the trusted proxies.
   * @returns This builder.
   */
  proxyProtocol(
    mode: ProxyProtocolMode,
    options: { headerTimeoutMs?: number; trustedProxies?: readonly string[] } =
      {},
  ): this {
    this.#set("proxyProtocol", mode);
    if (options.headerTimeoutMs !== undefined) {
      this.#set("proxyHeaderTimeoutMs", options.headerTimeoutMs);
    }
    if (options.trustedProxies !== undefined) {
      this.#set("trustedProxies", options.trustedProxies);
    }
    return this;
  }

  /**
   * Answers load-balancer health checks on this port (see
   * {@linkcode TcpServerConfigOptions.healthPort}).
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().healthPort(7101).build().healthPort, 7101);
   * ```
   *
   * @param port The port (`0`: ephemeral).
   * @returns This builder.
   */
  healthPort(port: number): this {
    return this.#set("healthPort", port);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.acceptErrorDelayMs}.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(TcpServerConfig.builder().acceptErrorDelayMs(250).build().acceptErrorDelayMs, 250);
   * ```
   *
   * @param ms Whole milliseconds from 0 to 2 ** 31 - 1.
   * @returns This builder.
   */
  acceptErrorDelayMs(ms: number): this {
    return this.#set("acceptErrorDelayMs", ms);
  }

  /**
   * Validates the options set so far and returns the configuration.
   *
   * @example Usage
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertThrows } from "@std/assert";
   *
   * assertThrows(() => TcpServerConfig.builder().idleTimeoutMs(1.5).build(), RangeError);
   * ```
   *
   * @returns The configuration.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of its documented range.
   */
  build(): TcpServerConfig {
    return new TcpServerConfig({ ...this.#options });
  }
}
