// Wire constants of the PROXY protocol shared by the parser and the encoder.

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);

/** The v1 prefix, `PROXY `. */
export const V1_PREFIX: Uint8Array = new Uint8Array([
  0x50,
  0x52,
  0x4f,
  0x58,
  0x59,
  0x20,
]);

/** Longest v1 header, CRLF included (spec section 2.1). */
export const PROXY_V1_MAX_LENGTH = 107;

/** Fixed part of a v2 header: signature, version/command, family, length. */
export const V2_FIXED = 16;

/** Longest unique id TLV value (spec section 2.2.5). */
export const MAX_UNIQUE_ID = 128;

/** Largest v2 header a parser accepts unless told otherwise. */
export const DEFAULT_MAX_HEADER_BYTES = 4096;
