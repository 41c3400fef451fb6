// Hostile peers against examples/mini_redis/main.ts run as a subprocess: protocol
// garbage, huge and negative lengths, unterminated frames, binary keys,
// pipelined floods from peers that do or do not read. Protocol errors must
// get `-ERR Protocol error: ...` and a close; command errors an `-ERR` and
// the connection stays usable; a second client is served throughout; the
// server stays alive and its RSS bounded.
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
  cpuTicks,
  decoder,
  encoder,
  type Example,
  readExactly,
  readToEnd,
  readUntilText,
  repliesUntilClose,
  respCommand,
  sleep,
  startMiniRedis,
  within,
  writeAll,
} from "./_helpers.ts";

/** A well-behaved client: PING on a new connection, then QUIT. */
async function wellBehaved(ex: Example): Promise<void> {
  using c = await connect(ex.port);
  await writeAll(c, respCommand("PING"));
  assertEquals(decoder.decode(await readExactly(c, 7)), "+PONG\r\n");
  await writeAll(c, respCommand("QUIT"));
  const { bytes } = await within(readToEnd(c), 10_000, "QUIT");
  assertEquals(decoder.decode(bytes), "+OK\r\n");
}

const PROTOCOL_ERRORS: [string, string, string][] = [
  ["a huge bulk length", "*1\r\n$99999999999\r\n", "invalid bulk length"],
  [
    "a bulk length past 2^53",
    "*1\r\n$999999999999999999\r\n",
    "invalid bulk length",
  ],
  ["a negative bulk length", "*1\r\n$-5\r\n", "invalid bulk length"],
  [
    "a bulk length over --max-bulk",
    "*1\r\n$1048577\r\n",
    "invalid bulk length",
  ],
  ["a huge multibulk count", "*999999999\r\n", "invalid multibulk length"],
  ["a non-numeric multibulk count", "*x\r\n", "invalid multibulk length"],
  [
    "an endless multibulk count",
    "*" + "9".repeat(4096),
    "too big mbulk count string",
  ],
  [
    "an endless bulk count",
    "*1\r\n$" + "9".repeat(4096),
    "too big bulk count string",
  ],
  ["a non-bulk argument", "*2\r\n:1\r\n", "expected '$', got ':'"],
  [
    "a bulk without its CRLF",
    "*1\r\n$3\r\nabcXY",
    "expected CRLF after bulk string",
  ],
  [
    "an endless inline command",
    "A".repeat(70 * 1024),
    "too big inline request",
  ],
  ["unbalanced quotes", 'SET "a b\r\n', "unbalanced quotes in request"],
  [
    "a good command then garbage",
    "*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
    "invalid bulk length",
  ],
];

Deno.test("hostile redis: protocol garbage gets -ERR Protocol error and a close; the server keeps serving", async () => {
  await using ex = await startMiniRedis();
  await wellBehaved(ex);
  for (const [what, wire, message] of PROTOCOL_ERRORS) {
    const text = await repliesUntilClose(ex, encoder.encode(wire));
    assertStringIncludes(text, `-ERR Protocol error: ${message}\r\n`, what);
    assert(text.endsWith("\r\n"), what);
    await wellBehaved(ex);
  }
  assert(ex.alive());
});

