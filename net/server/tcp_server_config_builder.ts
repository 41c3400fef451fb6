// mill-net's `ServerConfig::builder()` style over `TcpServerConfigOptions`.
import type { ProxyProtocolMode } from "../proxy/proxy_header.ts";
import { parseAddress } from "../_address.ts";
import { validateTypeOf } from "../../_internal/validate.ts";
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
 * names, except `writeWaterMarks()` (the two marks are one setting);
 * `build()` validates.
 *
 * Where to listen is what the last of `address()`, `hostname()`, `port()`
 * and `unix()` says (as a later `server.listen()` in Node): a TCP address, or
 * a Unix socket. `tls()` adds TLS to the TCP address, wherever it is called.
 *
 * @example Usage
 * ```ts
 * import { TcpServerConfigBuilder } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const config = new TcpServerConfigBuilder().address({ transport: "unix", path: "/tmp/x.sock" }).build();
 * assertEquals(config.transport, "unix");
 * ```
 *
 * @example The last call says where to listen
 * ```ts
 * import { TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * // A default Unix socket, moved to a TCP port (by a command-line flag, say):
 * const config = TcpServerConfig.builder().unix("/tmp/app.sock").port(8080).build();
 * assertEquals([config.transport, config.port, config.path], ["tcp", 8080, undefined]);
 * ```
 */
export class TcpServerConfigBuilder {
  #options: TcpServerConfigOptions = {};
  // Set by the last of address(), hostname(), port() and unix(). The options
  // keep what each set; build() drops the path when TCP won (and keeps the
  // hostname when Unix won: the health port binds it).
  #where: "tcp" | "unix" = "tcp";
  // Whether tls() was called, even with `undefined` (the config rejects it).
  #tls = false;

