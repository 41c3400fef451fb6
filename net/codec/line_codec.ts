// Lines: frames end at "\n"; a "\r" before it is stripped, so "\n" and
// "\r\n" peers both work. Frames are bytes, or strings with `decodeUtf8`.

import type { Codec, Decoder } from "./codec.ts";
import { DelimitedDecoder } from "./_delimited_decoder.ts";
import {
  booleanOption,
  enumOption,
  maxFrameSizeOption,
  validateOptions,
} from "./_validate.ts";

const LF = new Uint8Array([0x0a]);

/** Default {@linkcode LineCodecOptions.maxFrameSize}: 64 KiB. */
export const DEFAULT_MAX_LINE_SIZE: number = 64 * 1024;

/**
 * Options of {@linkcode LineCodec}.
 *
 * @example Usage
 * ```ts
 * import { LineCodec, type LineCodecOptions } from "@millrace/io/net";
 *
 * const options: LineCodecOptions<true> = { decodeUtf8: true, maxFrameSize: 4096, overlong: "discard" };
 * const codec = new LineCodec(options);
 * ```
 */
export interface LineCodecOptions<Utf8 extends boolean = false> {
  /**
   * Longest line in bytes, without its "\n" or "\r\n".
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * Hand out lines as strings (UTF-8; invalid bytes become U+FFFD) instead
   * of byte views.
   *
   * @default {false}
   */
  decodeUtf8?: Utf8;
  /**
   * What a longer line does: `"error"` throws a `FrameTooLargeError` (a
   * server closes the connection); `"discard"` drops the line up to its
   * "\n", reports it to the decoder's `onDiscard` (a server's `onError`)
   * and goes on with the next line.
   *
   * @default {"error"}
   */
  overlong?: "error" | "discard";
  /**
   * The line ending `encode` appends.
   *
   * @default {"\n"}
   */
  lineEnding?: "\n" | "\r\n";
}

/**
 * Line framing (like tokio-util's `LinesCodec`): a line ends at "\n", and a
 * "\r" just before it is stripped. A line that arrives whole inside one read
 * is handed out without a copy (a view, valid during the callback); longer
 * than `maxFrameSize` it fails with a `FrameTooLargeError`, or is skipped up
 * to the next "\n" with `overlong: "discard"`.
 *
 * @typeParam Utf8 `true` when lines are decoded to strings.
 *
 * @example Decoding lines
 * ```ts
 * import { LineCodec } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const codec = new LineCodec({ decodeUtf8: true });
 * const decoder = codec.createDecoder();
 * const lines: string[] = [];
 * decoder.decode(new TextEncoder().encode("GET /\r\nHost: x\npart"), (line) => void lines.push(line));
 * assertEquals(lines, ["GET /", "Host: x"]);
 * assertEquals(decoder.buffered, 4);
 * assertEquals(new TextDecoder().decode(codec.encode("ok")), "ok\n");
 * ```
 */
export class LineCodec<Utf8 extends boolean = false>
  implements
    Codec<Utf8 extends true ? string : Uint8Array, string | Uint8Array> {
  /** Longest line in bytes. */
  readonly maxFrameSize: number;
  /** Whether lines are decoded to strings. */
  readonly decodeUtf8: Utf8;
  /** What an over-long line does. */
  readonly overlong: "error" | "discard";
  /** What `encode` appends. */
  readonly lineEnding: "\n" | "\r\n";
  readonly #ending: Uint8Array;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { LineCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new LineCodec({ maxFrameSize: 1024 }).maxFrameSize, 1024);
   * ```
   *
   * @param options The limit, decoding and line ending.
   * @throws {TypeError|RangeError} If an option is invalid.
   */
  constructor(options?: LineCodecOptions<Utf8>) {
    const action = "create line codec";
    const opts = validateOptions(action, options);
    this.maxFrameSize = maxFrameSizeOption(
      action,
      opts.maxFrameSize,
      DEFAULT_MAX_LINE_SIZE,
    );
    this.decodeUtf8 = booleanOption(
      action,
      "decodeUtf8",
      opts.decodeUtf8,
      false,
    ) as Utf8;
    this.overlong = enumOption(action, "overlong", opts.overlong, "error", [
      "error",
      "discard",
    ]);
    this.lineEnding = enumOption(action, "lineEnding", opts.lineEnding, "\n", [
      "\n",
      "\r\n",
    ]);
    this.#ending = new TextEncoder().encode(this.lineEnding);
  }

  /**
   * Makes the line state of one connection.
   *
   * @example Usage
   * ```ts
   * import { LineCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const lines: string[] = [];
   * new LineCodec({ decodeUtf8: true }).createDecoder()
   *   .decode(new TextEncoder().encode("x\r\n"), (line) => void lines.push(line));
   * assertEquals(lines, ["x"]);
   * ```
   *
   * @returns A fresh decoder.
   */
  createDecoder(): Decoder<Utf8 extends true ? string : Uint8Array> {
    type F = Utf8 extends true ? string : Uint8Array;
    let map: ((bytes: Uint8Array) => F) | undefined;
    if (this.decodeUtf8) {
      const text = new TextDecoder();
      map = (bytes) => text.decode(bytes) as F;
    }
    return new DelimitedDecoder<F>({
      delimiter: LF,
      maxFrameSize: this.maxFrameSize,
      discard: this.overlong === "discard",
      stripCr: true,
      map,
    });
  }

  /**
   * Encodes one line: its UTF-8 bytes (or the bytes given) and the line
   * ending.
   *
   * @example Usage
   * ```ts
   * import { LineCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const bytes = new LineCodec({ lineEnding: "\r\n" }).encode("hi");
   * assertEquals(new TextDecoder().decode(bytes), "hi\r\n");
   * ```
   *
   * @param line The line, without a line ending.
   * @returns The bytes to send.
   * @throws {RangeError} If the line contains "\n" (it would split in two).
   * @throws {TypeError} If the line is neither a string nor a `Uint8Array`.
   */
  encode(line: string | Uint8Array): Uint8Array {
    const ending = this.#ending;
    if (typeof line === "string") {
      if (line.includes("\n")) {
        throw new RangeError(
          "Cannot encode line as it contains '\\n': split it into lines first",
        );
      }
      const out = new Uint8Array(line.length * 3 + ending.length);
      const { written } = ENCODER.encodeInto(line, out);
      out.set(ending, written);
      const used = written + ending.length;
      // Room for 3 bytes per UTF-16 unit: do not keep a mostly empty buffer
      // queued for a long ASCII line.
      return out.length - used > 1024
        ? out.slice(0, used)
        : out.subarray(0, used);
    }
    if (!(line instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot encode line as it must be a string or a Uint8Array: received ${
          line === null ? "null" : typeof line
        }`,
      );
    }
    if (line.indexOf(0x0a) !== -1) {
      throw new RangeError(
        "Cannot encode line as it contains '\\n': split it into lines first",
      );
    }
    const out = new Uint8Array(line.length + ending.length);
    out.set(line);
    out.set(ending, line.length);
    return out;
  }
}

const ENCODER = new TextEncoder();
