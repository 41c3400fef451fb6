import { assertEquals } from "@std/assert";
import { LineSplitter } from "./line_splitter.ts";

const enc = new TextEncoder();

function collect(splitter: LineSplitter, chunks: (string | Uint8Array)[]) {
  const out: string[] = [];
  const sink = {
    line: (text: string) => out.push(text),
    tooLong: () => out.push("<too long>"),
  };
  for (const c of chunks) {
    splitter.push(typeof c === "string" ? enc.encode(c) : c, sink);
  }
  return out;
}

Deno.test("LineSplitter splits lines across chunks and strips CR", () => {
  const s = new LineSplitter(16);
  assertEquals(collect(s, ["he", "llo\r\nwor", "ld\n\n", "tail"]), [
    "hello",
    "world",
    "",
  ]);
  assertEquals(s.buffered, 4);
});

Deno.test("LineSplitter rejects an overlong line once and resynchronizes", () => {
  const s = new LineSplitter(8);
  const out = collect(s, [
    "12345678\n", // exactly the limit: accepted
    "123456789\n", // one over
    "abcdefgh",
    "ijklmnop", // overflows while unfinished: reported, then skipped
    "qrs\nok\n",
  ]);
  assertEquals(out, ["12345678", "<too long>", "<too long>", "ok"]);
  assertEquals(s.buffered, 0);
});

Deno.test("LineSplitter never buffers more than maxLength + 1 bytes", () => {
  const s = new LineSplitter(4096);
  const chunk = new Uint8Array(1000).fill(0x61);
  let tooLong = 0;
  const sink = { line: () => {}, tooLong: () => tooLong++ };
  for (let i = 0; i < 1000; i++) {
    s.push(chunk, sink);
    assertEquals(s.buffered <= 4097, true);
  }
  assertEquals(tooLong, 1);
  s.push(enc.encode("\nhi\n"), {
    line: (t) => assertEquals(t, "hi"),
    tooLong: () => tooLong++,
  });
  assertEquals(tooLong, 1);
});

Deno.test("LineSplitter accepts a max-length line ending in CRLF", () => {
  const s = new LineSplitter(4);
  assertEquals(collect(s, ["abcd\r\n", "ab", "cd\r", "\n"]), ["abcd", "abcd"]);
});
