// The incremental request parser and response builder of
// examples/http_hello (http.ts), unit.
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  errorResponse,
  HelloResponses,
  type HttpLimits,
  type HttpParseError,
  type HttpRequest,
  HttpRequestParser,
} from "./http.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds `chunks` to a fresh parser; returns the requests and the error. */
function parse(
  chunks: (string | Uint8Array)[],
  limits?: HttpLimits,
): {
  requests: HttpRequest[];
  error: HttpParseError | undefined;
  parser: HttpRequestParser;
} {
  const parser = new HttpRequestParser(limits);
  const requests: HttpRequest[] = [];
  let error: HttpParseError | undefined;
  for (const c of chunks) {
    // A reused buffer, as the server's pooled read buffer is.
    const bytes = typeof c === "string" ? enc.encode(c) : c;
    const scratch = new Uint8Array(bytes);
    error = parser.push(scratch, (r) => {
      requests.push(r);
    });
    scratch.fill(0);
    if (error) break;
  }
  return { requests, error, parser };
}

function bytewise(s: string): Uint8Array[] {
  return [...enc.encode(s)].map((b) => Uint8Array.of(b));
}

const GET = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: example\r\n${extra}\r\n`;

Deno.test("HttpRequestParser parses a request head", () => {
  const { requests, error } = parse([
    "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent:  curl \r\nAccept: */*\r\n\r\n",
  ]);
  assertEquals(error, undefined);
  assertEquals(requests.length, 1);
  const r = requests[0]!;
  assertEquals(r.method, "GET");
  assertEquals(r.target, "/a?b=1");
  assertEquals(r.version, "HTTP/1.1");
  assertEquals(r.headers, [["host", "x"], ["user-agent", "curl"], [
    "accept",
    "*/*",
  ]]);
  assertEquals(r.keepAlive, true);
});

Deno.test("HttpRequestParser answers pipelined requests in order", () => {
  const wire = GET("/1") + GET("/2") + GET("/3");
  for (
    const chunks of [[wire], bytewise(wire), [
      wire.slice(0, 20),
      wire.slice(20, 41),
      wire.slice(41),
    ]]
  ) {
    const { requests, error, parser } = parse(chunks);
    assertEquals(error, undefined);
    assertEquals(requests.map((r) => r.target), ["/1", "/2", "/3"]);
    assertEquals(parser.bufferedBytes, 0);
  }
});

Deno.test("HttpRequestParser skips a content-length body across reads", () => {
  const wire =
    "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world" +
    GET("/next");
  for (const chunks of [[wire], bytewise(wire)]) {
    const { requests, error } = parse(chunks);
    assertEquals(error, undefined);
    assertEquals(requests.map((r) => [r.target, r.bodyLength]), [["/up", 11], [
      "/next",
      0,
    ]]);
  }
});

Deno.test("HttpRequestParser skips a chunked body with trailers", () => {
  const wire =
    "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n" +
    GET("/after");
  for (const chunks of [[wire], bytewise(wire)]) {
    const { requests, error } = parse(chunks);
    assertEquals(error, undefined);
    assertEquals(requests.map((r) => [r.target, r.bodyLength]), [["/c", 15], [
      "/after",
      0,
    ]]);
  }
});

Deno.test("HttpRequestParser keep-alive rules and Connection: close", () => {
  let { requests } = parse(["GET / HTTP/1.0\r\n\r\n"]);
  assertEquals(requests[0]!.keepAlive, false);
  ({ requests } = parse(["GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"]));
  assertEquals(requests[0]!.keepAlive, true);
  // Nothing after a `Connection: close` request is parsed.
  ({ requests } = parse([GET("/1", "Connection: close\r\n") + GET("/2")]));
  assertEquals(requests.map((r) => r.target), ["/1"]);
});

Deno.test("HttpRequestParser rejects malformed requests with 400", () => {
  const cases: [string, string][] = [
    ["GET/ HTTP/1.1\r\nHost: x\r\n\r\n", "malformed method"],
    ["G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "malformed method"],
    ["GET  HTTP/1.1\r\nHost: x\r\n\r\n", "malformed request target"],
    ["GET / HTTX/1.1\r\nHost: x\r\n\r\n", "malformed HTTP version"],
    ["GET / HTTP/1.1\r\n\r\n", "missing host"],
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "duplicate host"],
    ["GET / HTTP/1.1\r\nHost : x\r\n\r\n", "malformed header field name"],
    ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "obsolete line folding"],
    [
      "GET / HTTP/1.1\r\nHost: x\r\nA: b\x01c\r\n\r\n",
      "invalid character in header value",
    ],
    [
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "invalid content-length",
    ],
    [
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "conflicting content-length",
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "both transfer-encoding and content-length",
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "invalid transfer-encoding",
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "malformed chunk size",
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
      "missing CRLF after chunk data",
    ],
  ];
  for (const [wire, message] of cases) {
    for (const chunks of [[wire], bytewise(wire)]) {
      const { requests, error, parser } = parse(chunks);
      assertEquals(requests, [], wire);
      assertEquals(error, { status: 400, message }, JSON.stringify(wire));
      // A failed parser stays failed.
      assertEquals(parser.push(enc.encode(GET("/")), () => {}), error);
    }
  }
});

Deno.test("HttpRequestParser rejects an unfinished head that cannot be a request at once", () => {
  // Each a prefix of no valid request line: 400 without waiting for the rest.
  const junk: [string | Uint8Array, string][] = [
    [Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xa5), "malformed method"],
    ["GET /\u0000", "malformed request target"],
    ["GET / XT", "malformed HTTP version"],
    ["GET / HTTP/1.1x", "malformed HTTP version"],
    ["GET / HTTP/1\r\nHost: a\r\n", "malformed HTTP version"],
    ["GET /\r\nHost: a\r\n", "malformed request target"],
  ];
  for (const [wire, message] of junk) {
    assertEquals(parse([wire]).error, { status: 400, message }, String(wire));
  }
  // Valid prefixes, however split, wait for more.
  const ok = "GET /a HTTP/1.1\r\nHost: a\r\n";
  for (let i = 0; i <= ok.length; i++) {
    const { error, parser } = parse([ok.slice(0, i)]);
    assertEquals(error, undefined, ok.slice(0, i));
    assertEquals(parser.headPending, i > 0);
  }
  assertEquals(parse(bytewise(ok)).error, undefined);
});

Deno.test("HttpRequestParser enforces its limits (414, 431, 413, 501, 505)", () => {
  const limits = {
    maxRequestLine: 64,
    maxHeaderBytes: 128,
    maxHeaders: 4,
    maxBodyBytes: 10,
  };
  const long = `GET /${"a".repeat(80)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  assertEquals(parse([long], limits).error?.status, 414);
  // Incomplete: rejected as soon as the limit is crossed, not buffered forever.
  assertEquals(parse([long.slice(0, 70)], limits).error?.status, 414);
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(200)}\r\n\r\n`;
  assertEquals(parse([big], limits).error?.status, 431);
  const endless = `GET / HTTP/1.1\r\nHost: x\r\n` + "X: y\r\n".repeat(40);
  const r = parse(bytewise(endless), limits);
  assertEquals(r.error?.status, 431);
  assert(r.parser.bufferedBytes === 0);
  const many =
    `GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n`;
  assertEquals(parse([many], limits).error, {
    status: 431,
    message: "too many header fields",
  });
  assertEquals(
    parse(["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"], limits)
      .error?.status,
    413,
  );
  assertEquals(
    parse([
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n",
    ], limits)
      .error?.status,
    413,
  );
  assertEquals(
    parse(
      ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"],
      limits,
    ).error
      ?.status,
    501,
  );
  assertEquals(
    parse(["GET / HTTP/2.0\r\nHost: x\r\n\r\n"], limits).error?.status,
    505,
  );
});

Deno.test("HelloResponses builds keep-alive, close, HTTP/1.0 and HEAD responses", () => {
  let now = Date.UTC(2026, 0, 2, 3, 4, 5);
  const res = new HelloResponses("Hello, World!", () => now);
  const req = (o: Partial<HttpRequest>): HttpRequest => ({
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    headers: [],
    keepAlive: true,
    bodyLength: 0,
    ...o,
  });
  const ka = dec.decode(res.for(req({})));
  assertEquals(
    ka,
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 13\r\n" +
      "date: Fri, 02 Jan 2026 03:04:05 GMT\r\n\r\nHello, World!",
  );
  assertMatch(
    dec.decode(res.for(req({ keepAlive: false }))),
    /\r\nconnection: close\r\n\r\nHello/,
  );
  assertMatch(
    dec.decode(res.for(req({ version: "HTTP/1.0" }))),
    /\r\nconnection: keep-alive\r\n\r\nHello/,
  );
  const head = dec.decode(res.for(req({ method: "HEAD" })));
  assert(head.endsWith("GMT\r\n\r\n"), head);
  assertMatch(head, /content-length: 13/);
  now += 1000;
  assertMatch(
    dec.decode(res.for(req({}))),
    /date: Fri, 02 Jan 2026 03:04:06 GMT/,
  );
  assertEquals(
    dec.decode(errorResponse({ status: 431, message: "too big" })),
    "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain;charset=UTF-8\r\n" +
      "content-length: 41\r\nconnection: close\r\n\r\nRequest Header Fields Too Large: too big\n",
  );
});
