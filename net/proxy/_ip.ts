// IP address text <-> bytes for the PROXY protocol: strict parsing of the
// canonical forms a proxy sends, RFC 5952 formatting, and CIDR matching.

/**
 * Reads a dotted-quad IPv4 address (no leading zeros) into `out` at `offset`
 * (when given); false if `text` is not one. Allocates nothing: typed arrays
 * cost about a microsecond each to create here.
 */
function readIPv4(text: string, out?: Uint8Array, offset = 0): boolean {
  if (text.length < 7 || text.length > 15) return false;
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a final "."
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      if (out !== undefined) out[offset + part] = value;
      part++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + c - 0x30;
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

/** Whether `text` is a dotted-quad IPv4 address (no leading zeros). */
export function isIPv4(text: string): boolean {
  return readIPv4(text);
}

/** Parses a dotted-quad IPv4 address (no leading zeros), else undefined. */
export function parseIPv4(text: string): Uint8Array | undefined {
  if (!readIPv4(text)) return undefined;
  const bytes = new Uint8Array(4);
  readIPv4(text, bytes);
  return bytes;
}

/** Parses an IPv6 address (with `::` and an optional IPv4 tail), else undefined. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups: number[] = [];
  const parseGroups = (
    part: string,
    allowV4: boolean,
  ): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const fields = part.split(":");
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (allowV4 && i === fields.length - 1 && field.includes(".")) {
        const v4 = parseIPv4(field);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(field)) return undefined;
      out.push(parseInt(field, 16));
    }
    return out;
  };
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    if (head === undefined || tail === undefined) return undefined;
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) return undefined;
    groups.push(...head);
    for (let i = head.length + tail.length; i < 8; i++) groups.push(0);
    groups.push(...tail);
  } else {
    const all = parseGroups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups.push(...all);
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i]! >> 8;
    bytes[2 * i + 1] = groups[i]! & 0xff;
  }
  return bytes;
}

/** Formats 4 bytes as dotted quad. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${
    bytes[offset + 3]
  }`;
}

/** Formats 16 bytes as RFC 5952 text (IPv4-mapped addresses as `::ffff:a.b.c.d`). */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  }
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 &&
    groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff
  ) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  }
  // The longest run of two or more zero groups (the first on a tie) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups.slice(from, to).map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** An address range: 16 bytes (IPv4 mapped into `::ffff:0:0/96`) and a prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

const V4_MAPPED_PREFIX = new Uint8Array([
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0xff,
  0xff,
]);

function toMapped(text: string): Uint8Array | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) {
    const bytes = new Uint8Array(16);
    bytes.set(V4_MAPPED_PREFIX);
    bytes.set(v4, 12);
    return bytes;
  }
  return parseIPv6(text);
}

/** Parses `addr` or `addr/prefix` (IPv4 or IPv6), else undefined. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const bytes = toMapped(address);
  if (bytes === undefined) return undefined;
  const isV4 = !address.includes(":");
  const max = isV4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const raw = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(raw)) return undefined;
    prefix = Number(raw);
    if (prefix > max) return undefined;
  }
  return { bytes, prefix: isV4 ? prefix + 96 : prefix };
}

/** Whether the address text falls in one of the ranges. */
export function matchesCidr(address: string, ranges: readonly Cidr[]): boolean {
  const bytes = toMapped(address);
  if (bytes === undefined) return false;
  for (const range of ranges) {
    let bits = range.prefix;
    let i = 0;
    for (; bits >= 8; bits -= 8, i++) {
      if (bytes[i] !== range.bytes[i]) break;
    }
    if (bits >= 8) continue;
    if (bits === 0) return true;
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) === (range.bytes[i]! & mask)) return true;
  }
  return false;
}
