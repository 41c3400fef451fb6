import { assertEquals, assertThrows } from "@std/assert";
import { FrameTooLargeError } from "./frame_too_large_error.ts";
import { InvalidFrameError } from "./invalid_frame_error.ts";
import {
  LengthPrefixedCodec,
  type LengthPrefixedCodecOptions,
} from "./length_prefixed_codec.ts";

function decodeChunks(
  codec: LengthPrefixedCodec,
  chunks: Uint8Array[],
): number[][] {
  const decoder = codec.createDecoder();
  const frames: number[][] = [];
  for (const c of chunks) decoder.decode(c, (f) => void frames.push([...f]));
  return frames;
}

Deno.test("LengthPrefixedCodec reads 1, 2, 4 and 8-byte lengths in both byte orders", () => {
  const cases: [LengthPrefixedCodecOptions, number[]][] = [
    [{ lengthFieldLength: 1 }, [2, 9, 8]],
    [{ lengthFieldLength: 2 }, [0, 2, 9, 8]],
    [{ lengthFieldLength: 2, endian: "little" }, [2, 0, 9, 8]],
    [{ lengthFieldLength: 4 }, [0, 0, 0, 2, 9, 8]],
    [{ lengthFieldLength: 4, endian: "little" }, [2, 0, 0, 0, 9, 8]],
    [{ lengthFieldLength: 8 }, [0, 0, 0, 0, 0, 0, 0, 2, 9, 8]],
    [{ lengthFieldLength: 8, endian: "little" }, [
      2,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      9,
      8,
    ]],
  ];
  for (const [options, wire] of cases) {
    const codec = new LengthPrefixedCodec(options);
    assertEquals(decodeChunks(codec, [new Uint8Array(wire)]), [[9, 8]]);
    assertEquals([...codec.encode(new Uint8Array([9, 8]))], wire);
  }
});

Deno.test("LengthPrefixedCodec honours offset, adjustment and stripping", () => {
  // type byte, 2-byte length counting the whole header (3 bytes), keep all.
  const codec = new LengthPrefixedCodec({
    lengthFieldOffset: 1,
    lengthFieldLength: 2,
    lengthAdjustment: -3,
    headerBytesToStrip: 1,
  });
  const wire = new Uint8Array([7, 0, 5, 1, 2, 7, 0, 3]);
  assertEquals(decodeChunks(codec, [wire]), [[0, 5, 1, 2], [0, 3]]);
  assertEquals(
    decodeChunks(codec, [...wire].map((b) => new Uint8Array([b]))),
    [[0, 5, 1, 2], [0, 3]],
  );
  assertEquals([...codec.encode(new Uint8Array([1, 2]))], [0, 0, 5, 1, 2]);
});

Deno.test("LengthPrefixedCodec hands out a frame inside the chunk as a view", () => {
  const chunk = new Uint8Array([0, 0, 0, 1, 42, 0, 0, 0, 0]);
  const views: Uint8Array[] = [];
  new LengthPrefixedCodec().createDecoder().decode(
    chunk,
    (f) => void views.push(f),
  );
  assertEquals(views.map((v) => [v.buffer === chunk.buffer, v.byteOffset]), [
    [true, 4],
    [true, 9],
  ]);
});

Deno.test("LengthPrefixedCodec fails an announced oversize frame before buffering its body", () => {
  const codec = new LengthPrefixedCodec({ maxFrameSize: 1000 });
  const decoder = codec.createDecoder();
  decoder.decode(new Uint8Array([0, 0, 3]), () => {});
  assertEquals(decoder.buffered, 3);
  const error = assertThrows(
    () => decoder.decode(new Uint8Array([0xe9, 1, 2, 3]), () => {}),
    FrameTooLargeError,
    "Cannot decode frame as its size exceeds 'maxFrameSize' (1000): received 1001 bytes",
  );
  assertEquals([error.size, error.limit, decoder.buffered], [1001, 1000, 0]);
  // Exactly the limit passes.
  assertEquals(
    decodeChunks(codec, [new Uint8Array([0, 0, 3, 0xe8]), new Uint8Array(1000)])
      .map((f) => f.length),
    [1000],
  );
});

Deno.test("LengthPrefixedCodec fails an 8-byte length past 2 ** 53", () => {
  const decoder = new LengthPrefixedCodec({ lengthFieldLength: 8 })
    .createDecoder();
  assertThrows(
    () => decoder.decode(new Uint8Array(8).fill(0xff), () => {}),
    FrameTooLargeError,
  );
});

Deno.test("LengthPrefixedCodec rejects a length below the adjustment", () => {
  const decoder = new LengthPrefixedCodec({ lengthAdjustment: -4 })
    .createDecoder();
  assertThrows(
    () => decoder.decode(new Uint8Array([0, 0, 0, 3]), () => {}),
    InvalidFrameError,
    "Cannot decode frame as its length field is too small for 'lengthAdjustment' (-4): received 3",
  );
});

Deno.test("LengthPrefixedCodec grows a dripped frame geometrically, not per byte", () => {
  const size = 1 << 16;
  const decoder = new LengthPrefixedCodec().createDecoder();
  const wire = new LengthPrefixedCodec().encode(new Uint8Array(size).fill(7));
  let frame: Uint8Array | undefined;
  for (let i = 0; i < wire.length; i++) {
    decoder.decode(wire.subarray(i, i + 1), (f) => void (frame = f.slice()));
  }
  assertEquals(frame?.length, size);
  assertEquals(frame?.every((b) => b === 7), true);
});

Deno.test("LengthPrefixedCodec.encode rejects lengths the field cannot hold", () => {
  assertThrows(
    () =>
      new LengthPrefixedCodec({ lengthFieldLength: 1 }).encode(
        new Uint8Array(256),
      ),
    RangeError,
    "Cannot encode frame as its length does not fit a 1-byte length field: received 256 bytes",
  );
  assertThrows(
    () =>
      new LengthPrefixedCodec({ lengthAdjustment: 5 }).encode(
        new Uint8Array(2),
      ),
    RangeError,
  );
});

Deno.test("LengthPrefixedCodec rejects invalid options", () => {
  assertThrows(
    () => new LengthPrefixedCodec({ lengthFieldLength: 3 as 4 }),
    RangeError,
    "Cannot create length-prefixed codec as 'lengthFieldLength' must be 1, 2, 4 or 8: received 3",
  );
  assertThrows(
    () => new LengthPrefixedCodec({ headerBytesToStrip: 5 }),
    RangeError,
    "'headerBytesToStrip' must be an integer from 0 to 4: received 5",
  );
  assertThrows(
    () => new LengthPrefixedCodec({ endian: "middle" as "big" }),
    RangeError,
  );
  assertThrows(
    () => new LengthPrefixedCodec({ maxFrameSize: "1" as unknown as number }),
    TypeError,
  );
});
