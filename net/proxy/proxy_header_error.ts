// The one error the PROXY protocol parser throws.

/**
 * What was wrong with a PROXY header, stable across versions:
 *
 * - `"bad-signature"`: the bytes do not start with a header the mode accepts.
 * - `"too-long"`: a v1 line over 107 bytes, or a v2 header over `maxHeaderBytes`.
 * - `"bad-version"`: a v2 version other than 2.
 * - `"bad-command"`: a v2 command other than LOCAL or PROXY.
 * - `"bad-family"`: an unknown address family or transport.
 * - `"bad-address"`: an address, port or v1 field that does not parse, or a
 *   v2 address block shorter than its family needs.
 * - `"bad-tlv"`: a v2 TLV that overruns the header or breaks its own rules.
 * - `"bad-checksum"`: a CRC32c TLV that does not match.
 * - `"truncated"`: the connection ended inside the header.
 * - `"timed-out"`: the header did not complete in time.
 * - `"untrusted"`: a header from a peer outside the trusted proxies.
 *
 * @example Usage
 * ```ts
 * import type { ProxyHeaderErrorCode } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const code: ProxyHeaderErrorCode = "too-long";
 * assertEquals(code, "too-long");
 * ```
 */
export type ProxyHeaderErrorCode =
  | "bad-signature"
  | "too-long"
  | "bad-version"
  | "bad-command"
  | "bad-family"
  | "bad-address"
  | "bad-tlv"
  | "bad-checksum"
  | "truncated"
  | "timed-out"
  | "untrusted";

/**
 * A PROXY protocol header was malformed, too long, incomplete or not
 * trusted. The parser throws nothing else on any input.
 *
 * @example Usage
 * ```ts
 * import { parseProxyHeader, ProxyHeaderError } from "@millrace/io/net";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const error = assertThrows(
 *   () => parseProxyHeader(new TextEncoder().encode("GET / HTTP/1.1\r\n")),
 *   ProxyHeaderError,
 * );
 * assertEquals(error.code, "bad-signature");
 * ```
 */
export class ProxyHeaderError extends Error {
  /** What was wrong (see {@linkcode ProxyHeaderErrorCode}). */
  readonly code: ProxyHeaderErrorCode;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { ProxyHeaderError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const error = new ProxyHeaderError("timed-out", "Cannot read PROXY header as it did not complete within 3000 ms: received 0 bytes");
   * assertEquals(error.name, "ProxyHeaderError");
   * ```
   *
   * @param code What was wrong.
   * @param message The detail, std-style.
   * @param options The cause, if any.
   */
  constructor(
    code: ProxyHeaderErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.name = "ProxyHeaderError";
  }
}
