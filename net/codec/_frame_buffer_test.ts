import { assertEquals } from "@std/assert";
import { FrameBuffer } from "./_frame_buffer.ts";

Deno.test("FrameBuffer reallocates O(log n) times on a 1-byte drip", () => {
  const buffer = new FrameBuffer(1 << 20);
  const one = new Uint8Array([1]);
  let reallocations = 0;
  let last = buffer.bytes;
  for (let i = 0; i < 1 << 20; i++) {
    buffer.append(one, 0, 1);
    if (buffer.bytes !== last) {
      reallocations++;
      last = buffer.bytes;
    }
  }
  assertEquals(buffer.length, 1 << 20);
  // 64 B doubling up to 1 MiB: 15 buffers.
  assertEquals(reallocations, 15);
});

Deno.test("FrameBuffer never grows past its cap and drops a large buffer after use", () => {
  const buffer = new FrameBuffer(100_000);
  buffer.append(new Uint8Array(70_000), 0, 70_000);
  buffer.append(new Uint8Array(30_000), 0, 30_000);
  assertEquals(buffer.bytes.length, 100_000);
  assertEquals(buffer.take().length, 100_000);
  assertEquals(buffer.bytes.length, 0);
});
