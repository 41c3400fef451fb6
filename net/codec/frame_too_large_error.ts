// The error every decoder of `net/codec/` throws when a frame passes its
// `maxFrameSize`. It is a `TooBigError` (kind "too-big") so that code which
// already handles `TcpStream.readUntil`'s limit handles this one too.

import { TooBigError } from "../errors.ts";

/**
 * A frame is larger than the decoder's `maxFrameSize`. For a length-prefixed
 * frame, `size` is the size the length field announced (thrown before any
 * byte of the body is buffered); for a delimited frame, `size` is the number
 * of bytes seen without a delimiter when the limit was passed (so the frame is
 * at least that large).
 *
 * @example Usage
 * ```ts
 * import { FrameTooLargeError, LineCodec } from "@millrace/io/net";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const decoder = new LineCodec({ maxFrameSize: 4 }).createDecoder();
 * const error = assertThrows(
 *   () => decoder.decode(new TextEncoder().encode("too long\n"), () => {}),
 *   FrameTooLargeError,
 * );
 * assertEquals([error.kind, error.limit], ["too-big", 4]);
 * ```
 */
export class FrameTooLargeError extends TooBigError {
  /** The frame's size in bytes (or a lower bound of it, see above). */
  readonly size: number;
  /** The decoder's `maxFrameSize`. */
  readonly limit: number;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { FrameTooLargeError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new FrameTooLargeError(9, 8).size, 9);
   * ```
   *
   * @param size The frame's size in bytes (or a lower bound of it).
   * @param limit The limit it passed.
   * @param options The error's `cause`, if any.
   */
  constructor(size: number, limit: number, options?: ErrorOptions) {
    super(
      `Cannot decode frame as its size exceeds 'maxFrameSize' (${limit}): received ${size} bytes`,
      options,
    );
    this.size = size;
    this.limit = limit;
  }
}
