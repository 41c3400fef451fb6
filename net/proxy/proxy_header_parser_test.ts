import { assert, assertEquals, assertThrows } from "@std/assert";
import fc from "fast-check";
import {
  encodeProxyHeader,
  parseProxyHeader,
  type ProxyAddress,
  type ProxyHeader,
  ProxyHeaderError,
  type ProxyHeaderInit,
  ProxyHeaderParser,
  type ProxyParseResult,
  type ProxyProtocolMode,
} from "./mod.ts";
import { crc32c } from "./_crc32c.ts";
import {
  assertProperty,
  concat,
  cutPoints,
  splitAt,
} from "../../tests/_property.ts";

const encoder = new TextEncoder();
const text = (s: string) => encoder.encode(s);
const tcp = (hostname: string, port: number): ProxyAddress => ({
  transport: "tcp",
  hostname,
  port,
});

function codeOf(fn: () => unknown): string {
  const error = assertThrows(fn, ProxyHeaderError);
  return error.code;
}

Deno.test("parseProxyHeader() reads v1 TCP4, TCP6 and UNKNOWN lines", () => {
  const v4 = parseProxyHeader(
    text("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"),
  );
  assertEquals(v4.version, 1);
  assertEquals(v4.family, "inet");
  assertEquals(v4.source, tcp("192.168.0.1", 56324));
  assertEquals(v4.destination, tcp("192.168.0.11", 443));
  assertEquals(v4.length, 47);

  const v6 = parseProxyHeader(
    text("PROXY TCP6 2001:DB8:0:0:0:0:0:7 ::1 65535 0\r\n"),
  );
  assertEquals(v6.family, "inet6");
  assertEquals(v6.source, tcp("2001:db8::7", 65535)); // canonical form
  assertEquals(v6.destination, tcp("::1", 0));

  const unknown = parseProxyHeader(text("PROXY UNKNOWN ffff:f...f 1 2\r\n"));
  assertEquals(unknown.family, "unspec");
  assertEquals(unknown.source, null);
  assertEquals(unknown.destination, null);
});

Deno.test("parseProxyHeader() rejects malformed v1 lines with a code", () => {
  const cases: [string, string][] = [
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "bad-address"], // no CR
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "bad-address"],
    ["PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "bad-address"],
    ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "bad-address"],
    ["PROXY TCP4 ::1 ::1 1 2\r\n", "bad-address"],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "bad-address"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad-address"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "bad-address"],
    ["PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "bad-address"],
    ["PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad-family"],
    ["PROXY \r\n", "bad-family"],
    ["PROXI TCP4", "bad-signature"],
    ["GET / HTTP/1.1\r\n", "bad-signature"],
    ["PROXY TCP4 1.2.3.4", "truncated"],
  ];
  for (const [line, code] of cases) {
    assertEquals(codeOf(() => parseProxyHeader(text(line))), code, line);
  }
});

Deno.test("ProxyHeaderParser stops a v1 line at 107 bytes", () => {
  const parser = new ProxyHeaderParser({ mode: "v1" });
  const long = "PROXY UNKNOWN " + "x".repeat(200);
  assertEquals(codeOf(() => parser.push(text(long))), "too-long");
  // Exactly 107 bytes with CRLF is fine.
  const max = "PROXY UNKNOWN " + "x".repeat(107 - 16) + "\r\n";
  assertEquals(max.length, 107);
  assertEquals(parseProxyHeader(text(max)).length, 107);
  assertEquals(
    codeOf(() =>
      parseProxyHeader(text("PROXY UNKNOWN " + "x".repeat(92) + "\r\n"))
    ),
    "too-long",
  );
});

Deno.test("parseProxyHeader() reads v2 addresses of every family", () => {
  const inputs: ProxyHeaderInit[] = [
    { version: 2, source: tcp("10.0.0.1", 1), destination: tcp("10.0.0.2", 2) },
    {
      version: 2,
      source: { transport: "udp", hostname: "2001:db8::1", port: 53 },
      destination: { transport: "udp", hostname: "::ffff:1.2.3.4", port: 5353 },
    },
    {
      version: 2,
      source: { transport: "unix", path: "/run/a.sock" },
      destination: { transport: "unix", path: "/run/b.sock" },
    },
    { version: 2, source: null, destination: null },
  ];
  const families = ["inet", "inet6", "unix", "unspec"];
  inputs.forEach((init, i) => {
    const bytes = encodeProxyHeader(init);
    const header = parseProxyHeader(bytes, { mode: "v2" });
    assertEquals(header.family, families[i]);
    assertEquals(header.command, "proxy");
    assertEquals(header.source, init.source);
    assertEquals(header.destination, init.destination);
    assertEquals(header.length, bytes.length);
  });
});

