// Builds PROXY protocol v1/v2 headers: what a client behind no proxy (or a
// test) sends to speak to a server with `proxyProtocol` enabled.

import { crc32c } from "./_crc32c.ts";
import { V2_SIGNATURE } from "./_wire.ts";
import { formatIPv6, parseIPv4, parseIPv6 } from "./_ip.ts";
import {
  PROXY_TLV_TYPES,
  type ProxyAddress,
  type ProxyTlv,
} from "./proxy_header.ts";

/**
 * What {@linkcode encodeProxyHeader} encodes.
 *
 * @example Usage
 * ```ts
 * import { encodeProxyHeader, type ProxyHeaderInit } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const init: ProxyHeaderInit = { version: 1, source: null, destination: null };
 * assertEquals(new TextDecoder().decode(encodeProxyHeader(init)), "PROXY UNKNOWN\r\n");
 * ```
 */
export interface ProxyHeaderInit {
  /** 1 (text) or 2 (binary). */
  version: 1 | 2;
  /**
   * `"local"` sends no addresses (v2 LOCAL; v1 `UNKNOWN`).
   * @default {"proxy"}
   */
  command?: "proxy" | "local";
  /**
   * The client's address (`null`: none, v1 `UNKNOWN` / v2 `AF_UNSPEC`).
   * Both addresses must be of the same kind; v1 supports TCP only.
   */
  source: ProxyAddress | null;
  /** The address the client connected to (`null`: none). */
  destination: ProxyAddress | null;
  /** v2 only: TLVs, in order. @default {[]} */
  tlvs?: readonly ProxyTlv[];
  /** v2 only: append a CRC32c TLV over the header. @default {false} */
  checksum?: boolean;
}

function fail(detail: string): TypeError {
  return new TypeError(`Cannot encode PROXY header as ${detail}`);
}

function checkPort(port: unknown): number {
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < 0 ||
    port > 65535
  ) {
    throw new RangeError(
      `Cannot encode PROXY header as a port must be an integer from 0 to 65535: received ${
        String(port)
      }`,
    );
  }
  return port;
}

/**
 * Encodes a PROXY protocol header (the inverse of
 * {@linkcode parseProxyHeader}).
 *
 * @example A v1 header in front of a request
 * ```ts
 * import { encodeProxyHeader } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const header = encodeProxyHeader({
 *   version: 1,
 *   source: { transport: "tcp", hostname: "192.0.2.7", port: 51234 },
 *   destination: { transport: "tcp", hostname: "198.51.100.1", port: 443 },
 * });
 * assertEquals(new TextDecoder().decode(header), "PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n");
 * ```
 *
 * @param init The version, addresses and TLVs.
 * @returns The header bytes.
 * @throws {TypeError} If the addresses are missing, mixed or not IP literals
 * (v1: TCP only), or a TLV is not a `{ type, value }` with a byte type.
 * @throws {RangeError} If a port is out of range or the v2 header would exceed 65551 bytes.
 */
export function encodeProxyHeader(init: ProxyHeaderInit): Uint8Array {
  if (init === null || typeof init !== "object") {
    throw fail(
      `'init' must be an object: received ${
        init === null ? "null" : typeof init
      }`,
    );
  }
  const { version } = init;
  if (version !== 1 && version !== 2) {
    throw fail(`'version' must be 1 or 2: received ${String(version)}`);
  }
  const local = (init.command ?? "proxy") === "local";
  if (!local && init.command !== undefined && init.command !== "proxy") {
    throw fail(
      `'command' must be "proxy" or "local": received ${String(init.command)}`,
    );
  }
  const source = local ? null : init.source;
  const destination = local ? null : init.destination;
  if ((source === null) !== (destination === null)) {
    throw fail(
      "'source' and 'destination' must both be addresses or both be null",
    );
  }
  return version === 1 ? encodeV1(source, destination) : encodeV2(
    local,
    source,
    destination,
    init.tlvs ?? [],
    init.checksum ?? false,
  );
}

function encodeV1(
  source: ProxyAddress | null,
  destination: ProxyAddress | null,
): Uint8Array {
  if (source === null || destination === null) {
    return new TextEncoder().encode("PROXY UNKNOWN\r\n");
  }
  if (source.transport !== "tcp" || destination.transport !== "tcp") {
    throw fail(`v1 carries TCP addresses only: received "${source.transport}"`);
  }
  const v4 = parseIPv4(source.hostname) !== undefined &&
    parseIPv4(destination.hostname) !== undefined;
  const v6 = parseIPv6(source.hostname) !== undefined &&
    parseIPv6(destination.hostname) !== undefined;
  if (!v4 && !v6) {
    throw fail(
      `the addresses must both be IPv4 or both IPv6 literals: received '${source.hostname}' and '${destination.hostname}'`,
    );
  }
  // Canonical text keeps the longest line (two full IPv6 addresses) within
  // the spec's 107 bytes.
  const host = (hostname: string) =>
    v4 ? hostname : formatIPv6(parseIPv6(hostname)!);
  const line = `PROXY ${v4 ? "TCP4" : "TCP6"} ${host(source.hostname)} ${
    host(destination.hostname)
  } ${checkPort(source.port)} ${checkPort(destination.port)}\r\n`;
  return new TextEncoder().encode(line);
}

