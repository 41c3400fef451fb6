// examples/mini_redis.ts: the RESP2 parser, reply writer and command table
// (unit, with a fake clock), then the server against redis-cli, a real
// client no one here wrote.
import { type Example, startExample } from "./_helpers.ts";
import { assert, assertEquals } from "@std/assert";
import {
  type RespLimits,
  RespParser,
  RespProtocolError,
  RespWriter,
  splitInline,
} from "../examples/_resp.ts";
import { MiniRedisStore } from "../examples/_redis_store.ts";
import { peer } from "./_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function parse(
  chunks: (string | Uint8Array)[],
  limits?: RespLimits,
): {
  commands: string[][];
  error: RespProtocolError | undefined;
  parser: RespParser;
} {
  const parser = new RespParser(limits);
  const commands: string[][] = [];
  let error: RespProtocolError | undefined;
  for (const c of chunks) {
    const scratch = new Uint8Array(typeof c === "string" ? enc.encode(c) : c);
    error = parser.push(scratch, (args) => {
      commands.push(args.map((a) => dec.decode(a)));
    });
    scratch.fill(0); // the caller reuses its read buffer
    if (error) break;
  }
  return { commands, error, parser };
}

// Real clients from Debian (.ci/run installs them); tests needing one are
// ignored, visibly, where it is missing.
const redisCli = peer("redis-cli");
const redisBenchmark = peer("redis-cli", "redis-benchmark");
const redisServer = peer("redis-cli", "redis-server");

function bytewise(s: string): Uint8Array[] {
  return [...enc.encode(s)].map((b) => Uint8Array.of(b));
}

Deno.test("RespParser parses pipelined multibulk and inline commands", () => {
  const wire = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv a\r\n\r\n" +
    "PING\r\n" + 'echo "a b" \'c\\\'d\' "\\x41\\n"\r\n' + "\r\n" + "*0\r\n" +
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n" + "GET k\n";
  const expected = [
    ["SET", "k", "v a\r\n"],
    ["PING"],
    ["echo", "a b", "c'd", "A\n"],
    ["GET", ""],
    ["GET", "k"],
  ];
  for (const chunks of [[wire], bytewise(wire)]) {
    const { commands, error, parser } = parse(chunks);
    assertEquals(error, undefined);
    assertEquals(commands, expected);
    assertEquals(parser.bufferedBytes, 0);
  }
});

Deno.test("RespParser reports protocol errors as redis-server does", () => {
  const cases: [string, string][] = [
    ["*x\r\n", "invalid multibulk length"],
    ["*2\r\n:1\r\n", "expected '$', got ':'"],
    ["*1\r\n$-1\r\n", "invalid bulk length"],
    ["*1\r\n$abc\r\n", "invalid bulk length"],
    ["*1\r\n$2000\r\n", "invalid bulk length"],
    ["*99999\r\n", "invalid multibulk length"],
    ["*1\r\n$3\r\nabcde\r\n", "expected CRLF after bulk string"],
    ['SET k "unterminated\r\n', "unbalanced quotes in request"],
    ['SET k "a"b\r\n', "unbalanced quotes in request"],
    [`SET k ${"v".repeat(3000)}`, "too big inline request"],
    [`*1\r\n$${"9".repeat(1500)}`, "too big bulk count string"],
    [`*${"1".repeat(1500)}`, "too big mbulk count string"],
  ];
  const limits = { maxBulkLength: 1024, maxArgs: 16, maxInlineLength: 2048 };
  for (const [wire, message] of cases) {
    const { error, parser } = parse([wire], limits);
    assert(error instanceof RespProtocolError, wire);
    assertEquals(error.message, `Protocol error: ${message}`, wire);
    // A failed parser stays failed and holds nothing.
    assertEquals(parser.push(enc.encode("PING\r\n"), () => {}), error);
    assertEquals(parser.bufferedBytes, 0);
  }
  // A bulk at the cap is fine, split across reads.
  const ok = `*2\r\n$4\r\nECHO\r\n$1024\r\n${"x".repeat(1024)}\r\n`;
  const { commands, error } = parse(bytewise(ok), limits);
  assertEquals(error, undefined);
  assertEquals(commands[0]![1]!.length, 1024);
});

