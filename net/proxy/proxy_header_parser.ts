// An incremental PROXY protocol v1/v2 parser: fed chunks as they arrive, it
// copies only header bytes (never the data after them), so a caller learns
// exactly where the payload starts in the chunk that completed the header.
//
// Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt

import {
  validateEnum,
  validateInteger,
  validateUint8Array,
} from "../../_internal/validate.ts";
import {
  DEFAULT_MAX_HEADER_BYTES,
  PROXY_V1_MAX_LENGTH,
  V1_PREFIX,
  V2_FIXED,
  V2_SIGNATURE,
} from "./_wire.ts";
import { checkV2Fixed, parseV1, parseV2, parseWholeHeader } from "./_decode.ts";
import type { ProxyHeader, ProxyProtocolMode } from "./proxy_header.ts";
import { ProxyHeaderError } from "./proxy_header_error.ts";
import { registerHeldReader } from "./_parser_held.ts";

const V2_MAX = V2_FIXED + 0xffff;

const MODES: readonly ProxyProtocolMode[] = ["v1", "v2", "any", "optional"];

/**
 * Options of {@linkcode ProxyHeaderParser}.
 *
 * @example Usage
 * ```ts
 * import { ProxyHeaderParser, type ProxyHeaderParserOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ProxyHeaderParserOptions = { mode: "v2", maxHeaderBytes: 1024 };
 * const parser = new ProxyHeaderParser(options);
 * assertEquals(parser.mode, "v2");
 * ```
 */
export interface ProxyHeaderParserOptions {
  /**
   * Which headers to accept; with `"optional"`, bytes that cannot start a
   * header end parsing with status `"absent"` instead of an error.
   * @default {"any"}
   */
  mode?: ProxyProtocolMode;
  /**
   * Largest v2 header accepted, fixed part and TLVs included (an integer
   * from 16 to 65551); a longer one is a `"too-long"` error. v1 headers are
   * always limited to 107 bytes.
   * @default {4096}
   */
  maxHeaderBytes?: number;
}

/**
 * Options of {@linkcode parseProxyHeader}.
 *
 * @example Usage
 * ```ts
 * import { parseProxyHeader, type ParseProxyHeaderOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ParseProxyHeaderOptions = { mode: "v1" };
 * const header = parseProxyHeader(new TextEncoder().encode("PROXY UNKNOWN\r\n"), options);
 * assertEquals(header.source, null);
 * ```
 */
export interface ParseProxyHeaderOptions {
  /** Which headers to accept. @default {"any"} */
  mode?: "v1" | "v2" | "any";
  /** As {@linkcode ProxyHeaderParserOptions.maxHeaderBytes}. @default {4096} */
  maxHeaderBytes?: number;
}

/**
 * What {@linkcode ProxyHeaderParser.push} and
 * {@linkcode ProxyHeaderParser.end} return:
 *
 * - `"need-more"`: all of the chunk belonged to a header still incomplete.
 * - `"done"`: the header is complete; the first `consumed` bytes of the last
 *   chunk were its end, the rest is payload.
 * - `"absent"` (mode `"optional"` only): the stream does not start with a
 *   header. The payload is `held` (bytes kept from earlier chunks while they
 *   still looked like a signature) followed by the whole last chunk.
 *
 * @example Usage
 * ```ts
 * import { ProxyHeaderParser, type ProxyParseResult } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new ProxyHeaderParser({ mode: "optional" });
 * const result: ProxyParseResult = parser.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
 * assertEquals(result.status, "absent");
 * ```
 */
export type ProxyParseResult =
  | { readonly status: "need-more" }
  | {
    readonly status: "done";
    readonly header: ProxyHeader;
    readonly consumed: number;
  }
  | { readonly status: "absent"; readonly held: Uint8Array };

const EMPTY = new Uint8Array(0);
const NEED_MORE: ProxyParseResult = Object.freeze({ status: "need-more" });

const enum Kind {
  Detecting,
  V1,
  V2,
  Finished,
}

