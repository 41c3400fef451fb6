// A connection's address as a fixed-size record in shared memory, so that
// any thread can read another Worker's connection addresses at once:
// family (4 or 6; 0 = not recorded), port, 16 address bytes. A hostname
// that would not read back as the same text is not recorded (family 0):
// the reader then falls back to the arrival message, never to a wrong
// address.

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../proxy/_ip.ts";

/** Bytes of one address record. */
export const ADDRESS_BYTES = 20;

const FAMILY = 0;
const PORT = 2;
const ADDRESS = 4;

/** Writes `addr` at `offset`; `false` (family 0) if it cannot be recorded. */
export function writeAddress(
  bytes: Uint8Array,
  offset: number,
  addr: Deno.Addr | undefined,
): boolean {
  bytes[offset + FAMILY] = 0;
  if (addr === undefined || addr.transport !== "tcp") return false;
  const { hostname, port } = addr;
  const v4 = parseIPv4(hostname);
  const ip = v4 ?? parseIPv6(hostname);
  if (ip === undefined) return false;
  const family = v4 !== undefined ? 4 : 6;
  if ((family === 4 ? formatIPv4(ip) : formatIPv6(ip)) !== hostname) {
    return false;
  }
  bytes[offset + PORT] = port & 0xff;
  bytes[offset + PORT + 1] = port >>> 8;
  bytes.set(ip, offset + ADDRESS);
  bytes[offset + FAMILY] = family;
  return true;
}

/** The address recorded at `offset`, or undefined if none was. */
export function readAddress(
  bytes: Uint8Array,
  offset: number,
): Deno.NetAddr | undefined {
  const family = bytes[offset + FAMILY];
  if (family !== 4 && family !== 6) return undefined;
  return {
    transport: "tcp",
    hostname: family === 4
      ? formatIPv4(bytes, offset + ADDRESS)
      : formatIPv6(bytes, offset + ADDRESS),
    port: bytes[offset + PORT]! | (bytes[offset + PORT + 1]! << 8),
  };
}
