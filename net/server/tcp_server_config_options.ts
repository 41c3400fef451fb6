// The options of `TcpServerConfig`: where to listen, TLS, and the limits of
// the server's connections (see also connection_options.ts).
import type { ConnectionOptions } from "./connection_options.ts";
import type { ProxyProtocolMode } from "../proxy/proxy_header.ts";

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
  /**
   * Certificate, key and ALPN protocols (transport `"tls"`; a `TypeError` with
   * a Unix socket).
   */
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
   * Also listen on this port (same hostname, so not `port` unless both are
   * `0`; `0` for an ephemeral one, see `TcpServer.healthAddr`) and answer
   * every connection with one line for a load balancer, then close:
   * `up ready` while serving, `maint` while paused at `maxConnections`,
   * `drain` during a graceful shutdown (the health port stays open until the
   * shutdown ends). This is HAProxy's `agent-check` protocol and suits
   * `option tcp-check` with `tcp-check expect string up`. Unset: no health
   * port.
   */
  healthPort?: number;
}