/**
 * An incremental PROXY protocol v1/v2 parser. Feed it the bytes of a
 * connection as they arrive with {@linkcode ProxyHeaderParser.push}; it
 * copies only header bytes (at most 107 for v1, `maxHeaderBytes` for v2),
 * so memory and work are bounded whatever the peer sends.
 *
 * - v1: `TCP4`, `TCP6` and `UNKNOWN` lines, ending in CRLF.
 * - v2: the 12-byte signature, version 2, LOCAL and PROXY commands,
 *   `AF_INET`, `AF_INET6`, `AF_UNIX` and `AF_UNSPEC` over stream, datagram or
 *   unspecified transports, TLVs (ALPN, authority and unique id decoded), a
 *   CRC32c TLV verified when present. A LOCAL header's address block is
 *   skipped as the spec requires.
 *
 * Bad input throws a {@linkcode ProxyHeaderError} and nothing else; the
 * parser is then finished.
 *
 * @example Fed in chunks
 * ```ts
 * import { ProxyHeaderParser } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new ProxyHeaderParser({ mode: "v1" });
 * const encoder = new TextEncoder();
 * assertEquals(parser.push(encoder.encode("PROXY TCP4 192.0.2.7 ")).status, "need-more");
 * const result = parser.push(encoder.encode("198.51.100.1 51234 443\r\nHELLO"));
 * assertEquals(result.status, "done");
 * if (result.status === "done") {
 *   assertEquals(result.consumed, 24); // "HELLO" starts at offset 24
 *   assertEquals(result.header.source, { transport: "tcp", hostname: "192.0.2.7", port: 51234 });
 * }
 * ```
 *
 * @example Optional header
 * ```ts
 * import { ProxyHeaderParser } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const parser = new ProxyHeaderParser({ mode: "optional" });
 * assertEquals(parser.push(new TextEncoder().encode("PRO")).status, "need-more");
 * const result = parser.push(new TextEncoder().encode("BE\r\n"));
 * assertEquals(result.status, "absent");
 * if (result.status === "absent") {
 *   // The payload is the held bytes, then the whole last chunk.
 *   assertEquals(new TextDecoder().decode(result.held), "PRO");
 * }
 * ```
 */
export class ProxyHeaderParser {
  readonly #mode: ProxyProtocolMode;
  readonly #maxHeaderBytes: number;
  #kind: Kind = Kind.Detecting;
  // Only for a header split over chunks (the fast path needs none).
  #buffer: Uint8Array = EMPTY;
  #length = 0;
  /** Total v2 length once its fixed part is in; 0 before. */
  #v2Length = 0;

  /**
   * Creates a parser.
   *
   * @example Usage
   * ```ts
   * import { ProxyHeaderParser } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const parser = new ProxyHeaderParser({ mode: "any", maxHeaderBytes: 1024 });
   * assertEquals(parser.wantedBytes, 1);
   * ```
   *
   * @param options The accepted mode and the v2 size limit.
   * @throws {RangeError} If `mode` is not one of the modes.
   * @throws {RangeError} If `maxHeaderBytes` is not an integer from 16 to 65551.
   */
  constructor(options: ProxyHeaderParserOptions = {}) {
    const action = "create PROXY header parser";
    const mode = validateEnum(action, "mode", options.mode ?? "any", MODES);
    const max = validateInteger(
      action,
      "maxHeaderBytes",
      options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      { min: V2_FIXED, max: V2_MAX },
    );
    this.#mode = mode;
    this.#maxHeaderBytes = max;
  }

  /** The accepted mode. */
  get mode(): ProxyProtocolMode {
    return this.#mode;
  }

