// Properties of every codec: any split of a valid stream gives the same
// frames as the whole stream; arbitrary bytes, arbitrarily split, throw
// nothing but the documented errors and never make a decoder hold more than
// its limit allows.

import fc from "fast-check";
import { assert, assertEquals } from "@std/assert";
import {
  assertProperty,
  concat,
  cutPoints,
  splitAt,
} from "../../tests/_property.ts";
import type { Codec } from "./codec.ts";
import { DelimiterCodec } from "./delimiter_codec.ts";
import { FrameTooLargeError } from "./frame_too_large_error.ts";
import { InvalidFrameError } from "./invalid_frame_error.ts";
import { LengthPrefixedCodec } from "./length_prefixed_codec.ts";
import { LineCodec } from "./line_codec.ts";

/** Decodes the chunks in order; every frame copied out. */
function decodeChunks(
  codec: Codec<Uint8Array>,
  chunks: Uint8Array[],
): number[][] {
  const decoder = codec.createDecoder();
  const frames: number[][] = [];
  for (const chunk of chunks) {
    decoder.decode(chunk, (frame) => void frames.push([...frame]));
  }
  return frames;
}

const lengthPrefixedOptions = fc.record({
  lengthFieldLength: fc.constantFrom(
    1 as const,
    2 as const,
    4 as const,
    8 as const,
  ),
  endian: fc.constantFrom("big" as const, "little" as const),
  lengthFieldOffset: fc.nat({ max: 3 }),
  lengthAdjustment: fc.integer({ min: -4, max: 4 }),
});

Deno.test("property: any split of a length-prefixed stream gives the same frames", async () => {
  await assertProperty(
    fc.property(
      lengthPrefixedOptions,
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      cutPoints,
      (options, payloads, cuts) => {
        const codec = new LengthPrefixedCodec(options);
        // Payloads the length field can describe (a positive adjustment
        // needs a payload at least that long, a 1-byte field one under 256).
        const fitting = payloads.filter((p) => {
          const value = p.length - options.lengthAdjustment;
          return value >= 0 && (options.lengthFieldLength > 1 || value < 256);
        });
        const stream = concat(fitting.map((p) => codec.encode(p)));
        const frames = decodeChunks(codec, splitAt(stream, cuts));
        assertEquals(frames, fitting.map((p) => [...p]));
      },
    ),
  );
});

Deno.test("property: any split of a line stream gives the same lines", async () => {
  await assertProperty(
    fc.property(
      fc.array(fc.string({ unit: "binary", maxLength: 80 }), { maxLength: 12 }),
      fc.boolean(),
      cutPoints,
      (texts, crlf, cuts) => {
        const lines = texts.map((t) =>
          t.replaceAll("\n", " ").replace(/\r$/, "")
        );
        const codec = new LineCodec({
          decodeUtf8: true,
          lineEnding: crlf ? "\r\n" : "\n",
        });
        const stream = concat(lines.map((l) => codec.encode(l)));
        const decoder = codec.createDecoder();
        const out: string[] = [];
        for (const chunk of splitAt(stream, cuts)) {
          decoder.decode(chunk, (line) => void out.push(line));
        }
        assertEquals(
          out,
          lines.map((l) =>
            new TextDecoder().decode(new TextEncoder().encode(l))
          ),
        );
      },
    ),
  );
});

Deno.test("property: any split of a delimited stream gives the same frames", async () => {
  await assertProperty(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 4, max: 3 }),
      fc.array(fc.uint8Array({ maxLength: 40, max: 3 }), { maxLength: 12 }),
      cutPoints,
      (delimiter, candidates, cuts) => {
        const codec = new DelimiterCodec(delimiter);
        // Keep frames that cannot form a delimiter with their neighbours:
        // the reference is the whole stream decoded in one chunk.
        const stream = concat(candidates.map((c) => {
          try {
            return codec.encode(c);
          } catch {
            return new Uint8Array(0);
          }
        }));
        const whole = decodeChunks(codec, [stream]);
        assertEquals(decodeChunks(codec, splitAt(stream, cuts)), whole);
        assertEquals(
          decodeChunks(codec, [...stream].map((b) => new Uint8Array([b]))),
          whole,
        );
      },
    ),
  );
});

