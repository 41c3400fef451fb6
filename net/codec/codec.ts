// The framing interface shared by `TcpServer`/`TcpClient` (`codec` option,
// `onFrame`, `sendFrame`) and `TcpStream.readFrame`, in the manner of
// tokio-util's `Decoder`/`Encoder`: a codec is a stateless description of the
// wire format that makes one stateful decoder per connection.

import type { FrameTooLargeError } from "./frame_too_large_error.ts";

/**
 * Receives each decoded frame. A `Uint8Array` frame may be a view into the
 * chunk being decoded or into the decoder's own buffer: it is valid only
 * during the call (copy it with `slice()` to keep it). Returning `false` stops
 * decoding after this frame; the rest of the chunk is left unconsumed.
 *
 * @example Usage
 * ```ts
 * import type { FrameCallback } from "@millrace/io/net";
 *
 * const kept: Uint8Array[] = [];
 * const keep: FrameCallback<Uint8Array> = (frame) => void kept.push(frame.slice());
 * ```
 */
export type FrameCallback<F> = (frame: F) => boolean | void;

/**
 * The per-connection state of a {@linkcode Codec}: turns chunks of bytes, as
 * they arrive, into frames. Bytes of an unfinished frame are held until the
 * rest arrives (never more than the codec's limit).
 *
 * @example Feeding a decoder by hand
 * ```ts
 * import { LineCodec } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const decoder = new LineCodec({ decodeUtf8: true }).createDecoder();
 * const lines: string[] = [];
 * decoder.decode(new TextEncoder().encode("hel"), (line) => void lines.push(line));
 * assertEquals(decoder.buffered, 3);
 * decoder.decode(new TextEncoder().encode("lo\r\nworld\n"), (line) => void lines.push(line));
 * assertEquals(lines, ["hello", "world"]);
 * ```
 */
export interface Decoder<F> {
  /**
   * Decodes the frames `chunk` completes, in order, calling `onFrame` for each.
   *
   * @example Stop after the first frame
   * ```ts
   * import { LineCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new LineCodec().createDecoder();
   * const used = decoder.decode(new TextEncoder().encode("a\nb\n"), () => false);
   * assertEquals(used, 2); // "a\n"; "b\n" is left for the caller
   * ```
   *
   * @param chunk The next bytes of the stream (read only, not kept).
   * @param onFrame Called once per frame; returning `false` stops decoding.
   * @param onDiscard Called, in a codec's discard mode, for each frame
   *   dropped for being larger than the limit.
   * @returns The number of bytes of `chunk` consumed: `chunk.length` unless
   *   `onFrame` returned `false`.
   * @throws {FrameTooLargeError} A frame passed the limit (the stream position
   *   is then lost: close the connection).
   */
  decode(
    chunk: Uint8Array,
    onFrame: FrameCallback<F>,
    onDiscard?: (error: FrameTooLargeError) => void,
  ): number;

  /** Bytes held from an unfinished frame. */
  readonly buffered: number;

  /**
   * Takes out the bytes held from an unfinished frame (a copy), e.g. to
   * report them at end of stream, and empties the decoder.
   *
   * @example Usage
   * ```ts
   * import { DelimiterCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const decoder = new DelimiterCodec("\0").createDecoder();
   * decoder.decode(new Uint8Array([1, 2]), () => {});
   * assertEquals(decoder.takeBuffered(), new Uint8Array([1, 2]));
   * assertEquals(decoder.buffered, 0);
   * ```
   *
   * @returns The held bytes.
   */
  takeBuffered(): Uint8Array;
}

/**
 * A framing format: makes a {@linkcode Decoder} per connection and encodes
 * frames for sending. The library's codecs are {@linkcode LengthPrefixedCodec},
 * {@linkcode LineCodec} and {@linkcode DelimiterCodec}; pass any codec as
 * `TcpServer`'s/`TcpClient`'s `codec` option or to `TcpStream.readFrame`.
 *
 * `F` is the type of decoded frames, `E` what `encode` accepts.
 *
 * @example A custom codec: fixed-size records
 * ```ts
 * import type { Codec, Decoder, FrameCallback } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * class FixedSizeCodec implements Codec<Uint8Array> {
 *   constructor(readonly size: number) {}
 *   createDecoder(): Decoder<Uint8Array> {
 *     const size = this.size;
 *     let held = new Uint8Array(size);
 *     let length = 0;
 *     return {
 *       get buffered() { return length; },
 *       takeBuffered() { const rest = held.slice(0, length); length = 0; return rest; },
 *       decode(chunk: Uint8Array, onFrame: FrameCallback<Uint8Array>): number {
 *         let pos = 0;
 *         while (pos < chunk.length) {
 *           if (length === 0 && chunk.length - pos >= size) {
 *             // Whole record inside the chunk: hand out a view, no copy.
 *             const frame = chunk.subarray(pos, pos += size);
 *             if (onFrame(frame) === false) return pos;
 *             continue;
 *           }
 *           const n = Math.min(size - length, chunk.length - pos);
 *           held.set(chunk.subarray(pos, pos += n), length);
 *           length += n;
 *           if (length === size) {
 *             length = 0;
 *             const frame = held;
 *             held = new Uint8Array(size);
 *             if (onFrame(frame) === false) return pos;
 *           }
 *         }
 *         return pos;
 *       },
 *     };
 *   }
 *   encode(frame: Uint8Array): Uint8Array {
 *     if (frame.length !== this.size) throw new RangeError(`Cannot encode frame as its size must be ${this.size}: received ${frame.length}`);
 *     return frame;
 *   }
 * }
 *
 * const decoder = new FixedSizeCodec(2).createDecoder();
 * const frames: number[][] = [];
 * decoder.decode(new Uint8Array([1, 2, 3]), (f) => void frames.push([...f]));
 * decoder.decode(new Uint8Array([4]), (f) => void frames.push([...f]));
 * assertEquals(frames, [[1, 2], [3, 4]]);
 * ```
 */
export interface Codec<F = Uint8Array, E = F> {
  /**
   * Makes the decoding state of one connection or stream.
   *
   * @example Usage
   * ```ts
   * import { type Codec, LineCodec } from "@millrace/io/net";
   *
   * const codec: Codec<Uint8Array, string | Uint8Array> = new LineCodec();
   * const perConnection = codec.createDecoder();
   * ```
   *
   * @returns A fresh decoder.
   */
  createDecoder(): Decoder<F>;

  /**
   * Encodes one frame for the wire (header, payload, delimiter).
   *
   * @example Usage
   * ```ts
   * import { type Codec, LengthPrefixedCodec } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const codec: Codec<Uint8Array> = new LengthPrefixedCodec({ lengthFieldLength: 1 });
   * assertEquals(codec.encode(new Uint8Array([9])), new Uint8Array([1, 9]));
   * ```
   *
   * @param frame The frame to encode.
   * @returns The bytes to send.
   */
  encode(frame: E): Uint8Array;
}
