// CRC-32C (Castagnoli), as PROXY protocol v2's PP2_TYPE_CRC32C uses it.

const TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32C of `bytes`, reading bytes `[skipFrom, skipFrom + 4)` as zeros (the
 * checksum field itself, per the spec).
 */
export function crc32c(bytes: Uint8Array, skipFrom = -1): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    const byte = skipFrom >= 0 && i >= skipFrom && i < skipFrom + 4
      ? 0
      : bytes[i]!;
    crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
