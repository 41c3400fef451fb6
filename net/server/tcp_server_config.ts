// Configuration of `TcpServer`: a validated, immutable record plus a builder in
// the manner of mill-net's `ServerConfig::builder()`.
import { formatValue } from "../../_internal/format.ts";

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
export interface TcpServerConfigOptions {
  /** The transport. @default {"tcp"} */
  transport?: TcpServerTransport;
  /** Hostname to bind (TCP and TLS). @default {"127.0.0.1"} */
  hostname?: string;
  /** Port to bind (TCP and TLS); `0` picks an ephemeral port. @default {0} */
  port?: number;
  /** Socket path (transport `"unix"`). */
  path?: string;
  /** Certificate, key and ALPN protocols (transport `"tls"`). */
  tls?: TcpServerTlsOptions;
  /** Maximum size in bytes of one receive buffer (reads grow up to it). @default {65536} */
  bufferSize?: number;
  /**
   * Maximum number of open connections. At the limit the server stops
   * accepting (the kernel backlog holds new peers) and resumes below it.
   * @default {Infinity}
   */
  maxConnections?: number;
  /** `TCP_NODELAY` on every accepted TCP connection. @default {true} */
  noDelay?: boolean;
  /**
   * `SO_KEEPALIVE` on every accepted TCP connection. Deno exposes no
   * keep-alive interval: the operating system's default applies.
   * @default {false}
   */
  keepAlive?: boolean;
  /** Close a connection with no traffic for this many ms; `0` disables. @default {0} */
  idleTimeoutMs?: number;
  /**
   * `sendTo` returns `false` once this many bytes are queued. Both water
   * marks configure the loop `TcpServer.run()` creates; on a loop passed to
   * `TcpServer.start()`, that loop's own water marks apply.
   * @default {65536}
   */
  writeHighWaterMark?: number;
  /**
   * `onWritable` fires once the queue drains below this many bytes (see
   * `writeHighWaterMark` for which loop applies it).
   * @default {16384}
   */
  writeLowWaterMark?: number;
  /**
   * Per-connection cap on queued outbound bytes. A peer that lets more pile
   * up is disconnected with reason `"slow consumer"`.
   * @default {1048576}
   */
  maxWriteBuffer?: number;
  /** Kernel accept queue length (TCP and TLS). @default {511} */
  backlog?: number;
}

function fail(
  field: string,
  expected: string,
  value: unknown,
  ErrorClass: ErrorConstructor = typeof value === "number"
    ? RangeError
    : TypeError,
): never {
  throw new ErrorClass(
    `Cannot create server config as '${field}' must be ${expected}: received ${
      formatValue(value)
    }`,
  );
}

function positiveInteger(
  field: string,
  value: unknown,
  allowInfinity = false,
): number {
  if (typeof value !== "number") fail(field, "a positive integer", value);
  if (allowInfinity && value === Infinity) return value;
  if (!Number.isSafeInteger(value) || value <= 0) {
    fail(
      field,
      allowInfinity ? "a positive integer or Infinity" : "a positive integer",
      value,
    );
  }
  return value;
}

function boolean(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    fail(field, "a boolean", value, TypeError);
  }
  return value;
}

/**
 * Parses `"host:port"`, `"[::1]:port"` or `":port"`.
 */
function parseAddressString(address: string): {
  hostname: string;
  port: number;
} {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d+)$/.exec(address);
  if (!match) {
    throw new TypeError(
      `Cannot create server config as 'address' must be "host:port": received ${
        formatValue(address)
      }`,
    );
  }
  const hostname = match[1] ?? match[2] ?? "";
  return {
    hostname: hostname === "" ? "127.0.0.1" : hostname,
    port: +match[3]!,
  };
}

