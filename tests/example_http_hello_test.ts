// examples/http_hello.ts: the incremental request parser and response
// builder (unit), then the server against real clients (curl, raw sockets).
import { type Example, startExample } from "./_helpers.ts";
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  errorResponse,
  HelloResponses,
  type HttpLimits,
  type HttpParseError,
  type HttpRequest,
  HttpRequestParser,
} from "../examples/_http.ts";
import { peer } from "./_peers.ts";

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

const curlPeer = peer("curl");
const wrkPeer = peer("wrk");

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

// ------------------------------------------------------------ real server

// The shared spawner: `listening on` line, stdout drained, SIGTERM on dispose.
function startHello(...extra: string[]): Promise<Example> {
  return startExample("http_hello.ts", { args: extra, permissions: ["-A"] });
}

async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return dec.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

async function exchange(port: number, wire: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(wire));
    return await readToEnd(conn);
  } finally {
    conn.close();
  }
}

Deno.test({
  name: curlPeer.name(
    "http_hello serves curl with keep-alive, pipelining and rejections",
  ),
  ignore: curlPeer.ignore,
  async fn() {
    await using server = await startHello();
    const url = `http://127.0.0.1:${server.port}/`;

    // curl reuses the connection for the second URL (keep-alive).
    const curl = await new Deno.Command("curl", {
      args: ["-sv", url, `${url}again`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(curl.success);
    assertEquals(dec.decode(curl.stdout), "Hello, World!Hello, World!");
    const log = dec.decode(curl.stderr);
    assertMatch(
      log,
      /Re-using existing connection|Reusing existing connection/,
    );
    assertMatch(log, /< HTTP\/1\.1 200 OK/);

    // Three pipelined requests in one write: three answers in order, then the
    // server closes after the `Connection: close` one.
    const piped = await exchange(
      server.port,
      GET("/1") + "HEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n" +
        GET("/3", "Connection: close\r\n"),
    );
    const statuses = [...piped.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    assertEquals(statuses, ["200", "200", "200"]);
    assertEquals(piped.split("Hello, World!").length - 1, 2); // HEAD has no body
    assert(piped.endsWith("connection: close\r\n\r\nHello, World!"), piped);

    // A request split into single bytes is still answered.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    for (const b of enc.encode(GET("/slow", "Connection: close\r\n"))) {
      await conn.write(Uint8Array.of(b));
    }
    assertMatch(
      await readToEnd(conn),
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*Hello, World!$/,
    );
    conn.close();

    // Malformed, oversized header section, oversized request line: error + close.
    assertMatch(
      await exchange(server.port, "GET / HTTP/1.1\r\nHost x\r\n\r\n"),
      /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close/,
    );
    assertMatch(
      await exchange(
        server.port,
        `GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(20000)}\r\n\r\n`,
      ),
      /^HTTP\/1\.1 431 /,
    );
    assertMatch(
      await exchange(server.port, `GET /${"a".repeat(9000)} HTTP/1.1\r\n`),
      /^HTTP\/1\.1 414 /,
    );
    // A good request before a bad one is answered first.
    const mixed = await exchange(server.port, GET("/ok") + "BAD\r\n\r\n");
    assertEquals([...mixed.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), [
      "200",
      "400",
    ]);

    // Still serving after all that.
    const after = await fetch(url);
    assertEquals(await after.text(), "Hello, World!");
  },
});

Deno.test("http_hello exits 0 on SIGTERM", async () => {
  const server = await startHello();
  server.child.kill("SIGTERM");
  assertEquals((await server.child.status).code, 0);
  await server[Symbol.asyncDispose]();
});

Deno.test("http_hello closes idle and slow-loris connections after --idle-timeout", async () => {
  await using server = await startHello("--idle-timeout", "300");
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const loris = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await loris.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n")); // never finished
  // Both end with EOF from the server (no response for the unfinished head).
  assertEquals(await readToEnd(idle), "");
  assertEquals(await readToEnd(loris), "");
  idle.close();
  loris.close();
});

Deno.test({
  name: wrkPeer.name(
    "http_hello answers wrk's pipelined load (3 requests per write) without errors",
  ),
  ignore: wrkPeer.ignore,
  async fn() {
    await using server = await startHello();
    const dir = await Deno.makeTempDir({ prefix: "millrace-wrk-" });
    try {
      const script = `${dir}/pipeline.lua`;
      await Deno.writeTextFile(
        script,
        `init = function(args)
  local r = {}
  r[1] = wrk.format("GET", "/1")
  r[2] = wrk.format("GET", "/2")
  r[3] = wrk.format("GET", "/3")
  req = table.concat(r)
end
request = function() return req end
`,
      );
      const out = await new Deno.Command("wrk", {
        args: [
          "-t1",
          "-c4",
          "-d1s",
          "-s",
          script,
          `http://127.0.0.1:${server.port}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = dec.decode(out.stdout);
      assert(out.success, text + dec.decode(out.stderr));
      const total = Number(text.match(/(\d+) requests in/)?.[1]);
      assert(total > 0, text);
      assert(!/Non-2xx|Socket errors/.test(text), text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
