// Length-prefixed frames, with the knobs of netty's LengthFieldBasedFrameDecoder
// and tokio-util's LengthDelimitedCodec. The limit is checked as soon as the
// header is known, before any byte of the body is buffered; the partial-frame
// buffer grows with the bytes that actually arrive, not with the announced
// length, so a peer that announces 8 MiB and sends 1 byte costs 64 bytes.

import type { Codec, Decoder, FrameCallback } from "./codec.ts";
import { FrameBuffer } from "./_frame_buffer.ts";
import { FrameTooLargeError } from "./frame_too_large_error.ts";
import { InvalidFrameError } from "./invalid_frame_error.ts";
import {
  enumOption,
  integerOption,
  maxFrameSizeOption,
  validateOptions,
} from "./_validate.ts";

/** Default {@linkcode LengthPrefixedCodecOptions.maxFrameSize}: 8 MiB. */
export const DEFAULT_MAX_LENGTH_PREFIXED_SIZE: number = 8 * 1024 * 1024;

const MAX_HEADER_OFFSET = 65535;

/**
 * Options of {@linkcode LengthPrefixedCodec}. The header is
 * `lengthFieldOffset` bytes (anything, e.g. a type byte), then the length
 * field; the length field's value plus `lengthAdjustment` is the number of
 * bytes that follow the length field.
 *
 * @example A 2-byte little-endian length that counts itself
 * ```ts
 * import { LengthPrefixedCodec, type LengthPrefixedCodecOptions } from "@millrace/io/net";
 *
 * const options: LengthPrefixedCodecOptions = { lengthFieldLength: 2, endian: "little", lengthAdjustment: -2 };
 * const codec = new LengthPrefixedCodec(options);
 * ```
 */
export interface LengthPrefixedCodecOptions {
  /**
   * Size of the length field in bytes.
   *
   * @default {4}
   */
  lengthFieldLength?: 1 | 2 | 4 | 8;
  /**
   * Byte order of the length field.
   *
   * @default {"big"}
   */
  endian?: "big" | "little";
  /**
   * Bytes before the length field (e.g. a message type).
   *
   * @default {0}
   */
  lengthFieldOffset?: number;
  /**
   * Added to the length field's value to get the number of bytes after the
   * length field: `-lengthFieldLength` when the length counts itself, a
   * positive number when it leaves out a fixed trailer of the header.
   *
   * @default {0}
   */
  lengthAdjustment?: number;
  /**
   * Bytes cut from the front of each decoded frame, from 0 (keep the header)
   * to the header's size `lengthFieldOffset + lengthFieldLength`.
   *
   * @default {lengthFieldOffset + lengthFieldLength}
   */
  headerBytesToStrip?: number;
  /**
   * Largest decoded frame in bytes (after stripping). A header announcing
   * more fails at once.
   *
   * @default {8388608}
   */
  maxFrameSize?: number;
}

/**
 * Length-prefixed framing: every frame starts with a header that holds its
 * length. A frame whole inside one read is handed out as a view (valid during
 * the callback); a frame spread over reads is assembled in one buffer. A
 * header announcing more than `maxFrameSize` throws `FrameTooLargeError`
 * before any of the body is buffered; a length smaller than
 * `lengthAdjustment` allows throws `InvalidFrameError`.
 *
 * @example Round trip with a 4-byte big-endian length (the default)
 * ```ts
 * import { LengthPrefixedCodec } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const codec = new LengthPrefixedCodec();
 * const wire = codec.encode(new TextEncoder().encode("hi"));
 * assertEquals(wire, new Uint8Array([0, 0, 0, 2, 0x68, 0x69]));
 * const frames: string[] = [];
 * const decoder = codec.createDecoder();
 * for (const byte of wire) {
 *   decoder.decode(new Uint8Array([byte]), (f) => void frames.push(new TextDecoder().decode(f)));
 * }
 * assertEquals(frames, ["hi"]);
 * ```
 *
 * @example A type byte before the length, kept in the frame
 * ```ts
 * import { LengthPrefixedCodec } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const codec = new LengthPrefixedCodec({ lengthFieldOffset: 1, lengthFieldLength: 2, headerBytesToStrip: 0 });
 * const frames: number[][] = [];
 * codec.createDecoder().decode(new Uint8Array([7, 0, 1, 42]), (f) => void frames.push([...f]));
 * assertEquals(frames, [[7, 0, 1, 42]]);
 * ```
 */