Deno.test("RespParser caps the bytes held for one unfinished command", () => {
  const limits = { maxBulkLength: 1024, maxQueryBuffer: 4096 };
  const bulk = `$1024\r\n${"x".repeat(1024)}\r\n`;
  // Complete bulks of a frame that never ends: cut past the cap.
  const { error, parser } = parse(
    ["*1000\r\n", ...Array(8).fill(bulk)],
    limits,
  );
  assert(error instanceof RespProtocolError);
  assertEquals(error.message, "Protocol error: too big query buffer");
  assertEquals(parser.bufferedBytes, 0);
  // Under the cap, split anywhere, a frame is fine.
  const ok = "*4\r\n$4\r\nECHO\r\n" + bulk.repeat(3);
  const r = parse(bytewise(ok), limits);
  assertEquals(r.error, undefined);
  assertEquals(r.commands.length, 1);
  assertEquals(r.commands[0]!.length, 4);
});

Deno.test("RespParser resumes a split frame where it stopped and pauses on false", () => {
  // Every split point of a frame followed by an inline command.
  const wire = "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$3\r\nabc\r\nPING\r\n";
  for (let i = 0; i <= wire.length; i++) {
    for (let j = i; j <= wire.length; j++) {
      const { commands, error } = parse([
        wire.slice(0, i),
        wire.slice(i, j),
        wire.slice(j),
      ]);
      assertEquals(error, undefined);
      assertEquals(commands, [["SET", "k1", "abc"], ["PING"]], `${i} ${j}`);
    }
  }
  // `false` holds the rest, a later push (even of nothing) goes on.
  const p = new RespParser();
  const seen: string[] = [];
  const pausing = (args: Uint8Array[]) => {
    seen.push(dec.decode(args[0]));
    return false;
  };
  const scratch = enc.encode("PING\r\n*1\r\n$4\r\nECHO\r\n*1\r\n$3\r\nGE");
  p.push(scratch, pausing);
  scratch.fill(0);
  assertEquals(seen, ["PING"]);
  p.push(new Uint8Array(0), pausing);
  assertEquals(seen, ["PING", "ECHO"]);
  p.push(enc.encode("T\r\n"), pausing);
  assertEquals(seen, ["PING", "ECHO", "GET"]);
  assertEquals(p.bufferedBytes, 0);
});

Deno.test("splitInline keeps unquoted arguments as views", () => {
  const line = enc.encode("  SET  key   value ");
  const args = splitInline(line)!;
  assertEquals(args.map((a) => dec.decode(a)), ["SET", "key", "value"]);
  assert(args[0]!.buffer === line.buffer);
  assertEquals(splitInline(enc.encode('"\\t\\r"')), [enc.encode("\t\r")]);
  assertEquals(splitInline(enc.encode("'a")), undefined);
});

Deno.test("RespWriter encodes replies", () => {
  const w = new RespWriter();
  w.ok();
  w.pong();
  w.simple("QUEUED");
  w.error("ERR bad\r\nthing");
  w.integer(0);
  w.integer(-42);
  w.integer(9007199254740993n);
  w.bulk(enc.encode("hi"));
  w.bulk(null);
  w.array(2);
  assertEquals(
    dec.decode(w.view()),
    "+OK\r\n+PONG\r\n+QUEUED\r\n-ERR bad  thing\r\n:0\r\n:-42\r\n:9007199254740993\r\n$2\r\nhi\r\n$-1\r\n*2\r\n",
  );
  w.reset();
  w.bulk(new Uint8Array(100000));
  assertEquals(w.view().length, 100000 + 11); // $100000\r\n ... \r\n
});

