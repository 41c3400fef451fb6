// The keyspace and command table of examples/mini_redis (store.ts), unit,
// with a fake clock.
import { assert, assertEquals } from "@std/assert";
import { RespWriter } from "./resp.ts";
import { MiniRedisStore } from "./store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

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
