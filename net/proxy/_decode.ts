// Decoding a complete PROXY header (v1 line or v2 block) into a
// `ProxyHeader`; the incremental framing lives in proxy_header_parser.ts.

import { crc32c } from "./_crc32c.ts";
import { formatIPv4, formatIPv6, isIPv4, parseIPv6 } from "./_ip.ts";
import {
  MAX_UNIQUE_ID,
  PROXY_V1_MAX_LENGTH,
  V1_PREFIX,
  V2_FIXED,
  V2_SIGNATURE,
} from "./_wire.ts";
import {
  PROXY_TLV_TYPES,
  type ProxyAddress,
  type ProxyHeader,
  type ProxyProtocolMode,
  type ProxyTlv,
} from "./proxy_header.ts";
import { ProxyHeaderError } from "./proxy_header_error.ts";

/**
 * A header that carries no addresses (v1 UNKNOWN, v2 LOCAL): the receiver
 * uses the connection's own endpoints.
 */
function addressless(
  version: 1 | 2,
  command: ProxyHeader["command"],
  length: number,
): ProxyHeader {
  return {
    version,
    command,
    family: "unspec",
    protocol: "unspec",
    source: null,
    destination: null,
    tlvs: [],
    checksummed: false,
    length,
  };
}

// --- v1 -----------------------------------------------------------------

function badV1(detail: string): ProxyHeaderError {
  return new ProxyHeaderError(
    "bad-address",
    `Cannot parse PROXY v1 header as ${detail}`,
  );
}

function parsePort(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  if (text.length > 1 && text.charCodeAt(0) === 0x30) return undefined;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    port = port * 10 + c - 0x30;
  }
  return port <= 65535 ? port : undefined;
}

function parseV1Host(field: string, v4: boolean): string {
  if (v4) {
    if (!isIPv4(field)) {
      throw badV1(`'${field.slice(0, 45)}' is not an IPv4 address`);
    }
    return field;
  }
  const bytes = parseIPv6(field);
  if (bytes === undefined) {
    throw badV1(`'${field.slice(0, 45)}' is not an IPv6 address`);
  }
  return formatIPv6(bytes);
}

function parseV1Port(field: string): number {
  const port = parsePort(field);
  if (port === undefined) throw badV1(`'${field.slice(0, 8)}' is not a port`);
  return port;
}

/** Decodes a v1 line, CRLF included. */
export function parseV1(line: Uint8Array): ProxyHeader {
  const length = line.length;
  if (length < 2 || line[length - 2] !== 0x0d) {
    throw badV1("its line does not end with CRLF");
  }
  let text = "";
  for (let i = 0; i < length - 2; i++) text += String.fromCharCode(line[i]!);
  const fields = text.split(" ");
  const protocol = fields[1];
  if (protocol === "UNKNOWN") {
    // The rest of an UNKNOWN line is to be ignored (spec section 2.1).
    return addressless(1, "proxy", length);
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    throw new ProxyHeaderError(
      "bad-family",
      `Cannot parse PROXY v1 header as its protocol must be "TCP4", "TCP6" or "UNKNOWN": received "${
        (protocol ?? "").slice(0, 16)
      }"`,
    );
  }
  if (fields.length !== 6) {
    throw badV1(
      `a ${protocol} line must have 6 space-separated fields: received ${fields.length}`,
    );
  }
  const v4 = protocol === "TCP4";
  const sourceHost = parseV1Host(fields[2]!, v4);
  const destinationHost = parseV1Host(fields[3]!, v4);
  return {
    version: 1,
    command: "proxy",
    family: v4 ? "inet" : "inet6",
    protocol: "stream",
    source: {
      transport: "tcp",
      hostname: sourceHost,
      port: parseV1Port(fields[4]!),
    },
    destination: {
      transport: "tcp",
      hostname: destinationHost,
      port: parseV1Port(fields[5]!),
    },
    tlvs: [],
    checksummed: false,
    length,
  };
}

// --- v2 -----------------------------------------------------------------