/** A v2 INET address block: both addresses, then both ports (big endian). */
function inetAddresses(
  source: Uint8Array,
  destination: Uint8Array,
  sourcePort: number,
  destinationPort: number,
): Uint8Array<ArrayBuffer> {
  const n = source.length;
  const block = new Uint8Array(2 * n + 4);
  block.set(source, 0);
  block.set(destination, n);
  const view = new DataView(block.buffer);
  view.setUint16(2 * n, sourcePort);
  view.setUint16(2 * n + 2, destinationPort);
  return block;
}

function encodeV2(
  local: boolean,
  source: ProxyAddress | null,
  destination: ProxyAddress | null,
  tlvs: readonly ProxyTlv[],
  checksum: boolean,
): Uint8Array {
  let familyByte = 0x00;
  let addresses = new Uint8Array(0);
  if (source !== null && destination !== null) {
    if (source.transport !== destination.transport) {
      throw fail(
        `'source' and 'destination' must have the same transport: received "${source.transport}" and "${destination.transport}"`,
      );
    }
    if (source.transport === "tcp" || source.transport === "udp") {
      const dst = destination as Deno.NetAddr;
      const proto = source.transport === "tcp" ? 0x1 : 0x2;
      const s4 = parseIPv4(source.hostname);
      const d4 = parseIPv4(dst.hostname);
      const s6 = parseIPv6(source.hostname);
      const d6 = parseIPv6(dst.hostname);
      const ips: [Uint8Array, Uint8Array] | undefined = s4 && d4
        ? [s4, d4]
        : s6 && d6
        ? [s6, d6]
        : undefined;
      if (ips === undefined) {
        throw fail(
          `the addresses must both be IPv4 or both IPv6 literals: received '${source.hostname}' and '${dst.hostname}'`,
        );
      }
      familyByte = (ips[0].length === 4 ? 0x10 : 0x20) | proto;
      addresses = inetAddresses(
        ips[0],
        ips[1],
        checkPort(source.port),
        checkPort(dst.port),
      );
    } else if (
      source.transport === "unix" || source.transport === "unixpacket"
    ) {
      familyByte = source.transport === "unix" ? 0x31 : 0x32;
      addresses = new Uint8Array(216);
      const encoder = new TextEncoder();
      const paths = [source.path, (destination as Deno.UnixAddr).path];
      paths.forEach((path, i) => {
        const bytes = encoder.encode(path);
        if (bytes.length > 108) {
          throw new RangeError(
            `Cannot encode PROXY header as a Unix path must be at most 108 bytes: received ${bytes.length}`,
          );
        }
        addresses.set(bytes, i * 108);
      });
    } else {
      throw fail(
        `the transport is not supported: received "${
          String((source as { transport: unknown }).transport)
        }"`,
      );
    }
  }
  let tlvLength = 0;
  for (const tlv of tlvs) {
    if (
      tlv === null || typeof tlv !== "object" || !Number.isInteger(tlv.type) ||
      tlv.type < 0 || tlv.type > 255 || !(tlv.value instanceof Uint8Array)
    ) {
      throw fail("a TLV must be { type: 0..255, value: Uint8Array }");
    }
    tlvLength += 3 + tlv.value.length;
  }
  if (checksum) tlvLength += 7;
  const bodyLength = local ? 0 : addresses.length + tlvLength;
  if (bodyLength > 0xffff) {
    throw new RangeError(
      `Cannot encode PROXY header as its body must be at most 65535 bytes: received ${bodyLength}`,
    );
  }
  const bytes = new Uint8Array(16 + bodyLength);
  const view = new DataView(bytes.buffer);
  bytes.set(V2_SIGNATURE);
  bytes[12] = local ? 0x20 : 0x21;
  bytes[13] = local ? 0x00 : familyByte;
  view.setUint16(14, bodyLength);
  if (local) return bytes;
  bytes.set(addresses, 16);
  let at = 16 + addresses.length;
  for (const tlv of tlvs) {
    bytes[at] = tlv.type;
    view.setUint16(at + 1, tlv.value.length);
    bytes.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  if (checksum) {
    bytes[at] = PROXY_TLV_TYPES.CRC32C;
    view.setUint16(at + 1, 4);
    view.setUint32(at + 3, crc32c(bytes, at + 3));
  }
  return bytes;
}