Deno.test("RespWriter never writes a non-integer integer reply", () => {
  const w = new RespWriter();
  w.integer(9.223372036854776e21);
  w.integer(-1e300);
  w.integer(2 ** 60);
  w.integer(1.5);
  assertEquals(
    dec.decode(w.view()),
    ":9223372036854775807\r\n:-9223372036854775808\r\n:1152921504606846976\r\n:1\r\n",
  );
});

Deno.test("RespWriter hands a large bulk to its sink without copying it", () => {
  const sent: Uint8Array[] = [];
  const w = new RespWriter((b) => sent.push(b.slice()), 8);
  const big = enc.encode("0123456789");
  w.ok();
  w.bulk(big);
  w.bulk(enc.encode("small"));
  assertEquals(sent.map((b) => dec.decode(b)), [
    "+OK\r\n$10\r\n",
    "0123456789",
  ]);
  assertEquals(dec.decode(w.view()), "\r\n$5\r\nsmall\r\n");
});

// Runs commands (space-separated words) against a store; returns the replies.
function run(store: MiniRedisStore, ...commands: string[]): string {
  const w = new RespWriter();
  for (const c of commands) {
    store.execute(c.split(" ").map((a) => enc.encode(a)), w);
  }
  return dec.decode(w.view());
}

Deno.test("MiniRedisStore: PING, ECHO, SET, GET, DEL, EXISTS", () => {
  const s = new MiniRedisStore();
  assertEquals(
    run(s, "PING", "ping hello", "ECHO hi"),
    "+PONG\r\n$5\r\nhello\r\n$2\r\nhi\r\n",
  );
  assertEquals(
    run(s, "SET a 1", "GET a", "GET b"),
    "+OK\r\n$1\r\n1\r\n$-1\r\n",
  );
  assertEquals(
    run(s, "SET b 2 NX", "SET b 3 NX", "GET b"),
    "+OK\r\n$-1\r\n$1\r\n2\r\n",
  );
  assertEquals(
    run(s, "SET c 1 XX", "SET b 4 XX", "GET b"),
    "$-1\r\n+OK\r\n$1\r\n4\r\n",
  );
  assertEquals(
    run(s, "EXISTS a b c a", "DEL a c b", "EXISTS a"),
    ":3\r\n:2\r\n:0\r\n",
  );
  assertEquals(
    run(
      s,
      "SET k v NX XX",
      "SET k v EX",
      "SET k v EX x",
      "SET k v EX 0",
      "SET k v PX -5",
    ),
    "-ERR syntax error\r\n-ERR syntax error\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-ERR invalid expire time in 'set' command\r\n" +
      "-ERR invalid expire time in 'set' command\r\n",
  );
  assertEquals(
    run(s, "GET", "ECHO", "PING a b", "DEL"),
    "-ERR wrong number of arguments for 'get' command\r\n" +
      "-ERR wrong number of arguments for 'echo' command\r\n" +
      "-ERR wrong number of arguments for 'ping' command\r\n" +
      "-ERR wrong number of arguments for 'del' command\r\n",
  );
  assertEquals(
    run(s, "FLUSHALL now please"),
    "-ERR unknown command 'FLUSHALL', with args beginning with: 'now' 'please' \r\n",
  );
  // SET copies the value out of the (reused) read buffer.
  const w = new RespWriter();
  const args = ["SET", "bin", "abc"].map((a) => enc.encode(a));
  s.execute(args, w);
  args[2]!.fill(0);
  assertEquals(run(s, "GET bin"), "$3\r\nabc\r\n");
});