const FAMILIES = ["unspec", "inet", "inet6", "unix"] as const;
const PROTOCOLS = ["unspec", "stream", "dgram"] as const;
const ADDRESS_BLOCK = [0, 12, 36, 216] as const;
const decoder = new TextDecoder();

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/**
 * Decodes a whole v2 header; TLV values are copied when `copyValues` (the
 * bytes may be a reused read buffer), else they are views of `bytes`.
 */
export function parseV2(bytes: Uint8Array, copyValues: boolean): ProxyHeader {
  const length = bytes.length;
  const command = bytes[12]! & 0x0f;
  if (command > 1) {
    throw new ProxyHeaderError(
      "bad-command",
      `Cannot parse PROXY v2 header as its command must be 0 (LOCAL) or 1 (PROXY): received ${command}`,
    );
  }
  if (command === 0) {
    // LOCAL: the receiver must use the real endpoints and discard the
    // protocol block, family included (spec section 2.2).
    return addressless(2, "local", length);
  }
  const familyCode = bytes[13]! >> 4;
  const protocolCode = bytes[13]! & 0x0f;
  const family = FAMILIES[familyCode];
  const protocol = PROTOCOLS[protocolCode];
  if (
    family === undefined || protocol === undefined ||
    (family === "unspec") !== (protocol === "unspec")
  ) {
    throw new ProxyHeaderError(
      "bad-family",
      `Cannot parse PROXY v2 header as its family and transport byte is unknown: received 0x${
        bytes[13]!.toString(16).padStart(2, "0")
      }`,
    );
  }
  const addressLength = ADDRESS_BLOCK[familyCode as 0 | 1 | 2 | 3];
  if (length - V2_FIXED < addressLength) {
    throw new ProxyHeaderError(
      "bad-address",
      `Cannot parse PROXY v2 header as its ${family} address block needs ${addressLength} bytes: received ${
        length - V2_FIXED
      }`,
    );
  }
  let source: ProxyAddress | null = null;
  let destination: ProxyAddress | null = null;
  const transport = protocol === "dgram" ? "udp" : "tcp";
  if (family === "inet" || family === "inet6") {
    // Source address, destination address, source port, destination port.
    const size = family === "inet" ? 4 : 16;
    const format = family === "inet" ? formatIPv4 : formatIPv6;
    const ports = V2_FIXED + 2 * size;
    source = {
      transport,
      hostname: format(bytes, V2_FIXED),
      port: u16(bytes, ports),
    };
    destination = {
      transport,
      hostname: format(bytes, V2_FIXED + size),
      port: u16(bytes, ports + 2),
    };
  } else if (family === "unix") {
    const transportUnix = protocol === "dgram" ? "unixpacket" : "unix";
    source = { transport: transportUnix, path: unixPath(bytes, 16) };
    destination = { transport: transportUnix, path: unixPath(bytes, 124) };
  }
  const tlvs: ProxyTlv[] = [];
  let alpn: string | undefined;
  let authority: string | undefined;
  let uniqueId: Uint8Array | undefined;
  let checksummed = false;
  for (let at = V2_FIXED + addressLength; at < length;) {
    if (length - at < 3) {
      throw badTlv(`a TLV header at offset ${at} is cut short`);
    }
    const type = bytes[at]!;
    const size = u16(bytes, at + 1);
    const start = at + 3;
    if (start + size > length) {
      throw badTlv(
        `TLV 0x${type.toString(16)} at offset ${at} overruns the header by ${
          start + size - length
        } bytes`,
      );
    }
    const value = copyValues
      ? bytes.slice(start, start + size)
      : bytes.subarray(start, start + size);
    tlvs.push({ type, value });
    if (type === PROXY_TLV_TYPES.ALPN) alpn = decoder.decode(value);
    else if (type === PROXY_TLV_TYPES.AUTHORITY) {
      authority = decoder.decode(value);
    } else if (type === PROXY_TLV_TYPES.UNIQUE_ID) {
      if (size > MAX_UNIQUE_ID) {
        throw badTlv(
          `its unique id exceeds ${MAX_UNIQUE_ID} bytes: received ${size}`,
        );
      }
      uniqueId = value;
    } else if (type === PROXY_TLV_TYPES.CRC32C) {
      if (size !== 4) {
        throw badTlv(`its CRC32c TLV must be 4 bytes: received ${size}`);
      }
      const expected = (u16(bytes, start) * 0x10000 + u16(bytes, start + 2)) >>>
        0;
      const actual = crc32c(bytes, start);
      if (expected !== actual) {
        throw new ProxyHeaderError(
          "bad-checksum",
          `Cannot parse PROXY v2 header as its CRC32c does not match: header says 0x${
            expected.toString(16).padStart(8, "0")
          }, bytes give 0x${actual.toString(16).padStart(8, "0")}`,
        );
      }
      checksummed = true;
    }
    at = start + size;
  }
  const header: { -readonly [K in keyof ProxyHeader]: ProxyHeader[K] } = {
    version: 2,
    command: "proxy",
    family,
    protocol,
    source,
    destination,
    tlvs,
    checksummed,
    length,
  };
  if (alpn !== undefined) header.alpn = alpn;
  if (authority !== undefined) header.authority = authority;
  if (uniqueId !== undefined) header.uniqueId = uniqueId;
  return header;
}