/** A reference splitter: frames between delimiters, over-long ones dropped. */
function referenceFrames(
  stream: Uint8Array,
  delimiter: Uint8Array,
  max: number,
  stripCr: boolean,
): number[][] {
  const frames: number[][] = [];
  let start = 0;
  for (let i = 0; i + delimiter.length <= stream.length;) {
    if (delimiter.every((b, k) => stream[i + k] === b)) {
      let frame = [...stream.subarray(start, i)];
      if (stripCr && frame.at(-1) === 0x0d) frame = frame.slice(0, -1);
      if (frame.length <= max) frames.push(frame);
      i += delimiter.length;
      start = i;
    } else {
      i++;
    }
  }
  return frames;
}

Deno.test("property: discard mode on arbitrary bytes matches a reference splitter", async () => {
  await assertProperty(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3, max: 2 }),
      fc.uint8Array({ maxLength: 400, max: 3 }),
      fc.integer({ min: 1, max: 12 }),
      cutPoints,
      (delimiter, stream, max, cuts) => {
        const codec = new DelimiterCodec(delimiter, {
          maxFrameSize: max,
          overlong: "discard",
        });
        const decoder = codec.createDecoder();
        const frames: number[][] = [];
        for (const chunk of splitAt(stream, cuts)) {
          decoder.decode(chunk, (f) => void frames.push([...f]), () => {});
          assert(decoder.buffered <= max + delimiter.length - 1);
        }
        assertEquals(frames, referenceFrames(stream, delimiter, max, false));
      },
    ),
  );
});

Deno.test("property: LineCodec discard mode on arbitrary bytes matches a reference splitter", async () => {
  await assertProperty(
    fc.property(
      fc.uint8Array({ maxLength: 400, min: 0x09, max: 0x0e }),
      fc.integer({ min: 1, max: 12 }),
      cutPoints,
      (stream, max, cuts) => {
        const decoder = new LineCodec({
          maxFrameSize: max,
          overlong: "discard",
        }).createDecoder();
        const frames: number[][] = [];
        for (const chunk of splitAt(stream, cuts)) {
          decoder.decode(chunk, (f) => void frames.push([...f]), () => {});
          assert(decoder.buffered <= max + 1);
        }
        assertEquals(
          frames,
          referenceFrames(stream, new Uint8Array([0x0a]), max, true),
        );
      },
    ),
  );
});

Deno.test("property: arbitrary bytes never throw anything but the documented errors nor buffer past the limit", async () => {
  const codecs = fc.oneof(
    lengthPrefixedOptions.chain((o) =>
      fc.integer({ min: 1, max: 64 }).map((max) => {
        const codec = new LengthPrefixedCodec({ ...o, maxFrameSize: max });
        return {
          codec,
          bound: o.lengthFieldOffset + o.lengthFieldLength + max,
        };
      })
    ),
    fc.integer({ min: 1, max: 64 }).map((max) => ({
      codec: new LineCodec({ maxFrameSize: max }) as Codec<Uint8Array>,
      bound: max + 1,
    })),
    fc.tuple(
      fc.uint8Array({ minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 64 }),
    )
      .map(([d, max]) => ({
        codec: new DelimiterCodec(d, { maxFrameSize: max }) as Codec<
          Uint8Array
        >,
        bound: max + d.length - 1,
      })),
  );
  await assertProperty(
    fc.property(
      codecs,
      fc.uint8Array({ maxLength: 2000 }),
      cutPoints,
      ({ codec, bound }, bytes, cuts) => {
        const decoder = codec.createDecoder();
        for (const chunk of splitAt(bytes, cuts)) {
          try {
            decoder.decode(chunk, (frame) => {
              assert(frame.length <= bound);
            });
          } catch (error) {
            if (error instanceof FrameTooLargeError) {
              assert(error.size > error.limit);
              return;
            }
            if (error instanceof InvalidFrameError) return;
            throw error;
          }
          assert(
            decoder.buffered <= bound,
            `held ${decoder.buffered} > ${bound}`,
          );
        }
      },
    ),
  );
});
