// mill-net's `ServerConfig::builder()` style over `TcpServerConfigOptions`.
import type { ProxyProtocolMode } from "../proxy/proxy_header.ts";
import { parseAddress } from "../_address.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type {
  TcpServerAddress,
  TcpServerConfigOptions,
  TcpServerTlsOptions,
} from "./tcp_server_config_options.ts";

// The action of `build()`'s and `address()`'s errors, as the config's.
const ACTION = "create server config";

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