function badTlv(detail: string): ProxyHeaderError {
  return new ProxyHeaderError(
    "bad-tlv",
    `Cannot parse PROXY v2 header as ${detail}`,
  );
}

function unixPath(bytes: Uint8Array, offset: number): string {
  const field = bytes.subarray(offset, offset + 108);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

// --- whole header in one chunk --------------------------------------------

/**
 * The header if `chunk` starts with all of it (what proxies send: the header
 * in the connection's first segment), decoded in place without copying the
 * chunk; undefined when the chunk holds only part of one or does not start
 * with a signature the mode accepts (the caller then goes the incremental
 * way). TLV values are copied: the chunk may be a reused read buffer.
 */
export function parseWholeHeader(
  chunk: Uint8Array,
  mode: ProxyProtocolMode,
  maxHeaderBytes: number,
): ProxyHeader | undefined {
  const first = chunk[0];
  if (first === V2_SIGNATURE[0] && mode !== "v1") {
    if (chunk.length < V2_FIXED) return undefined;
    for (let i = 1; i < V2_SIGNATURE.length; i++) {
      if (chunk[i] !== V2_SIGNATURE[i]) return undefined;
    }
    const total = checkV2Fixed(chunk, maxHeaderBytes);
    if (chunk.length < total) return undefined;
    return parseV2(chunk.subarray(0, total), true);
  }
  if (first === V1_PREFIX[0] && mode !== "v2") {
    if (chunk.length < V1_PREFIX.length) return undefined;
    for (let i = 1; i < V1_PREFIX.length; i++) {
      if (chunk[i] !== V1_PREFIX[i]) return undefined;
    }
    const lf = chunk.subarray(0, PROXY_V1_MAX_LENGTH).indexOf(0x0a);
    if (lf < 0) return undefined;
    return parseV1(chunk.subarray(0, lf + 1));
  }
  return undefined;
}

/** Whether a stream starting with `byte` may start a header of `mode`. */
export function maySignature(byte: number, mode: ProxyProtocolMode): boolean {
  return (byte === V2_SIGNATURE[0] && mode !== "v1") ||
    (byte === V1_PREFIX[0] && mode !== "v2");
}

/** Checks the fixed v2 part; returns the header's total length. */
export function checkV2Fixed(
  bytes: Uint8Array,
  maxHeaderBytes: number,
): number {
  const version = bytes[12]! >> 4;
  if (version !== 2) {
    throw new ProxyHeaderError(
      "bad-version",
      `Cannot parse PROXY v2 header as its version must be 2: received ${version}`,
    );
  }
  const total = V2_FIXED + ((bytes[14]! << 8) | bytes[15]!);
  if (total > maxHeaderBytes) {
    throw new ProxyHeaderError(
      "too-long",
      `Cannot parse PROXY v2 header as it exceeds 'maxHeaderBytes' (${maxHeaderBytes}): received length ${total}`,
    );
  }
  return total;
}