Deno.test("parseProxyHeader() skips a v2 LOCAL header's address block", () => {
  const bytes = encodeProxyHeader({
    version: 2,
    source: tcp("10.0.0.1", 1),
    destination: tcp("10.0.0.2", 2),
  });
  bytes[12] = 0x20; // LOCAL, with an address block the receiver must ignore
  bytes[13] = 0x77; // and a family byte that means nothing
  const header = parseProxyHeader(bytes);
  assertEquals(header.command, "local");
  assertEquals(header.source, null);
  assertEquals(header.length, bytes.length);
});

Deno.test("parseProxyHeader() decodes v2 TLVs and verifies CRC32c", () => {
  const bytes = encodeProxyHeader({
    version: 2,
    source: tcp("192.0.2.7", 51234),
    destination: tcp("198.51.100.1", 443),
    tlvs: [
      { type: 0x01, value: text("h2") },
      { type: 0x02, value: text("example.com") },
      { type: 0x05, value: new Uint8Array([1, 2, 3]) },
      { type: 0xe0, value: new Uint8Array([9]) },
    ],
    checksum: true,
  });
  const header = parseProxyHeader(bytes);
  assertEquals(header.alpn, "h2");
  assertEquals(header.authority, "example.com");
  assertEquals(header.uniqueId, new Uint8Array([1, 2, 3]));
  assertEquals(header.tlvs.map((t) => t.type), [1, 2, 5, 0xe0, 3]);
  assert(header.checksummed);

  const corrupted = bytes.slice();
  corrupted[20]! ^= 1; // a destination address byte
  assertEquals(codeOf(() => parseProxyHeader(corrupted)), "bad-checksum");
});

Deno.test("crc32c() matches the Castagnoli check value", () => {
  assertEquals(crc32c(text("123456789")), 0xe3069283);
});

Deno.test("parseProxyHeader() rejects malformed v2 headers with a code", () => {
  const good = () =>
    encodeProxyHeader({
      version: 2,
      source: tcp("10.0.0.1", 1),
      destination: tcp("10.0.0.2", 2),
      tlvs: [{ type: 0x04, value: new Uint8Array(2) }],
    });
  const badVersion = good();
  badVersion[12] = 0x31;
  assertEquals(codeOf(() => parseProxyHeader(badVersion)), "bad-version");
  const badCommand = good();
  badCommand[12] = 0x22;
  assertEquals(codeOf(() => parseProxyHeader(badCommand)), "bad-command");
  for (const family of [0x41, 0x13, 0x10, 0x01]) {
    const bytes = good();
    bytes[13] = family;
    assertEquals(
      codeOf(() => parseProxyHeader(bytes)),
      "bad-family",
      `0x${family.toString(16)}`,
    );
  }
  const shortAddress = good();
  shortAddress[13] = 0x21; // inet6 needs 36 bytes, the block has 12 + 5
  assertEquals(codeOf(() => parseProxyHeader(shortAddress)), "bad-address");
  const overrun = good();
  overrun[16 + 12 + 2] = 9; // TLV length 9, 2 bytes left
  assertEquals(codeOf(() => parseProxyHeader(overrun)), "bad-tlv");
  const cutTlv = good().slice(0, 16 + 12 + 2);
  cutTlv[15] = 12 + 2; // header ends 2 bytes into a TLV header
  assertEquals(codeOf(() => parseProxyHeader(cutTlv)), "bad-tlv");
  const longId = encodeProxyHeader({
    version: 2,
    source: tcp("10.0.0.1", 1),
    destination: tcp("10.0.0.2", 2),
    tlvs: [{ type: 0x05, value: new Uint8Array(129) }],
  });
  assertEquals(codeOf(() => parseProxyHeader(longId)), "bad-tlv");
  const badSignature = good();
  badSignature[5] = 0;
  assertEquals(codeOf(() => parseProxyHeader(badSignature)), "bad-signature");
  assertEquals(
    codeOf(() => parseProxyHeader(good().subarray(0, 20))),
    "truncated",
  );
});

