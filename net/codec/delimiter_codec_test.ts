import { assertEquals, assertThrows } from "@std/assert";
import { DelimiterCodec } from "./delimiter_codec.ts";
import { FrameTooLargeError } from "./frame_too_large_error.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function decodeChunks(codec: DelimiterCodec, chunks: string[]): string[] {
  const decoder = codec.createDecoder();
  const frames: string[] = [];
  for (const c of chunks) {
    decoder.decode(enc(c), (f) => void frames.push(dec(f)));
  }
  return frames;
}

Deno.test("DelimiterCodec finds a multi-byte delimiter split at every position", () => {
  const stream = "alpha\r\n\r\nbeta\r\n\r\n\r\n\r\ngamma\r\n\r\n";
  const codec = new DelimiterCodec("\r\n\r\n");
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j++) {
      const frames = decodeChunks(codec, [
        stream.slice(0, i),
        stream.slice(i, j),
        stream.slice(j),
      ]);
      assertEquals(frames, ["alpha", "beta", "", "gamma"], `cuts ${i} ${j}`);
    }
  }
});

Deno.test("DelimiterCodec handles self-overlapping delimiters byte by byte", () => {
  const codec = new DelimiterCodec("aab");
  assertEquals(decodeChunks(codec, [..."xaaabyaab"]), ["xa", "y"]);
  assertEquals(decodeChunks(codec, ["xaaabyaab"]), ["xa", "y"]);
});

Deno.test("DelimiterCodec hands out a frame inside the chunk as a view", () => {
  const chunk = enc("a--b--");
  const views: Uint8Array[] = [];
  new DelimiterCodec("--").createDecoder().decode(
    chunk,
    (f) => void views.push(f),
  );
  assertEquals(views.map((v) => v.buffer === chunk.buffer), [true, true]);
});

Deno.test("DelimiterCodec limits frames, also while the delimiter is split", () => {
  const codec = new DelimiterCodec("--", { maxFrameSize: 3 });
  assertEquals(decodeChunks(codec, ["abc-", "-"]), ["abc"]);
  const decoder = codec.createDecoder();
  decoder.decode(enc("abc-"), () => {});
  assertEquals(decoder.buffered, 4);
  const error = assertThrows(
    () => decoder.decode(enc("x"), () => {}),
    FrameTooLargeError,
  );
  assertEquals(error.limit, 3);
});

Deno.test("DelimiterCodec in discard mode resynchronizes across a split delimiter", () => {
  const codec = new DelimiterCodec("--", {
    maxFrameSize: 3,
    overlong: "discard",
  });
  assertEquals(decodeChunks(codec, ["abcdef", "gh-", "-ok--"]), ["ok"]);
  assertEquals(decodeChunks(codec, [..."abcdefgh--ok--"]), ["ok"]);
});

Deno.test("DelimiterCodec.encode appends the delimiter and rejects it inside", () => {
  const codec = new DelimiterCodec(new Uint8Array([0]));
  assertEquals(codec.encode(enc("hi")), new Uint8Array([0x68, 0x69, 0]));
  assertThrows(
    () => codec.encode(new Uint8Array([1, 0, 2])),
    RangeError,
    "Cannot encode frame as it contains the delimiter",
  );
});

Deno.test("DelimiterCodec rejects an empty or missing delimiter", () => {
  assertThrows(
    () => new DelimiterCodec(""),
    RangeError,
    "Cannot create delimiter codec as 'delimiter' must be non-empty: received ''",
  );
  assertThrows(
    () => new DelimiterCodec(undefined as unknown as string),
    TypeError,
    "'delimiter' must be a string or a Uint8Array: received undefined",
  );
});