export class LengthPrefixedCodec implements Codec<Uint8Array> {
  /** Size of the length field in bytes. */
  readonly lengthFieldLength: 1 | 2 | 4 | 8;
  /** Byte order of the length field. */
  readonly endian: "big" | "little";
  /** Bytes before the length field. */
  readonly lengthFieldOffset: number;
  /** Added to the length to get the bytes after the length field. */
  readonly lengthAdjustment: number;
  /** Bytes cut from the front of each decoded frame. */
  readonly headerBytesToStrip: number;
  /** Largest decoded frame in bytes. */
  readonly maxFrameSize: number;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { LengthPrefixedCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new LengthPrefixedCodec({ lengthFieldLength: 2 }).headerBytesToStrip, 2);
   * ```
   *
   * @param options The header layout and the limit.
   * @throws {TypeError|RangeError} If an option is invalid.
   */
  constructor(options?: LengthPrefixedCodecOptions) {
    const action = "create length-prefixed codec";
    const opts = validateOptions(action, options);
    this.lengthFieldLength = enumOption(
      action,
      "lengthFieldLength",
      opts.lengthFieldLength,
      4,
      [1, 2, 4, 8],
    );
    this.endian = enumOption(action, "endian", opts.endian, "big", [
      "big",
      "little",
    ]);
    this.lengthFieldOffset = integerOption(
      action,
      "lengthFieldOffset",
      opts.lengthFieldOffset,
      0,
      0,
      MAX_HEADER_OFFSET,
    );
    this.lengthAdjustment = integerOption(
      action,
      "lengthAdjustment",
      opts.lengthAdjustment,
      0,
      -Number.MAX_SAFE_INTEGER,
    );
    const headerLength = this.lengthFieldOffset + this.lengthFieldLength;
    this.headerBytesToStrip = integerOption(
      action,
      "headerBytesToStrip",
      opts.headerBytesToStrip,
      headerLength,
      0,
      headerLength,
    );
    this.maxFrameSize = maxFrameSizeOption(
      action,
      opts.maxFrameSize,
      DEFAULT_MAX_LENGTH_PREFIXED_SIZE,
    );
  }

  /**
   * Makes the framing state of one connection.
   *
   * @example Usage
   * ```ts
   * import { LengthPrefixedCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new LengthPrefixedCodec().createDecoder();
   * decoder.decode(new Uint8Array([0, 0]), () => {});
   * assertEquals(decoder.buffered, 2);
   * ```
   *
   * @returns A fresh decoder.
   */
  createDecoder(): Decoder<Uint8Array> {
    return new LengthPrefixedDecoder(this);
  }

  /**
   * Encodes one frame: a header (`lengthFieldOffset` zero bytes, then the
   * length field) followed by `payload`. With the default
   * `headerBytesToStrip`, decoding gives `payload` back.
   *
   * @example Usage
   * ```ts
   * import { LengthPrefixedCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const codec = new LengthPrefixedCodec({ lengthFieldLength: 2, endian: "little" });
   * assertEquals(codec.encode(new Uint8Array([7])), new Uint8Array([1, 0, 7]));
   * ```
   *
   * @param payload The frame's body.
   * @returns The bytes to send.
   * @throws {RangeError} If the length does not fit the length field.
   * @throws {TypeError} If `payload` is not a `Uint8Array`.
   */
  encode(payload: Uint8Array): Uint8Array {
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot encode frame as 'payload' must be a Uint8Array: received ${
          payload === null ? "null" : typeof payload
        }`,
      );
    }
    const value = payload.length - this.lengthAdjustment;
    const bits = this.lengthFieldLength * 8;
    if (value < 0 || (bits < 53 && value >= 2 ** bits)) {
      throw new RangeError(
        `Cannot encode frame as its length does not fit a ${this.lengthFieldLength}-byte length field: received ${payload.length} bytes`,
      );
    }
    const offset = this.lengthFieldOffset;
    const out = new Uint8Array(
      offset + this.lengthFieldLength + payload.length,
    );
    writeLength(out, offset, this.lengthFieldLength, this.endian, value);
    out.set(payload, offset + this.lengthFieldLength);
    return out;
  }
}