/**
 * The validated, immutable configuration of a {@linkcode TcpServer}. Build one
 * with {@linkcode TcpServerConfig.builder} (mill-net's style) or pass options
 * to the constructor; both validate every field and throw a `TypeError` or
 * `RangeError` naming the field and the value.
 *
 * Every option is applied: `noDelay`/`keepAlive` through
 * `conn.setNoDelay()`/`conn.setKeepAlive()` on each accepted TCP connection
 * (Deno's TLS and Unix connections expose neither), `backlog` as the
 * listener's `tcpBacklog`, the rest by the server itself.
 *
 * @example Using the builder
 * ```ts
 * import { TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const config = TcpServerConfig.builder()
 *   .address("127.0.0.1:0")
 *   .bufferSize(16384)
 *   .maxConnections(100)
 *   .idleTimeout(30_000)
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
 *   "'maxConnections' must be a positive integer or Infinity: received 0",
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
  readonly bufferSize: number;
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
  readonly backlog: number;

  /**
   * Validates and freezes a configuration.
   *
   * @param options The fields to set; the rest take their defaults.
   */
  constructor(options: TcpServerConfigOptions = {}) {
    const transport = options.transport ??
      (options.path !== undefined
        ? "unix"
        : options.tls !== undefined
        ? "tls"
        : "tcp");
    if (transport !== "tcp" && transport !== "unix" && transport !== "tls") {
      fail("transport", `"tcp", "unix" or "tls"`, transport);
    }
    this.transport = transport;
    const hostname = options.hostname ?? "127.0.0.1";
    if (typeof hostname !== "string" || hostname === "") {
      fail("hostname", "a non-empty string", hostname);
    }
    this.hostname = hostname;
    const port = options.port ?? 0;
    if (
      typeof port !== "number" || !Number.isInteger(port) || port < 0 ||
      port > 65535
    ) {
      fail("port", "an integer from 0 to 65535", port);
    }
    this.port = port;
    if (transport === "unix") {
      if (typeof options.path !== "string" || options.path === "") {
        fail("path", 'a non-empty string for transport "unix"', options.path);
      }
    }
    this.path = options.path;
    if (transport === "tls") {
      const tls = options.tls;
      if (tls === undefined || typeof tls !== "object") {
        fail(
          "tls",
          "an object with 'cert' and 'key' for transport \"tls\"",
          tls,
        );
      }
      if (typeof tls.cert !== "string" || !tls.cert.includes("-----BEGIN")) {
        fail(
          "tls.cert",
          "a PEM string",
          typeof tls.cert === "string" ? "(not PEM)" : tls.cert,
        );
      }
      if (typeof tls.key !== "string" || !tls.key.includes("-----BEGIN")) {
        fail(
          "tls.key",
          "a PEM string",
          typeof tls.key === "string" ? "(not PEM)" : tls.key,
        );
      }
      const alpn = tls.alpnProtocols ?? [];
      if (
        !Array.isArray(alpn) ||
        !alpn.every((p) => typeof p === "string" && p !== "")
      ) {
        fail("tls.alpnProtocols", "an array of non-empty strings", alpn);
      }
      this.tls = Object.freeze({
        cert: tls.cert,
        key: tls.key,
        alpnProtocols: Object.freeze([...alpn]) as string[],
      });
    } else {
      this.tls = undefined;
    }
    this.bufferSize = positiveInteger(
      "bufferSize",
      options.bufferSize ?? 65536,
    );
    this.maxConnections = positiveInteger(
      "maxConnections",
      options.maxConnections ?? Infinity,
      true,
    );
    this.noDelay = boolean("noDelay", options.noDelay ?? true);
    this.keepAlive = boolean("keepAlive", options.keepAlive ?? false);
    const idle = options.idleTimeoutMs ?? 0;
    if (
      typeof idle !== "number" || !Number.isFinite(idle) || idle < 0 ||
      idle > 2_147_483_647
    ) {
      fail("idleTimeoutMs", "a finite number of ms from 0 to 2147483647", idle);
    }
    this.idleTimeoutMs = idle;
    this.writeHighWaterMark = positiveInteger(
      "writeHighWaterMark",
      options.writeHighWaterMark ?? 65536,
    );
    const low = options.writeLowWaterMark ??
      Math.min(16384, this.writeHighWaterMark);
    if (typeof low !== "number" || !Number.isSafeInteger(low) || low < 0) {
      fail("writeLowWaterMark", "a non-negative integer", low);
    }
    if (low > this.writeHighWaterMark) {
      fail(
        "writeLowWaterMark",
        `at most 'writeHighWaterMark' (${this.writeHighWaterMark})`,
        low,
      );
    }
    this.writeLowWaterMark = low;
    this.maxWriteBuffer = positiveInteger(
      "maxWriteBuffer",
      options.maxWriteBuffer ?? 1_048_576,
      true,
    );
    this.backlog = positiveInteger("backlog", options.backlog ?? 511);
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
 * Fluent builder of {@linkcode TcpServerConfig}; `build()` validates.
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

  /**
   * Sets where to listen: `"host:port"`, `{ hostname, port }` or
   * `{ transport: "unix", path }`.
   *
   * @param address The address.
   * @returns This builder.
   */
  address(address: TcpServerAddress): this {
    if (typeof address === "string") {
      const { hostname, port } = parseAddressString(address);
      this.#options.hostname = hostname;
      this.#options.port = port;
    } else if (address !== null && typeof address === "object") {
      if ("path" in address) {
        this.#options.transport = "unix";
        this.#options.path = address.path;
      } else {
        if (address.hostname !== undefined) {
          this.#options.hostname = address.hostname;
        }
        this.#options.port = address.port;
      }
    } else {
      fail("address", "a string or an object", address);
    }
    return this;
  }

  /**
   * Sets the hostname to bind.
   *
   * @param hostname The hostname.
   * @returns This builder.
   */
  hostname(hostname: string): this {
    this.#options.hostname = hostname;
    return this;
  }

  /**
   * Sets the port to bind (`0` for an ephemeral port).
   *
   * @param port The port.
   * @returns This builder.
   */
  port(port: number): this {
    this.#options.port = port;
    return this;
  }

  /**
   * Listens on a Unix socket at `path`.
   *
   * @param path The socket path.
   * @returns This builder.
   */
  unix(path: string): this {
    this.#options.transport = "unix";
    this.#options.path = path;
    return this;
  }

  /**
   * Listens with TLS.
   *
   * @param tls Certificate, key and ALPN protocols.
   * @returns This builder.
   */
  tls(tls: TcpServerTlsOptions): this {
    this.#options.transport = "tls";
    this.#options.tls = tls;
    return this;
  }

  /**
   * Sets the maximum receive buffer size in bytes.
   *
   * @param bytes The size.
   * @returns This builder.
   */
  bufferSize(bytes: number): this {
    this.#options.bufferSize = bytes;
    return this;
  }

  /**
   * Sets the maximum number of open connections.
   *
   * @param count The limit (a positive integer or `Infinity`).
   * @returns This builder.
   */
  maxConnections(count: number): this {
    this.#options.maxConnections = count;
    return this;
  }

  /**
   * Sets `TCP_NODELAY` on accepted connections.
   *
   * @param enabled Whether to disable Nagle's algorithm.
   * @returns This builder.
   */
  noDelay(enabled: boolean): this {
    this.#options.noDelay = enabled;
    return this;
  }

  /**
   * Sets `SO_KEEPALIVE` on accepted connections (no interval: Deno exposes none).
   *
   * @param enabled Whether to enable keep-alive probes.
   * @returns This builder.
   */
  keepAlive(enabled: boolean): this {
    this.#options.keepAlive = enabled;
    return this;
  }

  /**
   * Closes connections idle for `ms` milliseconds (`0` disables).
   *
   * @param ms The idle timeout.
   * @returns This builder.
   */
  idleTimeout(ms: number): this {
    this.#options.idleTimeoutMs = ms;
    return this;
  }

  /**
   * Sets the queue size above which `sendTo` returns `false`.
   *
   * @param bytes The high-water mark.
   * @returns This builder.
   */
  writeHighWaterMark(bytes: number): this {
    this.#options.writeHighWaterMark = bytes;
    return this;
  }

  /**
   * Sets the queue size below which `onWritable` fires.
   *
   * @param bytes The low-water mark.
   * @returns This builder.
   */
  writeLowWaterMark(bytes: number): this {
    this.#options.writeLowWaterMark = bytes;
    return this;
  }

  /**
   * Sets the per-connection cap on queued outbound bytes.
   *
   * @param bytes The cap (a positive integer or `Infinity`).
   * @returns This builder.
   */
  maxWriteBuffer(bytes: number): this {
    this.#options.maxWriteBuffer = bytes;
    return this;
  }

  /**
   * Sets the kernel accept queue length.
   *
   * @param count The backlog.
   * @returns This builder.
   */
  backlog(count: number): this {
    this.#options.backlog = count;
    return this;
  }

  /**
   * Validates the fields and returns the configuration.
   *
   * @returns The configuration.
   */
  build(): TcpServerConfig {
    return new TcpServerConfig({ ...this.#options });
  }
}
