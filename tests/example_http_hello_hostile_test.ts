// Hostile peers against examples/http_hello/main.ts run as a subprocess: garbage,
// oversized request lines and headers, huge declared bodies, broken chunked
// bodies, pipelined floods from peers that do or do not read. The server must
// answer with an error status or close that connection, keep serving a
// well-behaved client, stay alive, and keep its RSS bounded.
import {
  assert,
  assertEquals,
  assertLess,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import {
  answersToFlood,
  assertPacedFlood,
  closeQuietly,
  connect,
  decoder,
  encoder,
  type Example,
  readToEnd,
  repliesUntilClose,
  sleep,
  startHttpHello,
  within,
  writeAll,
} from "./_helpers.ts";

const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/** A well-behaved client: one request, one 200 response, on a new conn. */
async function wellBehaved(ex: Example): Promise<void> {
  using c = await connect(ex.port);
  await writeAll(
    c,
    encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
  );
  const { bytes } = await within(readToEnd(c), 10_000, "well-behaved reply");
  const text = decoder.decode(bytes);
  assertMatch(text, /^HTTP\/1\.1 200 OK\r\n/);
  assertStringIncludes(text, "Hello, World!");
}

function repeat(s: string, n: number): string {
  return s.repeat(n);
}

const CASES: [string, () => Uint8Array, RegExp][] = [
  [
    // No line end at all, and clearly no request line: 400 at once (before
    // the 8 KiB request-line limit would answer 414).
    "16 KiB of binary garbage without a line end",
    () => {
      const b = new Uint8Array(16 * 1024);
      for (let i = 0; i < b.length; i++) b[i] = (i * 197 + 13) & 0xff;
      for (let i = 0; i < b.length; i++) if (b[i] === 10) b[i] = 0;
      return b;
    },
    /^HTTP\/1\.1 400 /,
  ],
  [
    "binary garbage ending in an empty line",
    () => {
      const b = new Uint8Array(2048);
      for (let i = 0; i < b.length; i++) b[i] = (i * 197 + 13) & 0xff;
      for (let i = 0; i < b.length; i++) if (b[i] === 10) b[i] = 0;
      b.set([13, 10, 13, 10], b.length - 4);
      return b;
    },
    /^HTTP\/1\.1 400 /,
  ],
  [
    "a request line without spaces",
    () => encoder.encode("GARBAGE\r\n\r\n"),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "an oversized request line",
    () => encoder.encode("GET /" + repeat("a", 64 * 1024)),
    /^HTTP\/1\.1 414 /,
  ],
  [
    "an oversized header section",
    () =>
      encoder.encode(
        "GET / HTTP/1.1\r\nHost: a\r\n" +
          repeat("X-Pad: " + repeat("p", 100) + "\r\n", 400),
      ),
    /^HTTP\/1\.1 431 /,
  ],
  [
    "one giant header value with no end",
    () =>
      encoder.encode(
        "GET / HTTP/1.1\r\nHost: a\r\nX: " + repeat("v", 256 * 1024),
      ),
    /^HTTP\/1\.1 431 /,
  ],
  [
    "too many header fields",
    () =>
      encoder.encode(
        "GET / HTTP/1.1\r\nHost: a\r\n" + repeat("X: 1\r\n", 500) + "\r\n",
      ),
    /^HTTP\/1\.1 431 /,
  ],
  [
    "a huge content-length",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999\r\n\r\n",
      ),
    /^HTTP\/1\.1 413 /,
  ],
  [
    "a content-length with 30 digits",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + repeat("9", 30) +
          "\r\n\r\n",
      ),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "a negative content-length",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
      ),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "a huge chunk size",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n",
      ),
    /^HTTP\/1\.1 413 /,
  ],
  [
    "a chunk size line with no end",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
          repeat("0", 8192),
      ),
    /^HTTP\/1\.1 (400|413) /,
  ],
  [
    "chunk data without its CRLF",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
      ),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "a never-ending trailer section",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
          repeat("t", 64 * 1024),
      ),
    /^HTTP\/1\.1 431 /,
  ],
  [
    "smuggling: content-length and transfer-encoding",
    () =>
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      ),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "NUL and control bytes in a header value",
    () =>
      encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\u0001\r\n\r\n"),
    /^HTTP\/1\.1 400 /,
  ],
  [
    "a good request then garbage",
    () => encoder.encode(GET + "\u0000\u00ff\u00fe garbage\r\n\r\n"),
    /^HTTP\/1\.1 200 OK\r\n[\s\S]*HTTP\/1\.1 400 /,
  ],
];

Deno.test("hostile http: malformed and oversized requests get an error status and a close; the server keeps serving", async () => {
  await using ex = await startHttpHello();
  await wellBehaved(ex);
  for (const [what, wire, status] of CASES) {
    const text = await repliesUntilClose(ex, wire());
    assertMatch(
      text,
      status,
      `${what}: got ${JSON.stringify(text.slice(0, 200))}`,
    );
    // The error response is the last thing sent: the server closed after it.
    assertStringIncludes(text, "connection: close", what);
    await wellBehaved(ex);
  }
  assert(ex.alive());
});

