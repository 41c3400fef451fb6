// The header bytes a ProxyHeaderParser holds, for readProxyHeader to put
// back on a cancelled read in mode "optional", without making them part of
// the parser's public API: the parser class hands this module a reader of
// its private buffer when it is defined (a "friend" accessor).

import type { ProxyHeaderParser } from "./proxy_header_parser.ts";

let reader: ((parser: ProxyHeaderParser) => Uint8Array) | undefined;

/** Called once, by the parser class. */
export function registerHeldReader(
  read: (parser: ProxyHeaderParser) => Uint8Array,
): void {
  reader = read;
}

/**
 * A view of every byte pushed into `parser` while it answered
 * `"need-more"`: until a result, it holds them all. Valid until its next
 * `push()`.
 */
export function heldBytes(parser: ProxyHeaderParser): Uint8Array {
  return reader!(parser);
}