  /** Header bytes received so far (kept by the parser). */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * The fewest bytes that can move parsing on: the rest of a v2 header once
   * its length is known, else 1 (a v1 line ends at an unknown offset). A
   * reader that must not read past the header reads this many; 0 once
   * finished.
   */
  get wantedBytes(): number {
    if (this.#kind === Kind.Finished) return 0;
    if (this.#kind !== Kind.V2) return 1;
    return (this.#v2Length || V2_FIXED) - this.#length;
  }

  /** Whether a result other than `"need-more"` (or an error) ended parsing. */
  get finished(): boolean {
    return this.#kind === Kind.Finished;
  }

  /**
   * Feeds the next chunk of the connection.
   *
   * @example Usage
   * ```ts
   * import { encodeProxyHeader, ProxyHeaderParser } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const header = encodeProxyHeader({ version: 2, command: "local", source: null, destination: null });
   * const parser = new ProxyHeaderParser({ mode: "v2" });
   * assertEquals(parser.push(header.subarray(0, 5)).status, "need-more");
   * const result = parser.push(header.subarray(5));
   * assertEquals(result.status === "done" && result.header.command, "local");
   * ```
   *
   * @param chunk The bytes that arrived; only header bytes are copied.
   * @returns `"need-more"`, `"done"` or `"absent"` (see {@linkcode ProxyParseResult}).
   * @throws {ProxyHeaderError} If the bytes are not a valid header for the mode.
   * @throws {TypeError} If `chunk` is not a `Uint8Array` or parsing already finished.
   */
  push(chunk: Uint8Array): ProxyParseResult {
    validateUint8Array("push to PROXY header parser", "chunk", chunk);
    if (this.#kind === Kind.Finished) {
      throw new TypeError(
        "Cannot push to PROXY header parser as parsing already finished",
      );
    }
    if (this.#length === 0 && this.#kind === Kind.Detecting) {
      // Fast path: the whole header in the first chunk (what proxies send),
      // parsed in place without copying.
      try {
        const whole = parseWholeHeader(chunk, this.#mode, this.#maxHeaderBytes);
        if (whole !== undefined) return this.#done(whole, whole.length);
      } catch (error) {
        this.#kind = Kind.Finished;
        throw error;
      }
    }
    const heldBefore = this.#length;
    let i = 0;
    try {
      while (i < chunk.length) {
        if (this.#kind === Kind.Detecting) {
          if (!this.#detect(chunk[i]!)) {
            this.#kind = Kind.Finished;
            return {
              status: "absent",
              held: this.#buffer.slice(0, heldBefore),
            };
          }
          i++;
        } else if (this.#kind === Kind.V1) {
          const room = PROXY_V1_MAX_LENGTH - this.#length;
          const end = Math.min(chunk.length, i + room);
          const lf = chunk.subarray(i, end).indexOf(0x0a);
          const stop = lf < 0 ? end : i + lf + 1;
          this.#buffer.set(chunk.subarray(i, stop), this.#length);
          this.#length += stop - i;
          i = stop;
          if (lf >= 0) return this.#done(parseV1(this.#view()), i);
          if (this.#length === PROXY_V1_MAX_LENGTH) {
            throw new ProxyHeaderError(
              "too-long",
              `Cannot parse PROXY v1 header as it exceeds ${PROXY_V1_MAX_LENGTH} bytes without CRLF`,
            );
          }
        } else {
          const target = this.#v2Length || V2_FIXED;
          const take = Math.min(target - this.#length, chunk.length - i);
          this.#buffer.set(chunk.subarray(i, i + take), this.#length);
          this.#length += take;
          i += take;
          if (this.#length === V2_FIXED && this.#v2Length === 0) {
            this.#startV2Body();
          }
          if (this.#length === this.#v2Length) {
            return this.#done(parseV2(this.#view(), false), i);
          }
        }
      }
    } catch (error) {
      this.#kind = Kind.Finished;
      throw error;
    }
    return NEED_MORE;
  }

  /**
   * Tells the parser that no more bytes will come (end of stream, or the
   * caller gave up waiting).
   *
   * @example Usage
   * ```ts
   * import { ProxyHeaderError, ProxyHeaderParser } from "@millrace/io/net";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * const strict = new ProxyHeaderParser({ mode: "v1" });
   * strict.push(new TextEncoder().encode("PROXY TCP4 "));
   * assertEquals(assertThrows(() => strict.end(), ProxyHeaderError).code, "truncated");
   *
   * const optional = new ProxyHeaderParser({ mode: "optional" });
   * assertEquals(optional.end(), { status: "absent", held: new Uint8Array(0) });
   * ```
   *
   * @returns `"absent"` in mode `"optional"` when the bytes so far (perhaps
   * none) are only the start of a signature; the held bytes are the payload.
   * @throws {ProxyHeaderError} With code `"truncated"` otherwise.
   * @throws {TypeError} If parsing already finished.
   */
  end(): ProxyParseResult {
    if (this.#kind === Kind.Finished) {
      throw new TypeError(
        "Cannot end PROXY header parser as parsing already finished",
      );
    }
    const detecting = this.#kind === Kind.Detecting;
    this.#kind = Kind.Finished;
    if (detecting && this.#mode === "optional") {
      return { status: "absent", held: this.#buffer.slice(0, this.#length) };
    }
    throw new ProxyHeaderError(
      "truncated",
      `Cannot parse PROXY header as the stream ended inside it: received ${this.#length} bytes`,
    );
  }

  /** Takes one signature byte; false when the stream cannot be a header. */
  #detect(byte: number): boolean {
    const at = this.#length;
    const first = at === 0 ? byte : this.#buffer[0]!;
    const wantsV1 = this.#mode !== "v2";
    const wantsV2 = this.#mode !== "v1";
    let signature: Uint8Array | undefined;
    if (first === V1_PREFIX[0] && wantsV1) signature = V1_PREFIX;
    else if (first === V2_SIGNATURE[0] && wantsV2) signature = V2_SIGNATURE;
    if (signature === undefined || signature[at] !== byte) {
      if (this.#mode === "optional") return false;
      const expected = this.#mode === "v1"
        ? "v1"
        : this.#mode === "v2"
        ? "v2"
        : "v1 or v2";
      throw new ProxyHeaderError(
        "bad-signature",
        `Cannot parse PROXY header as the stream does not start with a ${expected} signature: byte ${at} is ${byte}`,
      );
    }
    if (this.#buffer === EMPTY) {
      this.#buffer = new Uint8Array(PROXY_V1_MAX_LENGTH);
    }
    this.#buffer[this.#length++] = byte;
    if (this.#length === signature.length) {
      this.#kind = signature === V1_PREFIX ? Kind.V1 : Kind.V2;
    }
    return true;
  }

  /** The fixed v2 part is in: check the version early, size the buffer. */
  #startV2Body(): void {
    const total = checkV2Fixed(this.#buffer, this.#maxHeaderBytes);
    this.#v2Length = total;
    const grown = new Uint8Array(total);
    grown.set(this.#buffer.subarray(0, V2_FIXED));
    this.#buffer = grown;
  }

  #view(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  static {
    registerHeldReader((parser) => parser.#view());
  }

  #done(header: ProxyHeader, consumed: number): ProxyParseResult {
    this.#kind = Kind.Finished;
    return { status: "done", header, consumed };
  }
}

/**
 * Parses the PROXY header at the start of `bytes` in one go (the payload may
 * follow it: `header.length` tells where it starts).
 *
 * @example Usage
 * ```ts
 * import { encodeProxyHeader, parseProxyHeader } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeProxyHeader({
 *   version: 2,
 *   source: { transport: "tcp", hostname: "2001:db8::7", port: 40000 },
 *   destination: { transport: "tcp", hostname: "2001:db8::1", port: 443 },
 *   tlvs: [{ type: 0x01, value: new TextEncoder().encode("h2") }],
 * });
 * const header = parseProxyHeader(bytes, { mode: "v2" });
 * assertEquals(header.family, "inet6");
 * assertEquals(header.alpn, "h2");
 * assertEquals(header.length, bytes.length);
 * ```
 *
 * @param bytes The start of a connection.
 * @param options The accepted versions and the v2 size limit.
 * @returns The header.
 * @throws {ProxyHeaderError} If `bytes` do not start with a complete, valid
 * header (code `"truncated"` if they stop inside one).
 */
export function parseProxyHeader(
  bytes: Uint8Array,
  options: ParseProxyHeaderOptions = {},
): ProxyHeader {
  const parser = new ProxyHeaderParser(options);
  const result = parser.push(bytes);
  if (result.status === "done") return result.header;
  parser.end(); // throws "truncated" (mode is never "optional" here)
  throw new ProxyHeaderError(
    "truncated",
    "Cannot parse PROXY header as it is incomplete",
  );
}
