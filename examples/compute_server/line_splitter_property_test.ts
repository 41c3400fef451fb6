// Properties of compute_server's line framing (line_splitter.ts):
// framing does not depend on how the stream is cut into reads, and no input
// makes it hold more than one line's worth of bytes.

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { LineSplitter } from "./line_splitter.ts";
import { assertProperty, cutPoints, splitAt } from "../../tests/_property.ts";

function frames(maxLength: number, chunks: readonly Uint8Array[]): string[] {
  const splitter = new LineSplitter(maxLength);
  const out: string[] = [];
  const sink = {
    line: (text: string) => out.push(`L:${text}`),
    tooLong: () => out.push("TOO LONG"),
  };
  for (const chunk of chunks) {
    splitter.push(chunk, sink);
    assert(
      splitter.buffered <= maxLength + 1,
      `buffered ${splitter.buffered} > maxLength + 1 (${maxLength + 1})`,
    );
  }
  out.push(`REST:${splitter.buffered}`);
  return out;
}

// Lines over an alphabet that makes CR, LF and multi-byte UTF-8 common.
const line = fc.array(
  fc.constantFrom("a", "b", "\r", "é", "€", "😀", " "),
  { maxLength: 40 },
).map((parts) => parts.join(""));

const stream = fc.tuple(fc.array(line, { maxLength: 20 }), line).map((
  [lines, tail],
) => new TextEncoder().encode(lines.map((l) => l + "\n").join("") + tail));

Deno.test("LineSplitter: any split of a stream yields the same lines", async () => {
  await assertProperty(
    fc.property(
      fc.integer({ min: 1, max: 48 }),
      stream,
      cutPoints,
      (maxLength, bytes, cuts) => {
        assertEquals(
          frames(maxLength, splitAt(bytes, cuts)),
          frames(maxLength, [bytes]),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("LineSplitter: arbitrary bytes never throw and stay within maxLength + 1", async () => {
  await assertProperty(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.uint8Array({ maxLength: 256 }), { maxLength: 16 }),
      (maxLength, chunks) => {
        frames(maxLength, chunks);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("LineSplitter: every line a reference splitter sees arrives, overlong ones as one report", async () => {
  await assertProperty(
    fc.property(
      fc.integer({ min: 1, max: 48 }),
      stream,
      cutPoints,
      (maxLength, bytes, cuts) => {
        // Reference: split the whole text on LF, strip one CR, measure bytes.
        const enc = new TextEncoder();
        const text = new TextDecoder().decode(bytes);
        const parts = text.split("\n");
        const rest = enc.encode(parts.pop()!).length;
        const expected = parts.map((l) => {
          const body = l.endsWith("\r") ? l.slice(0, -1) : l;
          return enc.encode(body).length > maxLength ? "TOO LONG" : `L:${body}`;
        });
        // An unfinished overlong tail was already reported and is discarded.
        const restEntry = rest > maxLength + 1 ? ["TOO LONG", "REST:0"] : [
          `REST:${rest}`,
        ];
        assertEquals(frames(maxLength, splitAt(bytes, cuts)), [
          ...expected,
          ...restEntry,
        ]);
      },
    ),
    { numRuns: 300 },
  );
});
