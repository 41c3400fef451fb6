// Properties of TcpStream.readUntil over real loopback sockets: the lines
// (and the final TooBigError, IncompleteError or end of stream) do not depend
// on how the peer's writes cut the stream, and match a reference splitter.

import { assertEquals } from "@std/assert";
import fc from "fast-check";
import {
  IncompleteError,
  TcpListener,
  TcpStream,
  TooBigError,
} from "../net/mod.ts";
import { assertProperty, cutPoints, splitAt } from "./_property.ts";

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

// What readUntil must return, call by call, for the whole stream.
function reference(
  bytes: Uint8Array,
  delimiter: Uint8Array,
  maxLength: number,
): string[] {
  const out: string[] = [];
  let pos = 0;
  while (true) {
    const index = indexOf(bytes, delimiter, pos);
    if (index !== -1 && index - pos <= maxLength) {
      out.push(`line ${Array.from(bytes.subarray(pos, index))}`);
      pos = index + delimiter.length;
      continue;
    }
    const rest = bytes.length - pos;
    if (index !== -1 || rest >= maxLength + delimiter.length) {
      out.push("too big");
    } else if (rest === 0) out.push("end");
    else out.push(`incomplete ${rest}`);
    return out;
  }
}

async function readLines(
  listener: TcpListener,
  chunks: readonly Uint8Array[],
  delimiter: Uint8Array,
  maxLength: number,
): Promise<string[]> {
  let readerDone = false;
  const writer = (async () => {
    using client = await TcpStream.connect(listener.addr);
    try {
      for (const chunk of chunks) {
        await client.writeAll(chunk);
        // Let the reader see this chunk on its own, most of the time.
        await new Promise((r) => setTimeout(r, 0));
      }
      await client.closeWrite();
    } catch (error) {
      // The reader stops early on a too-long line and closes.
      if (!readerDone) throw error;
    }
    // Wait for the reader to finish before closing (no reset).
    await client.read(new Uint8Array(1), { timeoutMs: 10_000 }).catch(() => {});
  })();
  using server = await listener.accept({ timeoutMs: 10_000 });
  const out: string[] = [];
  try {
    while (true) {
      const line = await server.readUntil(delimiter, {
        maxLength,
        timeoutMs: 10_000,
      });
      if (line === null) {
        out.push("end");
        break;
      }
      out.push(`line ${Array.from(line)}`);
    }
  } catch (error) {
    if (error instanceof TooBigError) out.push("too big");
    else if (error instanceof IncompleteError) {
      out.push(`incomplete ${error.partial.length}`);
    } else throw error;
  }
  readerDone = true;
  server.close();
  await writer;
  return out;
}

// Streams over a tiny alphabet, so delimiters (also overlapping ones such as
// "aab") occur, split across writes and near maxLength.
const alphabet = fc.constantFrom(97, 98, 13, 10);
const delimiterArb = fc.oneof(
  fc.constant(Uint8Array.of(10)),
  fc.constant(Uint8Array.of(13, 10)),
  fc.array(alphabet, { minLength: 1, maxLength: 3 }).map((a) =>
    Uint8Array.from(a)
  ),
);

Deno.test("TcpStream.readUntil: any split of the stream gives the reference lines and ending", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  await assertProperty(
    fc.asyncProperty(
      fc.array(alphabet, { maxLength: 120 }).map((a) => Uint8Array.from(a)),
      delimiterArb,
      fc.integer({ min: 1, max: 24 }),
      cutPoints.map((c) => c.slice(0, 12)),
      async (bytes, delimiter, maxLength, cuts) => {
        assertEquals(
          await readLines(listener, splitAt(bytes, cuts), delimiter, maxLength),
          reference(bytes, delimiter, maxLength),
        );
      },
    ),
    { numRuns: 60 },
  );
});