function writeLength(
  out: Uint8Array,
  at: number,
  size: number,
  endian: "big" | "little",
  value: number,
): void {
  let rest = value;
  for (let i = 0; i < size; i++) {
    const byte = rest % 256;
    rest = Math.floor(rest / 256);
    out[endian === "big" ? at + size - 1 - i : at + i] = byte;
  }
}

/** Reads a length field; 8-byte values past 2 ** 53 come back inexact. */
function readLength(
  bytes: Uint8Array,
  at: number,
  size: number,
  little: boolean,
): number {
  if (size === 1) return bytes[at]!;
  // The common fields without a loop.
  if (size === 4) {
    return little
      ? bytes[at + 3]! * 0x1000000 +
        ((bytes[at + 2]! << 16) | (bytes[at + 1]! << 8) | bytes[at]!)
      : bytes[at]! * 0x1000000 +
        ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
  }
  if (size === 2) {
    return little
      ? (bytes[at + 1]! << 8) | bytes[at]!
      : (bytes[at]! << 8) | bytes[at + 1]!;
  }
  let value = 0;
  if (little) {
    for (let i = size - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!;
  } else {
    for (let i = 0; i < size; i++) value = value * 256 + bytes[at + i]!;
  }
  return value;
}

/** The per-connection state of a LengthPrefixedCodec. */
class LengthPrefixedDecoder implements Decoder<Uint8Array> {
  readonly #offset: number;
  readonly #fieldLength: number;
  readonly #headerLength: number;
  readonly #little: boolean;
  readonly #adjustment: number;
  readonly #strip: number;
  readonly #max: number;
  readonly #held: FrameBuffer;
  // Total bytes (header included) of the frame being assembled, once its
  // header is known; -1 before.
  #frameLength = -1;

  constructor(codec: LengthPrefixedCodec) {
    this.#offset = codec.lengthFieldOffset;
    this.#fieldLength = codec.lengthFieldLength;
    this.#headerLength = codec.lengthFieldOffset + codec.lengthFieldLength;
    this.#little = codec.endian === "little";
    this.#adjustment = codec.lengthAdjustment;
    this.#strip = codec.headerBytesToStrip;
    this.#max = codec.maxFrameSize;
    this.#held = new FrameBuffer(this.#strip + codec.maxFrameSize);
  }

  get buffered(): number {
    return this.#held.length;
  }

  takeBuffered(): Uint8Array {
    const rest = this.#held.bytes.slice(0, this.#held.length);
    this.#held.take();
    this.#frameLength = -1;
    return rest;
  }

  decode(chunk: Uint8Array, onFrame: FrameCallback<Uint8Array>): number {
    const header = this.#headerLength;
    const held = this.#held;
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (held.length === 0) {
        if (n - pos < header) {
          held.append(chunk, pos, n);
          return n;
        }
        const total = this.#frameTotal(chunk, pos);
        if (n - pos >= total) {
          const frame = chunk.subarray(pos + this.#strip, pos + total);
          pos += total;
          if (onFrame(frame) === false) return pos;
          continue;
        }
        this.#frameLength = total;
        held.append(chunk, pos, n);
        return n;
      }
      if (this.#frameLength < 0) {
        const take = Math.min(header - held.length, n - pos);
        held.append(chunk, pos, pos + take);
        pos += take;
        if (held.length < header) return n;
        this.#frameLength = this.#frameTotal(held.bytes, 0);
      }
      const total = this.#frameLength;
      const take = Math.min(total - held.length, n - pos);
      held.append(chunk, pos, pos + take);
      pos += take;
      if (held.length === total) {
        this.#frameLength = -1;
        if (onFrame(held.take(this.#strip, total)) === false) return pos;
      }
    }
    return n;
  }

  /** The frame's total size from its header at `at`; checks the limit. */
  #frameTotal(bytes: Uint8Array, at: number): number {
    const value = readLength(
      bytes,
      at + this.#offset,
      this.#fieldLength,
      this.#little,
    );
    const body = value + this.#adjustment;
    const total = this.#headerLength + body;
    if (body < 0) {
      this.#reset();
      throw new InvalidFrameError(
        `Cannot decode frame as its length field is too small for 'lengthAdjustment' (${this.#adjustment}): received ${value}`,
      );
    }
    if (total - this.#strip > this.#max) {
      this.#reset();
      throw new FrameTooLargeError(total - this.#strip, this.#max);
    }
    return total;
  }

  #reset(): void {
    this.#held.take();
    this.#frameLength = -1;
  }
}
