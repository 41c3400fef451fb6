// Frames that end at an arbitrary byte sequence (NUL, "\r\n\r\n", "--end--"),
// found also when it is split across reads.

import type { Codec, Decoder } from "./codec.ts";
import { DelimitedDecoder, indexOfDelimiter } from "./_delimited_decoder.ts";
import {
  enumOption,
  invalidOption,
  maxFrameSizeOption,
  validateOptions,
} from "./_validate.ts";

/** Default {@linkcode DelimiterCodecOptions.maxFrameSize}: 64 KiB. */
export const DEFAULT_MAX_DELIMITED_SIZE: number = 64 * 1024;

/**
 * Options of {@linkcode DelimiterCodec}.
 *
 * @example Usage
 * ```ts
 * import { DelimiterCodec, type DelimiterCodecOptions } from "@millrace/io/net";
 *
 * const options: DelimiterCodecOptions = { maxFrameSize: 1024, overlong: "discard" };
 * const codec = new DelimiterCodec(new Uint8Array([0]), options);
 * ```
 */
export interface DelimiterCodecOptions {
  /**
   * Largest frame in bytes, without the delimiter.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * What a larger frame does: `"error"` throws a `FrameTooLargeError`;
   * `"discard"` drops it up to its delimiter and goes on.
   *
   * @default {"error"}
   */
  overlong?: "error" | "discard";
}

/**
 * Frames separated by a delimiter of one or more bytes (like tokio-util's
 * `AnyDelimiterCodec` with one delimiter). The delimiter is not part of the
 * frame; `encode` appends it. A multi-byte delimiter split across reads is
 * found; a frame whole inside one read is handed out without a copy.
 *
 * @example NUL-terminated messages
 * ```ts
 * import { DelimiterCodec } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const codec = new DelimiterCodec("\r\n\r\n");
 * const decoder = codec.createDecoder();
 * const frames: string[] = [];
 * const onFrame = (frame: Uint8Array) => void frames.push(new TextDecoder().decode(frame));
 * decoder.decode(new TextEncoder().encode("a\r\n\r\nb\r\n"), onFrame);
 * decoder.decode(new TextEncoder().encode("\r\n"), onFrame);
 * assertEquals(frames, ["a", "b"]);
 * ```
 */
export class DelimiterCodec implements Codec<Uint8Array> {
  /** The delimiter's bytes. */
  readonly delimiter: Uint8Array;
  /** Largest frame in bytes. */
  readonly maxFrameSize: number;
  /** What an over-long frame does. */
  readonly overlong: "error" | "discard";

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { DelimiterCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new DelimiterCodec("--").delimiter, new Uint8Array([45, 45]));
   * ```
   *
   * @param delimiter The bytes that end a frame (a string is UTF-8 encoded).
   * @param options The limit and what an over-long frame does.
   * @throws {TypeError|RangeError} If the delimiter is empty or an option is
   *   invalid.
   */
  constructor(delimiter: Uint8Array | string, options?: DelimiterCodecOptions) {
    const action = "create delimiter codec";
    let bytes: Uint8Array;
    if (typeof delimiter === "string") {
      bytes = new TextEncoder().encode(delimiter);
    } else if (delimiter instanceof Uint8Array) {
      bytes = delimiter.slice();
    } else {
      throw invalidOption(
        TypeError,
        action,
        "delimiter",
        "a string or a Uint8Array",
        delimiter,
      );
    }
    if (bytes.length === 0) {
      throw invalidOption(
        RangeError,
        action,
        "delimiter",
        "non-empty",
        delimiter,
      );
    }
    this.delimiter = bytes;
    const opts = validateOptions(action, options);
    this.maxFrameSize = maxFrameSizeOption(
      action,
      opts.maxFrameSize,
      DEFAULT_MAX_DELIMITED_SIZE,
    );
    this.overlong = enumOption(action, "overlong", opts.overlong, "error", [
      "error",
      "discard",
    ]);
  }

  /**
   * Makes the framing state of one connection.
   *
   * @example Usage
   * ```ts
   * import { DelimiterCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const frames: number[][] = [];
   * new DelimiterCodec(new Uint8Array([0])).createDecoder()
   *   .decode(new Uint8Array([1, 0, 2, 0]), (frame) => void frames.push([...frame]));
   * assertEquals(frames, [[1], [2]]);
   * ```
   *
   * @returns A fresh decoder.
   */
  createDecoder(): Decoder<Uint8Array> {
    return new DelimitedDecoder<Uint8Array>({
      delimiter: this.delimiter,
      maxFrameSize: this.maxFrameSize,
      discard: this.overlong === "discard",
      stripCr: false,
      map: undefined,
    });
  }

  /**
   * Encodes one frame: its bytes and the delimiter.
   *
   * @example Usage
   * ```ts
   * import { DelimiterCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new DelimiterCodec(new Uint8Array([0])).encode(new Uint8Array([5])), new Uint8Array([5, 0]));
   * ```
   *
   * @param frame The frame's bytes.
   * @returns The bytes to send.
   * @throws {RangeError} If the frame contains the delimiter.
   * @throws {TypeError} If the frame is not a `Uint8Array`.
   */
  encode(frame: Uint8Array): Uint8Array {
    if (!(frame instanceof Uint8Array)) {
      throw invalidOption(
        TypeError,
        "encode frame",
        "frame",
        "a Uint8Array",
        frame,
      );
    }
    if (indexOfDelimiter(frame, this.delimiter, 0) !== -1) {
      throw new RangeError(
        "Cannot encode frame as it contains the delimiter: it would split in two",
      );
    }
    const out = new Uint8Array(frame.length + this.delimiter.length);
    out.set(frame);
    out.set(this.delimiter, frame.length);
    return out;
  }
}
