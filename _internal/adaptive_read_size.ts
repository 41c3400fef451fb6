// The one adaptive receive-buffer policy (netty's AdaptiveRecvByteBufAllocator
// in miniature), used by the reactor's connection reader and by TcpStream:
// a pending read pins its buffer, so idle connections should hold a small one
// and busy ones a large one.

/**
 * The size of the next read buffer after a read of `bytesRead` bytes into a
 * buffer of `size`: double it (up to `max`) when the read filled it, halve it
 * (down to `min`) when the read used a quarter or less, else keep it.
 *
 * @param size The size of the buffer just read into.
 * @param bytesRead How many bytes the read returned.
 * @param min The smallest size.
 * @param max The largest size.
 * @returns The size for the next read.
 *
 * @example Usage
 * ```ts
 * import { nextReadSize } from "./adaptive_read_size.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(nextReadSize(64, 64, 64, 65536), 128); // full: grow
 * assertEquals(nextReadSize(4096, 100, 64, 65536), 2048); // small: shrink
 * assertEquals(nextReadSize(4096, 2000, 64, 65536), 4096); // keep
 * ```
 */
export function nextReadSize(
  size: number,
  bytesRead: number,
  min: number,
  max: number,
): number {
  if (bytesRead >= size) return size < max ? Math.min(size * 2, max) : size;
  if (bytesRead * 4 <= size && size > min) return Math.max(size >> 1, min);
  return size;
}