Deno.test("hostile redis: bad commands get -ERR and the connection stays usable; binary keys round-trip byte-exact", async () => {
  await using ex = await startMiniRedis();
  using c = await connect(ex.port);
  const binKey = new Uint8Array([0xff, 0xfe, 0x00, 0x0d, 0x0a, 0xc3]);
  const binVal = new Uint8Array(256).map((_, i) => i);
  const cases: [Uint8Array, string][] = [
    [respCommand("NOPE", "x".repeat(10_000)), "-ERR unknown command 'NOPE'"],
    [respCommand("GET"), "-ERR wrong number of arguments for 'get' command"],
    [respCommand("SET", "n", "abc"), "+OK"],
    [
      respCommand("INCR", "n"),
      "-ERR value is not an integer or out of range",
    ],
    [respCommand("SET", "n", "9223372036854775807"), "+OK"],
    [respCommand("INCR", "n"), "-ERR increment or decrement would overflow"],
    [
      respCommand("INCRBY", "n", "99999999999999999999999"),
      "-ERR value is not an integer or out of range",
    ],
    [
      respCommand("SET", "k", "v", "EX", "-1"),
      "-ERR invalid expire time in 'set' command",
    ],
    [respCommand("SET", "k", "v", "EX"), "-ERR syntax error"],
    [respCommand("SET", "k", "v", "NX", "XX"), "-ERR syntax error"],
    [
      respCommand("EXPIRE", "k", "soon"),
      "-ERR value is not an integer or out of range",
    ],
    [respCommand(""), "-ERR unknown command ''"],
    [encoder.encode("*0\r\n*-1\r\n\r\n   \r\nPING\r\n"), "+PONG"],
    [respCommand("SET", binKey, binVal), "+OK"],
  ];
  for (const [wire, want] of cases) {
    await writeAll(c, wire);
    const text = await within(readUntilText(c, "\r\n"), 10_000, want);
    assert(text.startsWith(want), `${want}: got ${JSON.stringify(text)}`);
  }
  await writeAll(c, respCommand("GET", binKey));
  const head = `$${binVal.length}\r\n`;
  const got = await readExactly(c, head.length + binVal.length + 2);
  assertEquals(decoder.decode(got.subarray(0, head.length)), head);
  assertEquals(
    got.subarray(head.length, head.length + binVal.length),
    binVal,
  );
  // Still the same connection, still fine.
  await writeAll(c, respCommand("PING"));
  assertEquals(decoder.decode(await readExactly(c, 7)), "+PONG\r\n");
});

Deno.test("hostile redis: unterminated frames held by many peers are dropped when they leave", async () => {
  await using ex = await startMiniRedis();
  await wellBehaved(ex);
  const peers: Deno.Conn[] = [];
  try {
    const partials = [
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc",
      "*2\r\n$3\r\nGET",
      "*1",
      "PING",
      "*1\r\n$4\r\nPI",
    ];
    for (let i = 0; i < 50; i++) {
      const c = await connect(ex.port);
      peers.push(c);
      await writeAll(c, encoder.encode(partials[i % partials.length]!));
    }
    await sleep(50);
    await wellBehaved(ex);
    // Half of them finish their command; half vanish mid-frame.
    for (const [i, c] of peers.entries()) {
      if (i % 2 === 0) c.close();
    }
    await wellBehaved(ex);
  } finally {
    for (const c of peers) closeQuietly(c);
  }
  await wellBehaved(ex);
  assert(ex.alive());
});

Deno.test("hostile redis: a pipelined flood is answered in full; a non-reading flooder is paced; RSS bounded", async () => {
  await using ex = await startMiniRedis();
  await wellBehaved(ex);
  const rss0 = ex.rssKiB();
  // 1. Pipelined and read: every command answered, in order.
  const N = 50_000;
  const wire = encoder.encode("INCR ctr\r\n".repeat(N) + "QUIT\r\n");
  const answers = await answersToFlood(ex, wire, () => wellBehaved(ex));
  const lines = decoder.decode(answers.bytes).split("\r\n");
  assertEquals(lines.length, N + 2);
  for (let i = 0; i < N; i++) assertEquals(lines[i], `:${i + 1}`);
  assertEquals(lines[N], "+OK");
  // 2. Pipelined, never read: TCP flow control must stop the sender.
  const big = "x".repeat(60_000);
  const chunk = encoder.encode(
    `*2\r\n$4\r\nECHO\r\n$${big.length}\r\n${big}\r\n`.repeat(4),
  );
  await assertPacedFlood(
    ex,
    chunk,
    { maxBytes: 256 * 1024 * 1024, sampleEvery: 64, rssKiB: rss0 },
    () => wellBehaved(ex),
  );
});