Deno.test("MiniRedisStore: INCR on new, numeric, non-numeric and extreme values", () => {
  const s = new MiniRedisStore();
  assertEquals(run(s, "INCR n", "INCR n", "GET n"), ":1\r\n:2\r\n$1\r\n2\r\n");
  assertEquals(run(s, "SET n -1", "INCR n", "INCR n"), "+OK\r\n:0\r\n:1\r\n");
  // Integer-encoded values read back as bytes, and SET replaces them.
  assertEquals(
    run(
      s,
      "DECR d",
      "DECR d",
      "GET d",
      "INCRBY d 1234567",
      "GET d",
      "SET d x",
      "GET d",
      "INCR d",
    ),
    ":-1\r\n:-2\r\n$2\r\n-2\r\n:1234565\r\n$7\r\n1234565\r\n+OK\r\n$1\r\nx\r\n" +
      "-ERR value is not an integer or out of range\r\n",
  );
  assertEquals(
    run(s, "SET u 9007199254740990", "INCR u", "INCR u", "INCR u", "GET u"),
    "+OK\r\n:9007199254740991\r\n:9007199254740992\r\n:9007199254740993\r\n$16\r\n9007199254740993\r\n",
  );
  const notInt = "-ERR value is not an integer or out of range\r\n";
  assertEquals(run(s, "SET s abc", "INCR s"), "+OK\r\n" + notInt);
  assertEquals(
    run(s, "SET s 01", "INCR s", "SET s -0", "INCR s", "SET s 1.5", "INCR s"),
    ("+OK\r\n" + notInt).repeat(3),
  );
  assertEquals(
    run(s, "SET big 9007199254740993", "INCR big"),
    "+OK\r\n:9007199254740994\r\n",
  );
  assertEquals(
    run(s, "SET max 9223372036854775807", "INCR max"),
    "+OK\r\n-ERR increment or decrement would overflow\r\n",
  );
  assertEquals(
    run(s, "SET huge 99999999999999999999", "INCR huge"),
    "+OK\r\n" + notInt,
  );
});

Deno.test("MiniRedisStore: EX/PX, EXPIRE, TTL, KEEPTTL and sweeping on a fake clock", () => {
  let now = 1_000_000;
  const s = new MiniRedisStore({ now: () => now });
  assertEquals(run(s, "TTL none", "SET p 1", "TTL p"), ":-2\r\n+OK\r\n:-1\r\n");
  assertEquals(
    run(s, "SET e v EX 10", "TTL e", "PTTL e"),
    "+OK\r\n:10\r\n:10000\r\n",
  );
  now += 9_400;
  assertEquals(run(s, "TTL e", "GET e"), ":1\r\n$1\r\nv\r\n");
  now += 600;
  assertEquals(run(s, "GET e", "TTL e", "EXISTS e"), "$-1\r\n:-2\r\n:0\r\n");
  assertEquals(
    run(s, "SET m v PX 250", "EXPIRE m 100", "TTL m"),
    "+OK\r\n:1\r\n:100\r\n",
  );
  assertEquals(
    run(s, "SET m w KEEPTTL", "TTL m", "SET m x", "TTL m"),
    "+OK\r\n:100\r\n+OK\r\n:-1\r\n",
  );
  assertEquals(
    run(s, "EXPIRE nothing 5", "EXPIRE m 0", "EXISTS m"),
    ":0\r\n:1\r\n:0\r\n",
  );
  assertEquals(
    run(s, "EXPIRE p x"),
    "-ERR value is not an integer or out of range\r\n",
  );
  // Expired keys nobody reads again are removed by sweep().
  for (let i = 0; i < 50; i++) run(s, `SET t${i} v PX ${i < 30 ? 5 : 100000}`);
  const before = s.size;
  now += 10;
  let removed = 0;
  for (let i = 0; i < 5; i++) removed += s.sweep(20);
  assertEquals(removed, 30);
  assertEquals(s.size, before - 30);
});

Deno.test("MiniRedisStore: out-of-range expiry times are rejected as redis-server does", () => {
  const s = new MiniRedisStore({ now: () => 1_700_000_000_000 });
  const big = "9223372036854775807";
  assertEquals(
    run(
      s,
      `SET k v EX ${big}`,
      `SET k v PX ${big}`,
      "SET k v EX 9223372036854775",
    ),
    "-ERR invalid expire time in 'set' command\r\n".repeat(3),
  );
  assertEquals(
    run(s, "SET k v", `EXPIRE k ${big}`, `PEXPIRE k ${big}`, "TTL k"),
    "+OK\r\n-ERR invalid expire time in 'expire' command\r\n" +
      "-ERR invalid expire time in 'pexpire' command\r\n:-1\r\n",
  );
  // The largest that fits (ms beyond 2^53 are approximate): replies stay
  // 64-bit integers.
  const pttl = run(s, "PEXPIRE k 9223370336854775807", "PTTL k");
  assert(/^:1\r\n:\d{19}\r\n$/.test(pttl), pttl);
  assert(BigInt(pttl.slice(5, -2)) <= 9223372036854775807n, pttl);
  assertEquals(run(s, "EXPIRE k -1", "EXISTS k"), ":1\r\n:0\r\n");
});

