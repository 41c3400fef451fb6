// The error a length-prefixed decoder throws when a header cannot describe a
// frame (its length is smaller than the codec's `lengthAdjustment` makes
// possible). The stream position is lost after it: close the connection.

import { NetError } from "../errors.ts";

/**
 * A frame header is malformed, e.g. a length field that, with the codec's
 * `lengthAdjustment`, gives a negative body length.
 *
 * @example Usage
 * ```ts
 * import { InvalidFrameError, LengthPrefixedCodec } from "@millrace/io/net";
 * import { assertThrows } from "@std/assert";
 *
 * // The length field counts itself (4 bytes), so a value below 4 is invalid.
 * const decoder = new LengthPrefixedCodec({ lengthAdjustment: -4 }).createDecoder();
 * assertThrows(() => decoder.decode(new Uint8Array([0, 0, 0, 1]), () => {}), InvalidFrameError);
 * ```
 */
export class InvalidFrameError extends NetError {
  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { InvalidFrameError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new InvalidFrameError("Cannot decode frame as it is bad").kind, "invalid-frame");
   * ```
   *
   * @param message What is wrong with the frame.
   * @param options The error's `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("invalid-frame", message, options);
  }
}