// A peer that opens a frame of 65536 arguments and sends 1 MiB bulks
// forever: without a cap on the bytes of an unfinished command (redis's
// client-query-buffer-limit; --max-query-buffer) the server held all of it.
Deno.test("hostile redis: an unterminated multibulk frame cannot grow the server without bound", async () => {
  await using ex = await startMiniRedis();
  await sleep(100);
  const rss0 = ex.rssKiB();
  const c = await connect(ex.port);
  let maxRss = rss0;
  let cut = false;
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    try {
      while ((await c.read(buf)) !== null) { /* error reply */ }
    } catch { /* reset */ }
    cut = true;
  })();
  try {
    await writeAll(c, encoder.encode("*65536\r\n"));
    const MB = 1024 * 1024;
    const bulk = new Uint8Array(10 + MB + 2);
    bulk.set(encoder.encode("$1048576\r\n"));
    bulk.set(encoder.encode("\r\n"), 10 + MB);
    for (let i = 0; i < 320 && !cut; i++) {
      try {
        await within(writeAll(c, bulk), 5000, "write");
      } catch {
        break;
      }
      if (i % 16 === 15) maxRss = Math.max(maxRss, ex.rssKiB());
    }
    maxRss = Math.max(maxRss, ex.rssKiB());
  } finally {
    closeQuietly(c);
    await reading;
  }
  assertLess(maxRss - rss0, 200 * 1024, `RSS ${rss0} -> ${maxRss} KiB`);
});

// `SET k v EX 9223372036854775807` was accepted and PTTL answered
// `:9.223372036854776e+21`, which redis-cli rejects ("Bad integer value").
Deno.test("hostile redis: out-of-range expiry times never produce a non-RESP integer reply", async () => {
  await using ex = await startMiniRedis();
  using c = await connect(ex.port);
  const ask = async (cmd: string): Promise<string> => {
    await writeAll(c, encoder.encode(cmd + "\r\n"));
    return await within(readUntilText(c, "\r\n"), 5000, cmd);
  };
  const set = await ask("SET k v EX 9223372036854775807");
  if (set.startsWith("+OK")) {
    for (const q of ["PTTL k", "TTL k"]) {
      const reply = await ask(q);
      assertMatch(
        reply,
        /^:-?\d{1,19}\r\n$/,
        `${q} => ${JSON.stringify(reply)}`,
      );
      assert(BigInt(reply.slice(1, -2)) <= 9223372036854775807n, reply);
    }
  } else assertMatch(set, /^-ERR /);
  assertEquals(await ask("SET j v"), "+OK\r\n");
  const exp = await ask("EXPIRE j 9223372036854775807");
  if (exp === ":1\r\n") {
    const reply = await ask("PTTL j");
    assertMatch(
      reply,
      /^:-?\d{1,19}\r\n$/,
      `PTTL j => ${JSON.stringify(reply)}`,
    );
  }
});

// `param in known` walked the prototype chain (`constructor` answered
// Object's source).
Deno.test("hostile redis: CONFIG GET of an Object.prototype name is an unknown parameter", async () => {
  await using ex = await startMiniRedis();
  using c = await connect(ex.port);
  for (const name of ["constructor", "__proto__", "hasOwnProperty"]) {
    await writeAll(c, encoder.encode(`CONFIG GET ${name}\r\n`));
    await sleep(30);
    const buf = new Uint8Array(4096);
    const n = await within(c.read(buf), 5000, name);
    assertEquals(decoder.decode(buf.subarray(0, n ?? 0)), "*0\r\n", name);
  }
});

// Replies above TcpServer's maxWriteBuffer (1 MiB by default) were queued in
// one sendTo and cut the reader as a "slow consumer": a GET of a --max-bulk
// value, two pipelined GETs of 1 MB, and a 150-GET pipeline that built a
// 150 MiB batch (RSS 45 MB -> 1 GB).
async function setK(port: number, size: number): Promise<void> {
  using c = await connect(port);
  await writeAll(
    c,
    encoder.encode(
      `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n${"v".repeat(size)}\r\n`,
    ),
  );
  assertEquals(new TextDecoder().decode(await readExactly(c, 5)), "+OK\r\n");
}

for (const [size, gets] of [[1048576, 1], [1_000_000, 2]] as const) {
  Deno.test(`hostile redis: ${gets} GET of a ${size}-byte value is answered, not cut`, async () => {
    await using ex = await startMiniRedis();
    await setK(ex.port, size);
    using c = await connect(ex.port);
    await writeAll(c, encoder.encode("GET k\r\n".repeat(gets) + "QUIT\r\n"));
    const { bytes } = await within(readToEnd(c), 15_000, "replies");
    const one = size + `$${size}\r\n`.length + 2;
    assertEquals(bytes.length, gets * one + 5, "reply bytes");
  });
}

