// The RESP2 parser and reply writer of examples/mini_redis (resp.ts), unit.
import { assert, assertEquals } from "@std/assert";
import {
  type RespLimits,
  RespParser,
  RespProtocolError,
  RespWriter,
  splitInline,
} from "./resp.ts";

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

function bytewise(s: string): Uint8Array[] {
  return [...enc.encode(s)].map((b) => Uint8Array.of(b));
}

Deno.test("RespParser parses pipelined multibulk and inline commands", () => {
  const wire = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv a\r\n\r\n" +
    "PING\r\n" + 'echo "a b" \'c\\\'d\' "\\x41\\n"\r\n' + "\r\n" + "*0\r\n" +
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n" + "*-1\r\n" + "GET k\n";
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
    // Counts as redis's string2ll reads them: no leading zero, "+" or "-0".
    ["*01\r\n$4\r\nPING\r\n", "invalid multibulk length"],
    ["*0001\r\n$4\r\nPING\r\n", "invalid multibulk length"],
    ["*-0\r\n", "invalid multibulk length"],
    ["*+1\r\n", "invalid multibulk length"],
    ["*1\r\n$04\r\nPING\r\n", "invalid bulk length"],
    ["*1\r\n$-0\r\n", "invalid bulk length"],
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

Deno.test("RespWriter reports a lone constant reply, and nothing else", () => {
  const w = new RespWriter((b) => void b, 8);
  w.pong();
  assertEquals(dec.decode(w.constant!), "+PONG\r\n");
  w.ok();
  assertEquals(w.constant, undefined); // two replies
  w.reset();
  w.ok();
  assertEquals(dec.decode(w.constant!), "+OK\r\n");
  w.reset();
  w.bulk(enc.encode("abc"));
  assertEquals(w.constant, undefined); // built in the buffer
  w.reset();
  w.bulk(null);
  assertEquals(dec.decode(w.constant!), "$-1\r\n");
  // A large bulk empties the buffer through the sink: what follows is not
  // the constant, even at its length.
  w.bulk(enc.encode("0123456789"));
  w.raw(enc.encode("abc"));
  assertEquals(w.length, 5);
  assertEquals(w.constant, undefined);
});