Deno.test("MiniRedisStore: CONFIG GET for redis-benchmark, QUIT closes", () => {
  const s = new MiniRedisStore();
  assertEquals(
    run(s, "CONFIG GET save", "config get appendonly", "CONFIG GET other"),
    "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n",
  );
  // Names of Object.prototype are unknown parameters and commands too.
  assertEquals(
    run(
      s,
      "CONFIG GET constructor",
      "CONFIG GET __proto__",
      "CONFIG GET toString",
    ),
    "*0\r\n*0\r\n*0\r\n",
  );
  assertEquals(
    run(s, "constructor"),
    "-ERR unknown command 'constructor', with args beginning with: \r\n",
  );
  const w = new RespWriter();
  assertEquals(s.execute([enc.encode("QUIT")], w), "close");
  assertEquals(dec.decode(w.view()), "+OK\r\n");
});

// ------------------------------------------------------------ real server

// The shared spawner: `listening on` line, stdout drained, SIGTERM on dispose.
function startMiniRedis(...extra: string[]): Promise<Example> {
  return startExample("mini_redis.ts", { args: extra, permissions: ["-A"] });
}

async function cli(
  port: number,
  args: string[],
  stdin?: string,
): Promise<string> {
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(stdin));
    await w.close();
  }
  const out = await child.output();
  assert(out.success, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

async function rawExchange(port: number, wire: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(wire);
    let out = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += dec.decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    conn.close();
  }
}

Deno.test({
  name: redisCli.name("mini_redis answers redis-cli"),
  ignore: redisCli.ignore,
  async fn() {
    await using server = await startMiniRedis("--max-bulk", "4096");
    const p = server.port;
    const c = (...args: string[]) => cli(p, args);
    assertEquals(await c("PING"), "PONG\n");
    assertEquals(await c("ECHO", "hello world"), "hello world\n");
    assertEquals(await c("SET", "greeting", "hi", "EX", "100"), "OK\n");
    assertEquals(await c("GET", "greeting"), "hi\n");
    assertEquals(await c("TTL", "greeting"), "100\n");
    assertEquals(await c("SET", "counter", "41"), "OK\n");
    assertEquals(await c("INCR", "counter"), "42\n");
    assertEquals(await c("EXISTS", "greeting", "counter", "nope"), "2\n");
    assertEquals(await c("EXPIRE", "counter", "50"), "1\n");
    assertEquals(await c("DEL", "greeting", "nope"), "1\n");
    assertEquals(await c("GET", "greeting"), "\n"); // redis-cli prints nil as an empty line when not a tty
    assertEquals(await c("TTL", "greeting"), "-2\n");
    assertEquals(await c("SET", "a", "b", "NX"), "OK\n");
    assertEquals(await c("SET", "a", "c", "NX"), "\n");
    // redis-cli prints an error reply followed by an empty line.
    assertEquals(
      await c("NOSUCH", "x"),
      "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n",
    );
    // A key set with PX disappears (waiting well past its expiry; no timing assertion).
    assertEquals(await c("SET", "short", "v", "PX", "50"), "OK\n");
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(await c("EXISTS", "short"), "0\n");

    // Pipelining through redis-cli --pipe (raw RESP from stdin, one connection).
    let wire = "";
    for (let i = 0; i < 1000; i++) {
      wire += `*3\r\n$3\r\nSET\r\n$${`k${i}`.length}\r\nk${i}\r\n$${
        String(i).length
      }\r\n${i}\r\n`;
    }
    wire += "*2\r\n$4\r\nINCR\r\n$4\r\nk999\r\n";
    const piped = await cli(p, ["--pipe"], wire);
    assert(/errors: 0, replies: 1001/.test(piped), piped);
    assertEquals(await c("GET", "k999"), "1000\n");
    assertEquals(await c("GET", "k500"), "500\n");
  },
});