  #set<K extends keyof TcpServerConfigOptions>(
    key: K,
    value: TcpServerConfigOptions[K],
  ): this {
    this.#options[key] = value;
    return this;
  }

  /**
   * Sets where to listen: `"host:port"`, `"[::1]:port"`, `":port"`,
   * `{ hostname, port }` or `{ transport: "unix", path }`. A later call of
   * `address()`, `hostname()`, `port()` or `unix()` changes it again.
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
    this.#where = parsed.transport;
    if (parsed.transport === "unix") {
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
   * Sets {@linkcode TcpServerConfigOptions.hostname} and listens on TCP (with
   * TLS after `tls()`), also after `unix()`.
   *
   * @example Loopback by default
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * // Without a hostname the server binds IPv4 loopback only.
   * assertEquals(TcpServerConfig.builder().build().hostname, "127.0.0.1");
   *
   * const ipv6 = TcpServerConfig.builder().hostname("::1").port(8080).build();
   * assertEquals([ipv6.hostname, ipv6.port], ["::1", 8080]);
   *
   * // A hostname, not a URL: `build()` names the field and the value.
   * assertThrows(
   *   () => TcpServerConfig.builder().hostname("http://localhost").build(),
   *   RangeError,
   *   "'hostname' must be a non-empty hostname or IP address",
   * );
   * ```
   *
   * @param hostname The hostname or IP address to bind.
   * @returns This builder.
   */
  hostname(hostname: string): this {
    this.#where = "tcp";
    return this.#set("hostname", hostname);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.port} (`0` for an ephemeral port)
   * and listens on TCP (with TLS after `tls()`), also after `unix()`.
   *
   * @example An ephemeral port
   * ```ts
   * import { TcpServer, TcpServerConfig } from "@millrace/io/net";
   * import { assertNotEquals } from "@std/assert";
   *
   * // Port 0 (the default) lets the kernel pick a free port: read it from
   * // `server.addr` once the server has started.
   * const server = new TcpServer(TcpServerConfig.builder().port(0).build(), {
   *   onData() {},
   * });
   * const done = server.run();
   * const { port } = server.addr as Deno.NetAddr;
   * assertNotEquals(port, 0);
   * await server.shutdown();
   * await done;
   * ```
   *
   * @param port The port, 0 to 65535.
   * @returns This builder.
   */
  port(port: number): this {
    this.#where = "tcp";
    return this.#set("port", port);
  }

  /**
   * Listens on a Unix socket at `path` (transport `"unix"`), also after
   * `address()`, `hostname()` or `port()`.
   *
   * @example A Unix socket instead of a port
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const config = TcpServerConfig.builder().unix("/tmp/app.sock").build();
   * assertEquals(config.transport, "unix");
   * assertEquals(config.path, "/tmp/app.sock");
   * ```
   *
   * @param path The socket path.
   * @returns This builder.
   */
  unix(path: string): this {
    this.#where = "unix";
    return this.#set("path", path);
  }

  /**
   * Listens with TLS (transport `"tls"`) on the TCP address, set before or
   * after. Deno has no TLS listener on a Unix socket: with `unix()`, `build()`
   * throws.
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
    this.#tls = true;
    return this.#set("tls", tls);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.maxReadBufferSize}.
   *
   * @example Bytes, up to 1 GiB
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * // Read buffers grow up to 64 KiB by default; a line protocol with short
   * // messages can cap them lower.
   * assertEquals(TcpServerConfig.builder().build().maxReadBufferSize, 65_536);
   * const small = TcpServerConfig.builder().maxReadBufferSize(4 * 1024).build();
   * assertEquals(small.maxReadBufferSize, 4_096);
   *
   * assertThrows(
   *   () => TcpServerConfig.builder().maxReadBufferSize(2 ** 31).build(),
   *   RangeError,
   *   "'maxReadBufferSize' must be an integer from 1 to 2 ** 30",
   * );
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
   * @example Unlimited by default; 0 is an error
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * // No cap by default; `Infinity` says so explicitly.
   * assertEquals(TcpServerConfig.builder().build().maxConnections, Infinity);
   * assertEquals(
   *   TcpServerConfig.builder().maxConnections(Infinity).build().maxConnections,
   *   Infinity,
   * );
   *
   * // A cap must be a whole number of at least 1.
   * assertThrows(
   *   () => TcpServerConfig.builder().maxConnections(0).build(),
   *   RangeError,
   *   "'maxConnections' must be an integer from 1 to 2 ** 24 or Infinity: received 0",
   * );
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
   * @example On by default
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assert, assertFalse } from "@std/assert";
   *
   * // Small replies leave at once by default (`TCP_NODELAY`).
   * assert(TcpServerConfig.builder().build().noDelay);
   * // A server that streams bulk data in small writes can let the kernel
   * // batch them:
   * const bulk = TcpServerConfig.builder().noDelay(false).build();
   * assertFalse(bulk.noDelay);
   * ```
   *
   * @param enabled Whether to disable Nagle's algorithm; `.noDelay()` alone
   * turns it on, as Node's `socket.setNoDelay()`.
   * @returns This builder.
   */
  noDelay(enabled = true): this {
    return this.#set("noDelay", enabled);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.keepAlive} (no interval: Deno
   * exposes none).
   *
   * @example Detecting dead peers on idle connections
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * // Off by default. Long-lived connections that may sit silent for hours
   * // (a pub/sub subscriber, say) let the kernel probe the peer instead of
   * // closing them on an idle timeout.
   * const config = TcpServerConfig.builder()
   *   .keepAlive()
   *   .idleTimeoutMs(0)
   *   .build();
   * assert(config.keepAlive);
   * ```
   *
   * @param enabled Whether to enable keep-alive probes; `.keepAlive()` alone
   * turns them on.
   * @returns This builder.
   */
  keepAlive(enabled = true): this {
    return this.#set("keepAlive", enabled);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.idleTimeoutMs}.
   *
   * @example Milliseconds; 0 turns it off
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * // Close connections silent for 30 seconds.
   * const config = TcpServerConfig.builder().idleTimeoutMs(30 * 1000).build();
   * assertEquals(config.idleTimeoutMs, 30_000);
   *
   * // Off by default; whole milliseconds only.
   * assertEquals(TcpServerConfig.builder().build().idleTimeoutMs, 0);
   * assertThrows(
   *   () => TcpServerConfig.builder().idleTimeoutMs(0.5).build(),
   *   RangeError,
   * );
   * ```
   *
   * @param ms Whole milliseconds from 0 (off) to 2 ** 31 - 1.
   * @returns This builder.
   */
  idleTimeoutMs(ms: number): this {
    return this.#set("idleTimeoutMs", ms);
  }

  /**
   * Sets the write water marks,
   * {@linkcode TcpServerConfigOptions.writeHighWaterMark} and
   * {@linkcode TcpServerConfigOptions.writeLowWaterMark}, together: the low
   * mark derives from the high one and must stay below it, so they are one
   * setting (as Netty's `WriteBufferWaterMark`). A mark left out takes its
   * default, also when an earlier call set it.
   *
   * @example The low-water mark follows
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * // Unless set, the low-water mark is a quarter of the high one (16 KiB at
   * // most).
   * const config = TcpServerConfig.builder().writeWaterMarks({ high: 4096 }).build();
   * assertEquals([config.writeHighWaterMark, config.writeLowWaterMark], [4096, 1024]);
   * ```
   *
   * @example The low mark must stay below the high one
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertThrows } from "@std/assert";
   *
   * // With the default high-water mark of 64 KiB, 64 KiB is too high:
   * assertThrows(
   *   () => TcpServerConfig.builder().writeWaterMarks({ low: 65_536 }).build(),
   *   RangeError,
   *   "'writeLowWaterMark' must be less than 'writeHighWaterMark' (65536): received 65536",
   * );
   * // ... unless the high-water mark is raised with it.
   * TcpServerConfig.builder().writeWaterMarks({ high: 256 * 1024, low: 65_536 }).build();
   * ```
   *
   * @param marks `high`: 2 B to 1 GiB; `low`: at least 1 and below `high`.
   * @returns This builder.
   * @throws {TypeError} If `marks` is not an object.
   */
  writeWaterMarks(marks: { high?: number; low?: number }): this {
    validateTypeOf(ACTION, "marks", marks, "object");
    this.#set("writeHighWaterMark", marks.high);
    return this.#set("writeLowWaterMark", marks.low);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.maxWriteBuffer}.
   *
   * @example Where a slow consumer is cut off
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * // By default 1 MiB, or 16 high-water marks when that is more.
   * assertEquals(TcpServerConfig.builder().build().maxWriteBuffer, 1_048_576);
   * const big = TcpServerConfig.builder().writeWaterMarks({ high: 1 << 20 }).build();
   * assertEquals(big.maxWriteBuffer, 16 << 20);
   *
   * // Never below the high-water mark: `sendTo` reports backpressure first.
   * assertThrows(
   *   () => TcpServerConfig.builder().maxWriteBuffer(1024).build(),
   *   RangeError,
   *   "'maxWriteBuffer' must be at least 'writeHighWaterMark'",
   * );
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
   * @example A longer accept queue for bursts
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * // 511 by default (as nginx and Redis); the kernel may cap it lower
   * // (`net.core.somaxconn` on Linux).
   * assertEquals(TcpServerConfig.builder().build().tcpBacklog, 511);
   * const config = TcpServerConfig.builder()
   *   .maxConnections(10_000)
   *   .tcpBacklog(4096)
   *   .build();
   * assertEquals(config.tcpBacklog, 4096);
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
   * @example A load balancer's check
   * ```ts
   * import { TcpServer, TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const server = new TcpServer(
   *   TcpServerConfig.builder().port(0).healthPort(0).build(),
   *   { onData() {} },
   * );
   * const done = server.run();
   * await server.listening();
   *
   * // Every connection to the health port gets one line, then is closed.
   * const conn = await Deno.connect({ port: server.healthAddr.port });
   * const line = await new Response(conn.readable).text();
   * assertEquals(line, "up ready\n");
   *
   * await server.shutdown();
   * await done;
   * ```
   *
   * @param port The port (`0`: ephemeral), other than `port()`'s (`build()`
   * checks).
   * @returns This builder.
   */
  healthPort(port: number): this {
    return this.#set("healthPort", port);
  }

  /**
   * Sets {@linkcode TcpServerConfigOptions.acceptErrorDelayMs}.
   *
   * @example Backing off when out of file descriptors
   * ```ts
   * import { TcpServerConfig } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * // After EMFILE (and other accept errors that are not a peer's), the server
   * // waits 100 ms by default before it accepts again, instead of spinning.
   * assertEquals(TcpServerConfig.builder().build().acceptErrorDelayMs, 100);
   * // Whole milliseconds: a server whose connections are short-lived gets
   * // descriptors back soon and may retry sooner.
   * const config = TcpServerConfig.builder().acceptErrorDelayMs(20).build();
   * assertEquals(config.acceptErrorDelayMs, 20);
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
   * @throws {TypeError} If an option has the wrong type, or `tls()` was
   * called and a Unix socket is where to listen.
   * @throws {RangeError} If an option is out of its documented range.
   */
  build(): TcpServerConfig {
    const options = { ...this.#options };
    if (this.#where === "tcp") {
      delete options.path; // of a unix() call a later call replaced
      options.transport = this.#tls ? "tls" : "tcp";
    } else {
      // With tls() too, the config rejects it (no TLS on a Unix socket).
      options.transport = "unix";
    }
    return new TcpServerConfig(options);
  }
}
