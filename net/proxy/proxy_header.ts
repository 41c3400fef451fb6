// The parsed form of a PROXY protocol header (v1 or v2), shared by the
// parser, the encoder and the server integration.

/**
 * Which PROXY protocol headers a receiver accepts: `"v1"` (text), `"v2"`
 * (binary), `"any"` (either), or `"optional"` (either, or none: a connection
 * that does not start with a header is served as a direct one).
 *
 * @example Usage
 * ```ts
 * import type { ProxyProtocolMode } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const mode: ProxyProtocolMode = "v2";
 * assertEquals(mode, "v2");
 * ```
 */
export type ProxyProtocolMode = "v1" | "v2" | "any" | "optional";

/**
 * One v2 TLV (type-length-value) record of a PROXY header, raw.
 *
 * @example Usage
 * ```ts
 * import { PROXY_TLV_TYPES, type ProxyTlv } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const tlv: ProxyTlv = { type: PROXY_TLV_TYPES.ALPN, value: new TextEncoder().encode("h2") };
 * assertEquals(tlv.type, 0x01);
 * ```
 */
export interface ProxyTlv {
  /** The TLV type (see {@linkcode PROXY_TLV_TYPES}). */
  readonly type: number;
  /** The value bytes (at most 65535). */
  readonly value: Uint8Array;
}

/**
 * The TLV types of the PROXY protocol v2 spec (section 2.2).
 *
 * @example Usage
 * ```ts
 * import { PROXY_TLV_TYPES } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(PROXY_TLV_TYPES.UNIQUE_ID, 0x05);
 * ```
 */
export const PROXY_TLV_TYPES: {
  readonly ALPN: 0x01;
  readonly AUTHORITY: 0x02;
  readonly CRC32C: 0x03;
  readonly NOOP: 0x04;
  readonly UNIQUE_ID: 0x05;
  readonly SSL: 0x20;
  readonly NETNS: 0x30;
} = Object.freeze({
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
});

/**
 * An address a PROXY header carries: a TCP/UDP address (`transport` `"tcp"`
 * for stream, `"udp"` for datagram) or a Unix socket path.
 *
 * @example Usage
 * ```ts
 * import type { ProxyAddress } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const source: ProxyAddress = { transport: "tcp", hostname: "192.0.2.7", port: 51234 };
 * assertEquals(source.transport, "tcp");
 * ```
 */
export type ProxyAddress = Deno.NetAddr | Deno.UnixAddr;

/**
 * A parsed PROXY protocol header.
 *
 * - `command` `"local"` (v2 LOCAL, e.g. a proxy's own health check), family
 *   `"unspec"` (v1 `UNKNOWN`, v2 `AF_UNSPEC`) or an unspecified transport
 *   carry no addresses: `source` and `destination` are `null` and the
 *   receiver keeps the socket's own addresses.
 * - `tlvs` lists every v2 TLV in order (v1: none); the common ones are also
 *   decoded into `alpn`, `authority` and `uniqueId`.
 *
 * @example Usage
 * ```ts
 * import { parseProxyHeader } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n");
 * const header = parseProxyHeader(bytes);
 * assertEquals(header.length, bytes.length);
 * assertEquals(header.source, { transport: "tcp", hostname: "192.0.2.7", port: 51234 });
 * assertEquals(header.destination, { transport: "tcp", hostname: "198.51.100.1", port: 443 });
 * ```
 */
export interface ProxyHeader {
  /** Protocol version: 1 (text) or 2 (binary). */
  readonly version: 1 | 2;
  /** `"proxy"`: addresses of a relayed connection; `"local"`: the proxy's own connection. */
  readonly command: "proxy" | "local";
  /** Address family: `"inet"` (IPv4), `"inet6"`, `"unix"` or `"unspec"`. */
  readonly family: "inet" | "inet6" | "unix" | "unspec";
  /** Transport: `"stream"` (TCP), `"dgram"` (UDP) or `"unspec"`. */
  readonly protocol: "stream" | "dgram" | "unspec";
  /** The original client's address, or `null` when the header carries none. */
  readonly source: ProxyAddress | null;
  /** The address the client connected to, or `null` when the header carries none. */
  readonly destination: ProxyAddress | null;
  /** Every v2 TLV, in order (empty for v1 and for LOCAL). */
  readonly tlvs: readonly ProxyTlv[];
  /** The ALPN TLV (`0x01`) as text, e.g. `"h2"`. */
  readonly alpn?: string;
  /** The authority TLV (`0x02`, the TLS SNI host name) as text. */
  readonly authority?: string;
  /** The unique id TLV (`0x05`, at most 128 bytes), e.g. HAProxy's `unique-id`. */
  readonly uniqueId?: Uint8Array;
  /** Whether a CRC32c TLV was present (and therefore verified). */
  readonly checksummed: boolean;
  /** Length of the header in bytes. */
  readonly length: number;
}