Deno.test("ProxyHeaderParser bounds a v2 header by maxHeaderBytes", () => {
  const bytes = encodeProxyHeader({
    version: 2,
    source: tcp("10.0.0.1", 1),
    destination: tcp("10.0.0.2", 2),
    tlvs: [{ type: 0x04, value: new Uint8Array(5000) }],
  });
  const parser = new ProxyHeaderParser();
  // Refused on the fixed 16 bytes, before the body is buffered.
  assertEquals(codeOf(() => parser.push(bytes.subarray(0, 16))), "too-long");
  assertEquals(parseProxyHeader(bytes, { maxHeaderBytes: 65551 }).length, 5031);
});

Deno.test("ProxyHeaderParser enforces its mode", () => {
  const v1 = text("PROXY UNKNOWN\r\n");
  const v2 = encodeProxyHeader({ version: 2, source: null, destination: null });
  assertEquals(
    codeOf(() => parseProxyHeader(v1, { mode: "v2" })),
    "bad-signature",
  );
  assertEquals(
    codeOf(() => parseProxyHeader(v2, { mode: "v1" })),
    "bad-signature",
  );
  assertEquals(parseProxyHeader(v1, { mode: "any" }).version, 1);
  assertEquals(parseProxyHeader(v2, { mode: "any" }).version, 2);
});

Deno.test("ProxyHeaderParser in mode optional hands back what is not a header", () => {
  const parser = new ProxyHeaderParser({ mode: "optional" });
  assertEquals(parser.push(text("\r\n\r")).status, "need-more");
  const result = parser.push(text("\r\nGET"));
  assertEquals(result, { status: "absent", held: text("\r\n\r") });
  assert(parser.finished);

  const ended = new ProxyHeaderParser({ mode: "optional" });
  ended.push(text("PROX"));
  assertEquals(ended.end(), { status: "absent", held: text("PROX") });

  // Once the whole signature matched, a broken header is an error.
  const broken = new ProxyHeaderParser({ mode: "optional" });
  assertEquals(
    codeOf(() => broken.push(text("PROXY TCP9 x\r\n"))),
    "bad-family",
  );
});

Deno.test("ProxyHeaderParser reports consumed bytes and refuses use after finishing", () => {
  const parser = new ProxyHeaderParser();
  const bytes = encodeProxyHeader({
    version: 2,
    source: null,
    destination: null,
  });
  const chunk = new Uint8Array([...bytes, 7, 8, 9]);
  const result = parser.push(chunk);
  assertEquals(result.status, "done");
  assertEquals(result.status === "done" && result.consumed, bytes.length);
  assertThrows(() => parser.push(text("x")), TypeError, "already finished");
  assertThrows(() => parser.end(), TypeError, "already finished");
});

Deno.test("ProxyHeaderParser validates its options and input", () => {
  assertThrows(
    () => new ProxyHeaderParser({ mode: "v3" as ProxyProtocolMode }),
    RangeError,
    `'mode' must be 'v1', 'v2', 'any' or 'optional': received 'v3'`,
  );
  assertThrows(
    () => new ProxyHeaderParser({ maxHeaderBytes: 15 }),
    RangeError,
    "'maxHeaderBytes' must be an integer from 16 to 65551: received 15",
  );
  assertThrows(
    () => new ProxyHeaderParser().push("PROXY" as unknown as Uint8Array),
    TypeError,
    "'chunk' must be a Uint8Array: received 'PROXY'",
  );
});

Deno.test("encodeProxyHeader() refuses what it cannot encode", () => {
  assertThrows(
    () =>
      encodeProxyHeader({
        version: 1,
        source: tcp("1.2.3.4", 1),
        destination: tcp("::1", 2),
      }),
    TypeError,
    "must both be IPv4 or both IPv6 literals",
  );
  assertThrows(
    () =>
      encodeProxyHeader({
        version: 1,
        source: tcp("1.2.3.4", 70000),
        destination: tcp("1.2.3.4", 2),
      }),
    RangeError,
  );
  assertThrows(
    () =>
      encodeProxyHeader({
        version: 2,
        source: tcp("1.2.3.4", 1),
        destination: null,
      }),
    TypeError,
  );
});

// --- properties ------------------------------------------------------------

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });

