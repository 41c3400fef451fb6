// Growth of the byte buffers the example protocols accumulate into (the HTTP
// and RESP request parsers, the RESP reply writer).

/**
 * `buf` when `need` bytes fit in it; else a new buffer of at least `need`
 * bytes and twice the old size (1 KiB at least, so appends cost amortized
 * O(1)) holding a copy of `buf[0..len)`.
 */
export function withCapacity(
  buf: Uint8Array<ArrayBuffer>,
  len: number,
  need: number,
): Uint8Array<ArrayBuffer> {
  if (need <= buf.length) return buf;
  const grown = new Uint8Array(Math.max(need, buf.length * 2, 1024));
  grown.set(buf.subarray(0, len));
  return grown;
}
