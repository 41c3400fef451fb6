// Decode throughput of the codecs against a hand-written inline parser and
// against the stream-based TextLineStream (npm `textlinestream` 1.1.1, a 2022
// copy of Deno std's `TextLineStream`, as JSR is not reachable here), fed
// through TextDecoderStream as a Deno program would. 64-byte frames, delivered as 64 KiB chunks and as 1-byte drips.
// Every iteration decodes FRAMES (chunked) or DRIP_FRAMES (drip) frames and
// checks the count, so frames/s = frames per iteration × iter/s.
//
//   deno bench -A net/codec/codec_bench.ts

import TextLineStream from "textlinestream";
import { LengthPrefixedCodec } from "./length_prefixed_codec.ts";
import { LineCodec } from "./line_codec.ts";

const FRAME = 64;
const CHUNK = 64 * 1024;
const FRAMES = 16_384; // 1 MiB of frames, 16 chunks
const DRIP_FRAMES = 256; // 16 KiB, one byte per chunk

function chunked(stream: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += size) {
    chunks.push(stream.subarray(i, i + size));
  }
  return chunks;
}

function lineStream(frames: number): Uint8Array {
  const line = new Uint8Array(FRAME).fill(0x61);
  line[FRAME - 1] = 0x0a;
  const out = new Uint8Array(frames * FRAME);
  for (let i = 0; i < frames; i++) out.set(line, i * FRAME);
  return out;
}

function lengthPrefixedStream(frames: number): Uint8Array {
  const codec = new LengthPrefixedCodec();
  const frame = codec.encode(new Uint8Array(FRAME - 4).fill(0x61));
  const out = new Uint8Array(frames * FRAME);
  for (let i = 0; i < frames; i++) out.set(frame, i * FRAME);
  return out;
}

const LINES = chunked(lineStream(FRAMES), CHUNK);
const LINE_DRIPS = chunked(lineStream(DRIP_FRAMES), 1);
const PREFIXED = chunked(lengthPrefixedStream(FRAMES), CHUNK);
const PREFIXED_DRIPS = chunked(lengthPrefixedStream(DRIP_FRAMES), 1);

function expect(count: number, wanted: number): void {
  if (count !== wanted) {
    throw new Error(`Decoded ${count} frames: expected ${wanted}`);
  }
}

// Sinks touch the frame so that no contender gets away with less work.
let sink = 0;

// Frames every contender delivered in this iteration, checked by `counted`.
// The codecs deliver them to one callback per frame type: each decode call
// site below sees one decoder class and one callback, as a server with one
// codec does (one shared site slowed the length-prefixed drips 1.4×).
let decoded = 0;
const countBytes = (frame: Uint8Array) => {
  sink += frame.length;
  decoded++;
};
const countString = (frame: string) => {
  sink += frame.length;
  decoded++;
};

/** An iteration: `decodeAll` over fresh state, then the frame count checked. */
function counted(wanted: number, decodeAll: () => void): () => void {
  return () => {
    decoded = 0;
    decodeAll();
    expect(decoded, wanted);
  };
}

function codecLines(chunks: Uint8Array[], utf8: boolean): void {
  if (utf8) {
    const decoder = new LineCodec({ decodeUtf8: true }).createDecoder();
    for (const chunk of chunks) decoder.decode(chunk, countString);
  } else {
    const decoder = new LineCodec().createDecoder();
    for (const chunk of chunks) decoder.decode(chunk, countBytes);
  }
}

function codecPrefixed(chunks: Uint8Array[]): void {
  const decoder = new LengthPrefixedCodec().createDecoder();
  for (const chunk of chunks) decoder.decode(chunk, countBytes);
}

/** A larger `carry` with room for `need` bytes, its first `held` kept. */
function grow(
  carry: Uint8Array<ArrayBuffer>,
  held: number,
  need: number,
): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(Math.max(need, carry.length * 2));
  grown.set(carry.subarray(0, held));
  return grown;
}

/**
 * A careful hand-written line splitter, inlined: indexOf per line, a carry
 * buffer that doubles, same limit and "\r" stripping as LineCodec.
 */
