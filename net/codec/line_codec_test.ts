import { assertEquals, assertThrows } from "@std/assert";
import { FrameTooLargeError } from "./frame_too_large_error.ts";
import { LineCodec } from "./line_codec.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function decodeAll(
  codec: LineCodec<boolean>,
  chunks: string[],
): { lines: string[]; discarded: number[] } {
  const decoder = codec.createDecoder();
  const lines: string[] = [];
  const discarded: number[] = [];
  for (const chunk of chunks) {
    decoder.decode(
      enc(chunk),
      (line) => void lines.push(typeof line === "string" ? line : dec(line)),
      (error) => void discarded.push(error.size),
    );
  }
  return { lines, discarded };
}

Deno.test("LineCodec splits on \\n and strips one \\r before it", () => {
  const { lines } = decodeAll(new LineCodec(), ["a\nb\r\n\r\r\n", "\nc\rd\n"]);
  assertEquals(lines, ["a", "b", "\r", "", "c\rd"]);
});

Deno.test("LineCodec hands out a line whole inside the chunk as a view of it", () => {
  const chunk = enc("one\ntwo\n");
  const views: Uint8Array[] = [];
  new LineCodec().createDecoder().decode(
    chunk,
    (line) => void views.push(line),
  );
  assertEquals(views.map((v) => v.buffer === chunk.buffer), [true, true]);
  assertEquals(views.map((v) => v.byteOffset), [0, 4]);
});

Deno.test("LineCodec assembles a line across reads, \\r\\n split too", () => {
  const { lines } = decodeAll(new LineCodec({ decodeUtf8: true }), [
    "hel",
    "lo\r",
    "\nwo",
    "rld",
    "\n",
  ]);
  assertEquals(lines, ["hello", "world"]);
});

Deno.test("LineCodec decodes UTF-8 split inside a character", () => {
  const bytes = enc("héllo ✓\n");
  const decoder = new LineCodec({ decodeUtf8: true }).createDecoder();
  const lines: string[] = [];
  for (const b of bytes) {
    decoder.decode(new Uint8Array([b]), (l) => void lines.push(l));
  }
  assertEquals(lines, ["héllo ✓"]);
});

Deno.test("LineCodec accepts a line of exactly maxFrameSize, with or without \\r", () => {
  const { lines } = decodeAll(new LineCodec({ maxFrameSize: 4 }), [
    "abcd\nab",
    "cd\r\n",
  ]);
  assertEquals(lines, ["abcd", "abcd"]);
});

Deno.test("LineCodec throws FrameTooLargeError with size and limit", () => {
  const decoder = new LineCodec({ maxFrameSize: 4 }).createDecoder();
  const error = assertThrows(
    () => decoder.decode(enc("abcde\n"), () => {}),
    FrameTooLargeError,
    "Cannot decode frame as its size exceeds 'maxFrameSize' (4): received 5 bytes",
  );
  assertEquals([error.size, error.limit], [5, 4]);
});

Deno.test("LineCodec fails a line without \\n as soon as it passes the limit", () => {
  const decoder = new LineCodec({ maxFrameSize: 8 }).createDecoder();
  // 8 bytes and a possible "\r" may still be a valid line.
  decoder.decode(enc("abcdefgh\r"), () => {});
  assertEquals(decoder.buffered, 9);
  assertThrows(() => decoder.decode(enc("x"), () => {}), FrameTooLargeError);
  assertEquals(decoder.buffered, 0);
});

Deno.test("LineCodec in discard mode drops an over-long line and resynchronizes", () => {
  const codec = new LineCodec({ maxFrameSize: 4, overlong: "discard" });
  const whole = decodeAll(codec, ["ok\nway too long\nnext\n"]);
  assertEquals(whole, { lines: ["ok", "next"], discarded: [12] });
  const drip = decodeAll(codec, [..."ok\nway too long\nnext\n"]);
  assertEquals(drip.lines, ["ok", "next"]);
  assertEquals(drip.discarded.length, 1);
  const spanning = decodeAll(codec, ["abc", "defgh", "ijk", "l\nyes\n"]);
  assertEquals(spanning.lines, ["yes"]);
  assertEquals(spanning.discarded.length, 1);
});

Deno.test("LineCodec in discard mode never holds more than the limit", () => {
  const decoder = new LineCodec({ maxFrameSize: 16, overlong: "discard" })
    .createDecoder();
  for (let i = 0; i < 1000; i++) {
    decoder.decode(enc("xxxxxxxxxx"), () => {});
    if (decoder.buffered > 17) throw new Error(`held ${decoder.buffered}`);
  }
});

Deno.test("LineCodec stops when the callback returns false", () => {
  const decoder = new LineCodec().createDecoder();
  const seen: string[] = [];
  const chunk = enc("a\nb\nc\n");
  const used = decoder.decode(chunk, (line) => {
    seen.push(dec(line));
    return seen.length < 2;
  });
  assertEquals([used, seen], [4, ["a", "b"]]);
  decoder.decode(chunk.subarray(used), (line) => void seen.push(dec(line)));
  assertEquals(seen, ["a", "b", "c"]);
});

Deno.test("LineCodec.takeBuffered returns the unfinished line", () => {
  const decoder = new LineCodec().createDecoder();
  decoder.decode(enc("done\npart"), () => {});
  assertEquals(dec(decoder.takeBuffered()), "part");
  assertEquals(decoder.buffered, 0);
});

Deno.test("LineCodec.encode appends the line ending and rejects embedded \\n", () => {
  assertEquals(dec(new LineCodec().encode("héllo")), "héllo\n");
  assertEquals(
    dec(new LineCodec({ lineEnding: "\r\n" }).encode(enc("x"))),
    "x\r\n",
  );
  assertThrows(
    () => new LineCodec().encode("a\nb"),
    RangeError,
    "Cannot encode line as it contains '\\n'",
  );
  assertThrows(() => new LineCodec().encode(enc("a\n")), RangeError);
  assertThrows(
    () => new LineCodec().encode(42 as unknown as string),
    TypeError,
    "received number",
  );
});

Deno.test("LineCodec.encode does not hand out a mostly empty buffer for a long line", () => {
  const bytes = new LineCodec().encode("x".repeat(10_000));
  assertEquals([bytes.length, bytes.buffer.byteLength], [10_001, 10_001]);
  const short = new LineCodec().encode("ok");
  assertEquals(dec(short), "ok\n");
});

Deno.test("LineCodec rejects invalid options", () => {
  assertThrows(
    () => new LineCodec({ maxFrameSize: 0 }),
    RangeError,
    "Cannot create line codec as 'maxFrameSize' must be a positive integer: received 0",
  );
  assertThrows(
    () => new LineCodec({ overlong: "skip" as "discard" }),
    RangeError,
    "'overlong' must be 'error' or 'discard': received 'skip'",
  );
  assertThrows(
    () => new LineCodec(null as unknown as undefined),
    TypeError,
    "'options' must be an object",
  );
  assertEquals(new LineCodec().maxFrameSize, 65536);
});