Deno.test("hostile http: a pipelined flood is answered in full and in order, RSS bounded", async () => {
  await using ex = await startHttpHello();
  await wellBehaved(ex);
  const rss0 = ex.rssKiB();
  const N = 30_000;
  // All the same resource: count complete responses. A well-behaved client
  // is served while the flood is being answered.
  const wire = encoder.encode(
    GET.repeat(N - 1) +
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
  );
  const { bytes, reset } = await answersToFlood(
    ex,
    wire,
    () => wellBehaved(ex),
  );
  assertEquals(reset, false);
  const text = decoder.decode(bytes);
  assertEquals(text.split("HTTP/1.1 200 OK\r\n").length - 1, N);
  assert(text.endsWith("Hello, World!"));
  const rss1 = ex.rssKiB();
  if (!Number.isNaN(rss0)) {
    assertLess(rss1 - rss0, 200 * 1024, `RSS ${rss0} -> ${rss1} KiB`);
  }
});

Deno.test("hostile http: a pipelining peer that never reads is paced by backpressure; memory stays bounded", async () => {
  await using ex = await startHttpHello();
  await wellBehaved(ex);
  const chunk = encoder.encode(GET.repeat(2048)); // ~54 KiB, ~275 KiB of answers
  await assertPacedFlood(
    ex,
    chunk,
    { maxBytes: 64 * 1024 * 1024, sampleEvery: 64, rssKiB: ex.rssKiB() },
    () => wellBehaved(ex),
  );
});

Deno.test("hostile http: many half-sent heads are held within their limits and released", async () => {
  await using ex = await startHttpHello();
  await wellBehaved(ex);
  const rss0 = ex.rssKiB();
  const PEERS = 100;
  // Each peer parks a head just under the 16 KiB header limit.
  const head = encoder.encode(
    "GET / HTTP/1.1\r\nHost: a\r\nX: " + "h".repeat(15_000),
  );
  const peers: Deno.Conn[] = [];
  try {
    for (let i = 0; i < PEERS; i++) {
      const c = await connect(ex.port);
      peers.push(c);
      await writeAll(c, head);
    }
    await sleep(100);
    await wellBehaved(ex);
    // Now each completes its request and gets its answer.
    await Promise.all(peers.map(async (c) => {
      await writeAll(c, encoder.encode("\r\nConnection: close\r\n\r\n"));
      const { bytes } = await within(readToEnd(c), 15_000, "answer");
      assertMatch(decoder.decode(bytes), /^HTTP\/1\.1 200 OK\r\n/);
    }));
  } finally {
    for (const c of peers) closeQuietly(c);
  }
  const rss1 = ex.rssKiB();
  if (!Number.isNaN(rss0)) {
    assertLess(rss1 - rss0, 100 * 1024, `RSS ${rss0} -> ${rss1} KiB`);
  }
});

Deno.test("hostile http: a silent peer is closed by --idle-timeout; others unaffected", async () => {
  await using ex = await startHttpHello("--idle-timeout", "300");
  const silent = await connect(ex.port);
  const partial = await connect(ex.port);
  try {
    await writeAll(partial, encoder.encode("GET / HT"));
    await wellBehaved(ex);
    const [a, b] = await within(
      Promise.all([readToEnd(silent), readToEnd(partial)]),
      10_000,
      "idle peers closed",
    );
    assertEquals(a.bytes.length, 0);
    assertEquals(b.bytes.length, 0);
    await wellBehaved(ex);
  } finally {
    silent.close();
    partial.close();
  }
});

// Every byte re-arms the idle timeout, so a head trickled in under it would
// hold the connection (and its parser buffer) for as long as the head limits
// allow; --header-timeout-ms bounds the whole head (Node's headersTimeout).
Deno.test("hostile http: a slowloris head trickling under the idle timeout gets 408 and a close", async () => {
  const IDLE = 300;
  await using ex = await startHttpHello(
    "--idle-timeout",
    String(IDLE),
    "--header-timeout-ms",
    "1000",
  );
  const loris = await connect(ex.port);
  let closedByServer = false;
  const reading = readToEnd(loris).then((r) => {
    closedByServer = true;
    return r;
  });
  try {
    const head = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX-Loris: ");
    // Up to 20 × the idle timeout of trickling, one byte per idle/3.
    for (let i = 0; i < 60 && !closedByServer; i++) {
      try {
        await writeAll(
          loris,
          head.subarray(i % head.length, i % head.length + 1),
        );
      } catch {
        break;
      }
      await sleep(IDLE / 3);
    }
    const { bytes } = await within(reading, 5000, "reader");
    assertEquals(closedByServer, true, "the slowloris peer was never closed");
    assertMatch(decoder.decode(bytes), /^HTTP\/1\.1 408 /);
    await wellBehaved(ex);
  } finally {
    loris.close();
    await reading.catch(() => {});
  }
});

Deno.test("hostile http: binary junk with no blank line gets 400 at once, not at the idle timeout", async () => {
  // The default idle timeout (30 s) is far beyond the 10 s allowed here.
  await using ex = await startHttpHello();
  const junk = [
    // A TLS ClientHello's first bytes.
    new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1]),
    encoder.encode("GET /\u0000x HTTP/1.1\r\n"),
    encoder.encode("GET / XTTP/1.1"),
    encoder.encode("GET / HTTP/1.1x\r\nHost: a\r\n"),
  ];
  for (const wire of junk) {
    using c = await connect(ex.port);
    await writeAll(c, wire);
    const { bytes } = await within(readToEnd(c), 10_000, "400");
    assertMatch(decoder.decode(bytes), /^HTTP\/1\.1 400 /, String(wire));
  }
  await wellBehaved(ex);
});
