// Properties of http_hello's request parser (http.ts), heads and
// chunked bodies: requests do not depend on how the stream is cut into reads,
// and no input throws or makes it hold more than its head limits allow.

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { type HttpLimits, HttpRequestParser } from "./http.ts";
import {
  assertProperty,
  concat,
  cutPoints,
  protocolBytes,
  splitAt,
} from "../../tests/_property.ts";

const enc = new TextEncoder();

interface Outcome {
  requests: string[];
  error: string | undefined;
}

function parse(
  chunks: readonly Uint8Array[],
  limits: HttpLimits = {},
): Outcome {
  const parser = new HttpRequestParser(limits);
  const line = limits.maxRequestLine ?? 8192;
  const head = limits.maxHeaderBytes ?? 16384;
  // Held bytes: an unfinished head (request line, header section, CRLFs), a
  // chunk-size line (1 KiB), a trailer section, or a chunk's CRLF.
  const bound = Math.max(line + head + 4, 1024 + 1, head + 1);
  const requests: string[] = [];
  let error: string | undefined;
  for (const chunk of chunks) {
    const e = parser.push(chunk, (r) => {
      requests.push(JSON.stringify(r));
    });
    if (e) {
      const text = `${e.status} ${e.message}`;
      if (error !== undefined) assertEquals(text, error, "sticky error");
      error = text;
      assertEquals(parser.bufferedBytes, 0, "nothing held after an error");
    }
    assert(
      parser.bufferedBytes <= bound,
      `held ${parser.bufferedBytes} > ${bound}`,
    );
  }
  return { requests, error };
}

const tchar = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/);
const visible = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);
const header = fc.tuple(
  tchar.filter((n) =>
    !["host", "content-length", "transfer-encoding", "connection"].includes(
      n.toLowerCase(),
    )
  ),
  fc.option(visible, { nil: "" }),
  fc.constantFrom("", " ", "  ", "\t"),
);
const chunk = fc.tuple(
  fc.uint8Array({ minLength: 1, maxLength: 40 }),
  fc.boolean(), // upper-case hex
  fc.boolean(), // an extension
  fc.nat({ max: 2 }), // leading zeros
);
const body = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({
    kind: fc.constant("length" as const),
    bytes: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant("chunked" as const),
    chunks: fc.array(chunk, { maxLength: 5 }),
    trailers: fc.array(fc.tuple(tchar, visible), { maxLength: 2 }),
  }),
);
const request = fc.record({
  leadingEmptyLines: fc.nat({ max: 2 }),
  method: fc.oneof(fc.constantFrom("GET", "POST", "PUT"), tchar),
  target: fc.stringMatching(/^\/[!-~]{0,30}$/),
  version: fc.constantFrom("HTTP/1.1", "HTTP/1.0"),
  headers: fc.array(header, { maxLength: 5 }),
  body,
}).map((r) => {
  const lines = [`${r.method} ${r.target} ${r.version}`];
  const headers: [string, string][] = [];
  const add = (name: string, value: string, ws = " ") => {
    lines.push(`${name}:${ws}${value}${ws === "\t" ? "" : ws}`);
    headers.push([name.toLowerCase(), value]);
  };
  if (r.version === "HTTP/1.1") add("Host", "example.test");
  else add("Connection", "keep-alive");
  for (const [name, value, ws] of r.headers) add(name, value, ws);
  let bodyLength = 0;
  let bodyBytes: Uint8Array = new Uint8Array(0);
  if (r.body.kind === "length") {
    add("Content-Length", String(r.body.bytes.length));
    bodyLength = r.body.bytes.length;
    bodyBytes = r.body.bytes;
  } else if (r.body.kind === "chunked" && r.version === "HTTP/1.1") {
    add("Transfer-Encoding", "chunked");
    const parts: Uint8Array[] = [];
    for (const [data, upper, ext, zeros] of r.body.chunks) {
      let size = data.length.toString(16);
      if (upper) size = size.toUpperCase();
      size = "0".repeat(zeros) + size + (ext ? ";name=value" : "");
      parts.push(enc.encode(`${size}\r\n`), data, enc.encode("\r\n"));
      bodyLength += data.length;
    }
    parts.push(enc.encode("0\r\n"));
    for (const [name, value] of r.body.trailers) {
      parts.push(enc.encode(`${name}: ${value}\r\n`));
    }
    parts.push(enc.encode("\r\n"));
    bodyBytes = concat(parts);
  }
  const expected = JSON.stringify({
    method: r.method,
    target: r.target,
    version: r.version,
    headers,
    keepAlive: true,
    bodyLength,
  });
  return {
    bytes: concat([
      enc.encode("\r\n".repeat(r.leadingEmptyLines)),
      enc.encode(lines.join("\r\n") + "\r\n\r\n"),
      bodyBytes,
    ]),
    expected,
  };
});

Deno.test("HttpRequestParser: any split of a valid stream yields the same requests", async () => {
  await assertProperty(
    fc.property(
      fc.array(request, { maxLength: 6 }),
      cutPoints,
      (requests, cuts) => {
        const bytes = concat(requests.map((r) => r.bytes));
        const whole = parse([bytes]);
        assertEquals(whole, {
          requests: requests.map((r) => r.expected),
          error: undefined,
        });
        assertEquals(parse(splitAt(bytes, cuts)), whole);
      },
    ),
    { numRuns: 200 },
  );
});

// Bytes that often look like HTTP, so the parser gets deep before failing.
const anyBytes = protocolBytes([
  ["GET / HTTP/1.1\r\n", "Host: x\r\n", "\r\n", "\r", "\n"],
  ["Transfer-Encoding: chunked\r\n", "Content-Length: 3\r\n"],
  ["5\r\n", "0\r\n", "ffffffff\r\n", ";", " ", ":", "HTTP/"],
], { maxParts: 40, maxText: 6, maxBytes: 400 });

Deno.test("HttpRequestParser: arbitrary bytes never throw and stay under the head limits", async () => {
  await assertProperty(
    fc.property(
      anyBytes,
      cutPoints,
      fc.record({
        maxRequestLine: fc.integer({ min: 1, max: 64 }),
        maxHeaderBytes: fc.integer({ min: 1, max: 128 }),
        maxHeaders: fc.integer({ min: 1, max: 4 }),
        maxBodyBytes: fc.integer({ min: 0, max: 64 }),
      }),
      (bytes, cuts, limits) => {
        const outcome = parse(splitAt(bytes, cuts), limits);
        if (outcome.error !== undefined) {
          assert(/^(400|413|414|431|501|505) /.test(outcome.error));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("HttpRequestParser: with roomy limits, arbitrary bytes give the same requests and error for any split", async () => {
  await assertProperty(
    fc.property(anyBytes, cutPoints, (bytes, cuts) => {
      const whole = parse([bytes]);
      const split = parse(splitAt(bytes, cuts));
      assertEquals(split.requests, whole.requests);
      assertEquals(split.error, whole.error);
    }),
    { numRuns: 300 },
  );
});
