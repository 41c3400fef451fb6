// examples/mini_redis against redis-cli, redis-benchmark and redis-server,
// real clients no one here wrote (the parser and store have unit tests
// beside them: examples/mini_redis/*_test.ts).
import { startMiniRedis } from "./_helpers.ts";
import { assert, assertEquals } from "@std/assert";
import { peer, redisServerCommand } from "./_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// Real clients from Debian (.ci/run installs them); tests needing one are
// ignored, visibly, where it is missing.
const redisCli = peer("redis-cli");
const redisBenchmark = peer("redis-cli", "redis-benchmark");
const redisServer = peer("redis-cli", "redis-server");

// ------------------------------------------------------------ real server

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
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(wire);
  let out = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    out += dec.decode(buf.subarray(0, n));
  }
  return out;
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

/** A real redis-server on a free loopback port; SIGTERM on dispose. */
interface RedisServer extends AsyncDisposable {
  port: number;
}

async function startRedisServer(): Promise<RedisServer> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const [program, ...args] = redisServerCommand(port);
  const child = new Deno.Command(program!, {
    args,
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return {
        port,
        async [Symbol.asyncDispose]() {
          child.kill("SIGTERM");
          await child.status;
        },
      };
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
    await using real = await startRedisServer();
    await using mini = await startMiniRedis();
    for (const command of script) {
      const expected = await cli(real.port, command);
      const actual = await cli(mini.port, command);
      assertEquals(actual, expected, command.join(" "));
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
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
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
}

Deno.test({
  name: redisServer.name(
    "mini_redis answers 100,000 pipelined GETs via redis-cli --pipe as redis-server does",
  ),
  ignore: redisServer.ignore,
  async fn() {
    await using real = await startRedisServer();
    await using mini = await startMiniRedis();
    const expected = await pipeGets(real.port, 100_000);
    assertEquals(expected, "errors: 0, replies: 100000");
    assertEquals(await pipeGets(mini.port, 100_000), expected);
  },
});

Deno.test({
  name: redisServer.name(
    "mini_redis answers 4,000 GETs of a 100 B value sent in one write as redis-server does",
  ),
  ignore: redisServer.ignore,
  async fn() {
    await using real = await startRedisServer();
    await using mini = await startMiniRedis();
    assertEquals(await oneWriteGets(real.port, 4000), 4000);
    assertEquals(await oneWriteGets(mini.port, 4000), 4000);
  },
});