const validInit: fc.Arbitrary<ProxyHeaderInit> = fc.oneof(
  fc.record({
    version: fc.constantFrom(1 as const, 2 as const),
    source: fc.tuple(ipv4, port).map(([h, p]) => tcp(h, p)),
    destination: fc.tuple(ipv4, port).map(([h, p]) => tcp(h, p)),
  }),
  fc.record({
    version: fc.constantFrom(1 as const, 2 as const),
    source: fc.tuple(ipv6, port).map(([h, p]) => tcp(h, p)),
    destination: fc.tuple(ipv6, port).map(([h, p]) => tcp(h, p)),
  }),
  fc.record({
    version: fc.constant(2 as const),
    command: fc.constantFrom("proxy" as const, "local" as const),
    source: fc.constant(null),
    destination: fc.constant(null),
  }),
  fc.record({
    version: fc.constant(2 as const),
    source: fc.tuple(ipv4, port).map(([h, p]) => tcp(h, p)),
    destination: fc.tuple(ipv4, port).map(([h, p]) => tcp(h, p)),
    tlvs: fc.array(
      fc.record({
        type: fc.constantFrom(0x01, 0x02, 0x04, 0x05, 0x20, 0xe0),
        value: fc.uint8Array({ maxLength: 64 }),
      }),
      { maxLength: 5 },
    ),
    checksum: fc.boolean(),
  }),
);

/** Feeds `bytes` split at `cuts`; returns the header and payload offset. */
function feedSplit(
  bytes: Uint8Array,
  cuts: readonly number[],
  mode: ProxyProtocolMode,
): { header: ProxyHeader; payloadStart: number } {
  const parser = new ProxyHeaderParser({ mode });
  let from = 0;
  for (const chunk of splitAt(bytes, cuts)) {
    // A copy: the parser must not keep views of a caller's buffer.
    const result: ProxyParseResult = parser.push(chunk.slice());
    if (result.status === "done") {
      return { header: result.header, payloadStart: from + result.consumed };
    }
    assertEquals(result.status, "need-more");
    from += chunk.length;
  }
  throw new Error("Header did not complete");
}

Deno.test("property: any split of a valid header parses the same", async () => {
  await assertProperty(
    fc.property(
      validInit,
      cutPoints,
      fc.uint8Array({ maxLength: 16 }),
      fc.constantFrom<ProxyProtocolMode>("any", "optional"),
      (init, cuts, payload, mode) => {
        const header = encodeProxyHeader(init);
        const bytes = concat([header, payload]);
        const whole = parseProxyHeader(bytes);
        const split = feedSplit(bytes, cuts, mode);
        assertEquals(split.header, whole);
        assertEquals(split.payloadStart, header.length);
        assertEquals(whole.length, header.length);
        assertEquals(
          whole.tlvs.length,
          init.command === "local" || init.version === 1
            ? 0
            : (init.tlvs?.length ?? 0) + (init.checksum ? 1 : 0),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: encoded addresses round-trip through the parser", async () => {
  await assertProperty(
    fc.property(validInit, (init) => {
      const header = parseProxyHeader(encodeProxyHeader(init));
      if (init.command === "local" || init.source === null) {
        assertEquals(header.source, null);
        return;
      }
      assertEquals(
        (header.source as Deno.NetAddr).port,
        (init.source as Deno.NetAddr).port,
      );
      // Same address, whatever textual form the generator picked.
      assertEquals(
        encodeProxyHeader({
          ...init,
          source: header.source,
          destination: header.destination,
        }),
        encodeProxyHeader(init),
      );
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: arbitrary bytes only ever throw ProxyHeaderError", async () => {
  const v2 = encodeProxyHeader({ version: 2, source: null, destination: null });
  const prefixes = fc.constantFrom(
    new Uint8Array(0),
    text("PROXY "),
    text("PROXY TCP4 "),
    v2.subarray(0, 12),
    v2.subarray(0, 14),
  );
  await assertProperty(
    fc.property(
      prefixes,
      fc.uint8Array({ maxLength: 300 }),
      cutPoints,
      fc.constantFrom<ProxyProtocolMode>("v1", "v2", "any", "optional"),
      (prefix, tail, cuts, mode) => {
        const parser = new ProxyHeaderParser({ mode });
        try {
          for (const chunk of splitAt(concat([prefix, tail]), cuts)) {
            if (parser.push(chunk).status !== "need-more") return;
          }
          parser.end();
        } catch (error) {
          if (!(error instanceof ProxyHeaderError)) throw error;
          assert(error.message.startsWith("Cannot "), error.message);
          assert(error.message.length < 300, error.message);
        }
        // Bounded: the parser never holds more than a header's worth.
        assert(parser.bufferedBytes <= 4096);
      },
    ),
    { numRuns: 2000 },
  );
});