Deno.test("hostile redis: big and small replies interleaved in one pipeline arrive whole and in order", async () => {
  await using ex = await startMiniRedis();
  using c = await connect(ex.port);
  const big = "b".repeat(20_000), small = "s".repeat(1000);
  await writeAll(c, encoder.encode(`SET b ${big}\r\nSET s ${small}\r\n`));
  assertEquals(decoder.decode(await readExactly(c, 10)), "+OK\r\n+OK\r\n");
  // The second big reply is queued behind ~70 KB of replies: its bytes
  // must follow its header even though the queue is over its high-water
  // mark by then.
  const gets = ["GET b", ...Array(50).fill("GET s"), "GET b"];
  for (let round = 0; round < 3; round++) {
    await writeAll(c, encoder.encode(gets.join("\r\n") + "\r\n"));
  }
  await writeAll(c, encoder.encode("QUIT\r\n"));
  const { bytes } = await within(readToEnd(c), 15_000, "replies");
  const one = [
    `$20000\r\n${big}\r\n`,
    ...Array(50).fill(`$1000\r\n${small}\r\n`),
    `$20000\r\n${big}\r\n`,
  ].join("");
  assertEquals(bytes.length, 3 * one.length + 5, "reply bytes");
  assertEquals(decoder.decode(bytes), one.repeat(3) + "+OK\r\n");
});

Deno.test("hostile redis: a pipeline of GETs of a big value cannot balloon the server", async () => {
  await using ex = await startMiniRedis();
  const size = 1024 * 1024 - 64;
  await setK(ex.port, size);
  const rss0 = ex.rssKiB();
  const g = await connect(ex.port);
  let peak = rss0;
  const sampler = setInterval(() => peak = Math.max(peak, ex.rssKiB()), 5);
  const draining = readToEnd(g, 2 ** 31).catch(() => undefined);
  try {
    // Grow the server's read buffer first, then 150 GETs in one read.
    await writeAll(g, encoder.encode("PING\r\n".repeat(100_000)));
    await writeAll(g, encoder.encode("GET k\r\n".repeat(150)));
    await sleep(1500);
  } catch {
    // cut: fine, the bound is what is checked
  } finally {
    clearInterval(sampler);
    g.close();
    await draining;
  }
  assertLess(peak - rss0, 200 * 1024, `RSS ${rss0} -> ${peak} KiB`);
});

// An unfinished frame was re-parsed from its start on every read: 65535
// one-byte arguments trickled in small writes cost ~18x the CPU of the
// same bytes as one argument (quadratic).
/** Sends `wire` in paced 512-byte writes (one read each), waits for the reply; CPU ticks used. */
async function trickle(ex: Example, wire: Uint8Array): Promise<number> {
  using c = await connect(ex.port);
  const before = cpuTicks(ex.pid);
  for (let off = 0; off < wire.length; off += 512) {
    await writeAll(c, wire.subarray(off, off + 512));
    await sleep(1);
  }
  await readUntilText(c, "\r\n");
  return cpuTicks(ex.pid) - before;
}

Deno.test("hostile redis: a trickled frame of many small arguments costs about what the same bytes in few arguments cost", async () => {
  await using ex = await startMiniRedis();
  const N = 65535;
  const many = encoder.encode(
    `*${N + 1}\r\n$3\r\nDEL\r\n` + "$1\r\na\r\n".repeat(N),
  );
  const value = "v".repeat(many.length - 40);
  const few = encoder.encode(
    `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n${value}\r\n`,
  );
  const fewTicks = await trickle(ex, few);
  const manyTicks = await trickle(ex, many);
  // deno-lint-ignore no-console
  console.error(`few: ${fewTicks} ticks, many: ${manyTicks} ticks`);
  // Linear parsing: within a small factor (plus a few ticks of noise).
  assertLess(
    manyTicks,
    2 * fewTicks + 20,
    `few: ${fewTicks} ticks, many: ${manyTicks} ticks`,
  );
});
