// Cost of parsing one PROXY header, whole or split (deno bench).
import { encodeProxyHeader, ProxyHeaderParser } from "./mod.ts";
import { destination, source } from "./testdata/addresses.ts";

const v1 = encodeProxyHeader({ version: 1, source, destination });
const v2 = encodeProxyHeader({ version: 2, source, destination });
const v2Tlvs = encodeProxyHeader({
  version: 2,
  source,
  destination,
  tlvs: [
    { type: 0x01, value: new TextEncoder().encode("h2") },
    { type: 0x05, value: new Uint8Array(16) },
  ],
  checksum: true,
});

function parse(bytes: Uint8Array, cut?: number): void {
  const parser = new ProxyHeaderParser();
  const result = cut === undefined
    ? parser.push(bytes)
    : (parser.push(bytes.subarray(0, cut)), parser.push(bytes.subarray(cut)));
  if (result.status !== "done") throw new Error("Header did not parse");
}

Deno.bench("v1 TCP4, one chunk", { group: "proxy header" }, () => parse(v1));
Deno.bench(
  "v2 TCP4, one chunk",
  { group: "proxy header", baseline: true },
  () => parse(v2),
);
Deno.bench(
  "v2 TCP4 + ALPN, unique id, CRC32c",
  { group: "proxy header" },
  () => parse(v2Tlvs),
);
Deno.bench(
  "v2 TCP4, split in two",
  { group: "proxy header" },
  () => parse(v2, 7),
);
Deno.bench(
  "v1 TCP4, split in two",
  { group: "proxy header" },
  () => parse(v1, 7),
);
