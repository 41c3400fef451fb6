import { assertEquals } from "@std/assert";
import { nextReadSize } from "./adaptive_read_size.ts";

Deno.test("nextReadSize() doubles on a full read up to the maximum", () => {
  assertEquals(nextReadSize(64, 64, 64, 65536), 128);
  assertEquals(nextReadSize(32768, 32768, 64, 65536), 65536);
  assertEquals(nextReadSize(65536, 65536, 64, 65536), 65536);
  assertEquals(nextReadSize(48000, 48000, 64, 65536), 65536);
});

Deno.test("nextReadSize() halves on a quarter-full read down to the minimum", () => {
  assertEquals(nextReadSize(65536, 16384, 64, 65536), 32768);
  assertEquals(nextReadSize(65536, 16385, 64, 65536), 65536);
  assertEquals(nextReadSize(128, 1, 64, 65536), 64);
  assertEquals(nextReadSize(64, 0, 64, 65536), 64);
  assertEquals(nextReadSize(8192, 0, 4096, 65536), 4096);
});

Deno.test("nextReadSize() settles on a steady read size", () => {
  let size = 64;
  for (let i = 0; i < 20; i++) {
    size = nextReadSize(size, Math.min(size, 3000), 64, 65536);
  }
  assertEquals(size, 4096); // 3000 B reads: fills 2048, not a quarter of 4096
  for (let i = 0; i < 20; i++) size = nextReadSize(size, 10, 64, 65536);
  assertEquals(size, 64);
});