function inlineLines(chunks: Uint8Array[]): void {
  const max = 64 * 1024;
  let carry = new Uint8Array(64);
  let held = 0;
  for (const chunk of chunks) {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl === -1) {
        const need = held + chunk.length - pos;
        if (need > max + 1) throw new RangeError("line too long");
        if (need > carry.length) carry = grow(carry, held, need);
        carry.set(chunk.subarray(pos), held);
        held = need;
        break;
      }
      let line: Uint8Array;
      if (held === 0) {
        line = chunk.subarray(pos, nl);
      } else {
        const need = held + nl - pos;
        if (need > carry.length) carry = grow(carry, held, need);
        carry.set(chunk.subarray(pos, nl), held);
        line = carry.subarray(0, need);
        held = 0;
      }
      if (line.length > 0 && line[line.length - 1] === 0x0d) {
        line = line.subarray(0, line.length - 1);
      }
      if (line.length > max) throw new RangeError("line too long");
      sink += line.length;
      decoded++;
      pos = nl + 1;
    }
  }
}

async function textLineStream(chunks: Uint8Array[]): Promise<void> {
  let i = 0;
  const lines = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  }).pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
  for await (const line of lines) {
    sink += (line as string).length;
    decoded++;
  }
}

/** A careful hand-written 4-byte big-endian length parser, inlined. */
function inlinePrefixed(chunks: Uint8Array[]): void {
  const max = 8 * 1024 * 1024;
  let carry = new Uint8Array(64);
  let held = 0;
  for (const chunk of chunks) {
    let pos = 0;
    while (pos < chunk.length) {
      if (held === 0 && chunk.length - pos >= 4) {
        const length = ((chunk[pos]! << 24) >>> 0) + (chunk[pos + 1]! << 16) +
          (chunk[pos + 2]! << 8) + chunk[pos + 3]!;
        if (length > max) throw new RangeError("frame too large");
        if (chunk.length - pos - 4 >= length) {
          sink += chunk.subarray(pos + 4, pos + 4 + length).length;
          decoded++;
          pos += 4 + length;
          continue;
        }
      }
      // Slow path: append what there is, then see whether a frame is whole.
      const take = chunk.length - pos;
      if (held + take > carry.length) carry = grow(carry, held, held + take);
      carry.set(chunk.subarray(pos), held);
      held += take;
      pos = chunk.length;
      while (held >= 4) {
        const length = ((carry[0]! << 24) >>> 0) + (carry[1]! << 16) +
          (carry[2]! << 8) + carry[3]!;
        if (length > max) throw new RangeError("frame too large");
        if (held - 4 < length) break;
        sink += carry.subarray(4, 4 + length).length;
        decoded++;
        carry.copyWithin(0, 4 + length, held);
        held -= 4 + length;
      }
    }
  }
}

// The same rows over whole chunks and over 1-byte drips.
const INPUTS = [
  { how: "64 KiB chunks", lines: LINES, prefixed: PREFIXED, frames: FRAMES },
  {
    how: "1-byte drips",
    lines: LINE_DRIPS,
    prefixed: PREFIXED_DRIPS,
    frames: DRIP_FRAMES,
  },
];
for (const { how, lines, prefixed, frames } of INPUTS) {
  const per = `(${frames} frames/iter)`;
  const group = `lines, 64 B frames in ${how}`;
  Deno.bench({
    name: `LineCodec, bytes ${per}`,
    group,
    baseline: true,
    fn: counted(frames, () => codecLines(lines, false)),
  });
  Deno.bench({
    name: `LineCodec, UTF-8 strings ${per}`,
    group,
    fn: counted(frames, () => codecLines(lines, true)),
  });
  Deno.bench({
    name: `inline parser ${per}`,
    group,
    fn: counted(frames, () => inlineLines(lines)),
  });
  Deno.bench({
    name: `TextDecoderStream + TextLineStream ${per}`,
    group,
    // A stream step per byte is slow: a fixed, small number of iterations.
    ...(lines === LINE_DRIPS ? { n: 20, warmup: 2 } : {}),
    async fn() {
      decoded = 0;
      await textLineStream(lines);
      expect(decoded, frames);
    },
  });
  const prefixedGroup = `length-prefixed, 64 B frames in ${how}`;
  Deno.bench({
    name: `LengthPrefixedCodec ${per}`,
    group: prefixedGroup,
    baseline: true,
    fn: counted(frames, () => codecPrefixed(prefixed)),
  });
  Deno.bench({
    name: `inline parser ${per}`,
    group: prefixedGroup,
    fn: counted(frames, () => inlinePrefixed(prefixed)),
  });
}

addEventListener("unload", () => {
  if (sink === -1) throw new Error("unreachable");
});