Deno.test({
  name: redisCli.name(
    "mini_redis closes on malformed frames and oversized bulks",
  ),
  ignore: redisCli.ignore,
  async fn() {
    await using server = await startMiniRedis("--max-bulk", "4096");
    const p = server.port;
    // Replies before the bad frame are kept, then the error, then EOF.
    assertEquals(
      await rawExchange(p, enc.encode("PING\r\n*1\r\n:5\r\nPING\r\n")),
      "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n",
    );
    assertEquals(
      await rawExchange(
        p,
        enc.encode(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n`),
      ),
      "-ERR Protocol error: invalid bulk length\r\n",
    );
    assertEquals(
      await rawExchange(p, enc.encode('ECHO "open\r\n')),
      "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    // QUIT: +OK then the server closes.
    assertEquals(
      await rawExchange(p, enc.encode("QUIT\r\nPING\r\n")),
      "+OK\r\n",
    );
    // Still serving.
    assertEquals(await cli(p, ["PING"]), "PONG\n");
  },
});

Deno.test({
  name: redisBenchmark.name(
    "mini_redis works under redis-benchmark and exits 0 on SIGTERM",
  ),
  ignore: redisBenchmark.ignore,
  async fn() {
    const server = await startMiniRedis();
    try {
      const out = await new Deno.Command("redis-benchmark", {
        args: [
          "-h",
          "127.0.0.1",
          "-p",
          String(server.port),
          "-t",
          "set,get,incr",
          "-c",
          "10",
          "-n",
          "2000",
          "-P",
          "4",
          "--csv",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, dec.decode(out.stderr));
      const rows = dec.decode(out.stdout).split("\n").filter((l) =>
        /^"(SET|GET|INCR)"/.test(l)
      );
      assertEquals(rows.length, 3, dec.decode(out.stdout));
      // INCR ran 2000 times on one key.
      assertEquals(
        await cli(server.port, ["GET", "counter:__rand_int__"]),
        "2000\n",
      );
    } finally {
      server.child.kill("SIGTERM");
      assertEquals((await server.child.status).code, 0);
      await server[Symbol.asyncDispose]();
    }
  },
});

// The same script through redis-cli against redis-server and mini_redis:
// byte-identical output (replies, nils, integers and error texts).
const script: string[][] = [
  ["PING"],
  ["PING", "hello"],
  ["ECHO", "hello world"],
  ["SET", "greeting", "hi", "EX", "100"],
  ["GET", "greeting"],
  ["TTL", "greeting"],
  ["SET", "counter", "41"],
  ["INCR", "counter"],
  ["EXISTS", "greeting", "counter", "nope", "counter"],
  ["EXPIRE", "counter", "50"],
  ["TTL", "counter"],
  ["DEL", "greeting", "nope"],
  ["GET", "greeting"],
  ["TTL", "greeting"],
  ["TTL", "counter-missing"],
  ["SET", "a", "b", "NX"],
  ["SET", "a", "c", "NX"],
  ["SET", "a", "c", "XX", "EX", "1000"],
  ["SET", "a", "d", "KEEPTTL"],
  ["TTL", "a"],
  ["SET", "a", "e"],
  ["TTL", "a"],
  ["SET", "b", "x", "XX"],
  ["NOSUCH", "x", "y"],
  ["SET", "a"],
  ["GET"],
  ["ECHO"],
  ["PING", "a", "b"],
  ["SET", "k", "v", "EX", "0"],
  ["SET", "k", "v", "PX", "abc"],
  ["SET", "k", "v", "NX", "XX"],
  ["SET", "k", "v", "EX"],
  ["SET", "s", "abc"],
  ["INCR", "s"],
  ["SET", "m", "9223372036854775807"],
  ["INCR", "m"],
  ["SET", "z", "007"],
  ["INCR", "z"],
  ["EXPIRE", "s", "x"],
  ["EXPIRE", "s", "0"],
  ["EXISTS", "s"],
  ["EXPIRE", "nothing", "10"],
  ["DEL", "a", "m", "z", "counter"],
];

async function startRedisServer(): Promise<
  { port: number; child: Deno.ChildProcess }
> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command("redis-server", {
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { port, child };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error("redis-server did not start");
}

Deno.test({
  name: redisServer.name(
    "mini_redis matches redis-server reply for reply through redis-cli",
  ),
  ignore: redisServer.ignore,
  async fn() {
    const real = await startRedisServer();
    try {
      await using mini = await startMiniRedis();
      for (const command of script) {
        const expected = await cli(real.port, command);
        const actual = await cli(mini.port, command);
        assertEquals(actual, expected, command.join(" "));
      }
    } finally {
      real.child.kill("SIGTERM");
      await real.child.status;
    }
  },
});

// Lost wakeup under write backpressure (issue 9, part 1): a long pipeline
// from one client makes the connection write-only for a while; every
// command must still be answered, as redis-server answers them all.
async function pipeGets(port: number, count: number): Promise<string> {
  assertEquals(await cli(port, ["SET", "k", "v".repeat(100)]), "OK\n");
  return (await cli(
    port,
    ["--pipe", "--pipe-timeout", "5"],
    "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".repeat(count),
  ))
    .trim().split("\n").at(-1)!;
}

/** One write of `count` GETs of a 100-byte value; the reply bytes read. */
async function oneWriteGets(port: number, count: number): Promise<number> {
  const value = "v".repeat(100);
  assertEquals(await cli(port, ["SET", "k100", value]), "OK\n");
  const reply = `$100\r\n${value}\r\n`;
  const expected = reply.length * count;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const wire = enc.encode("*2\r\n$3\r\nGET\r\n$4\r\nk100\r\n".repeat(count));
    const writing = (async () => {
      let off = 0;
      while (off < wire.length) off += await conn.write(wire.subarray(off));
    })();
    writing.catch(() => {});
    const buf = new Uint8Array(65536);
    let got = 0;
    let text = "";
    while (got < expected) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buf),
        new Promise<"stalled">((r) =>
          timer = setTimeout(() => r("stalled"), 5000)
        ),
      ]);
      clearTimeout(timer);
      if (n === "stalled" || n === null) break;
      text += dec.decode(buf.subarray(0, n));
      got += n;
    }
    if (got === expected) {
      await writing;
      assertEquals(text, reply.repeat(count));
    }
    return got / reply.length;
  } finally {
    conn.close();
  }
}

Deno.test({
  name: redisServer.name(
    "mini_redis answers 100,000 pipelined GETs via redis-cli --pipe as redis-server does",
  ),
  ignore: redisServer.ignore,
  async fn() {
    const real = await startRedisServer();
    try {
      await using mini = await startMiniRedis();
      const expected = await pipeGets(real.port, 100_000);
      assertEquals(expected, "errors: 0, replies: 100000");
      assertEquals(await pipeGets(mini.port, 100_000), expected);
    } finally {
      real.child.kill("SIGTERM");
      await real.child.status;
    }
  },
});

Deno.test({
  name: redisServer.name(
    "mini_redis answers 4,000 GETs of a 100 B value sent in one write as redis-server does",
  ),
  ignore: redisServer.ignore,
  async fn() {
    const real = await startRedisServer();
    try {
      await using mini = await startMiniRedis();
      assertEquals(await oneWriteGets(real.port, 4000), 4000);
      assertEquals(await oneWriteGets(mini.port, 4000), 4000);
    } finally {
      real.child.kill("SIGTERM");
      await real.child.status;
    }
  },
});
