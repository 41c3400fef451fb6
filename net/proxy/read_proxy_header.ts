// Reading a PROXY header off a `TcpStream`, without reading past it; in mode
// "optional" a stream without one keeps every byte (the bytes looked at are
// put back).

import { CancelledError, IncompleteError, TimedOutError } from "../errors.ts";
import type { TcpStream } from "../stream/tcp_stream.ts";
import { unread } from "../stream/_unread.ts";
import type { TcpStreamCallOptions } from "../stream/tcp_stream_options.ts";
import type { ProxyHeader } from "./proxy_header.ts";
import { ProxyHeaderError } from "./proxy_header_error.ts";
import { heldBytes } from "./_parser_held.ts";
import {
  ProxyHeaderParser,
  type ProxyParseResult,
} from "./proxy_header_parser.ts";

/**
 * Options of {@linkcode readProxyHeader}.
 *
 * @example Usage
 * ```ts
 * import type { ReadProxyHeaderOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ReadProxyHeaderOptions = { mode: "v2", timeoutMs: 1_000 };
 * assertEquals(options.mode, "v2");
 * ```
 */
export interface ReadProxyHeaderOptions extends TcpStreamCallOptions {
  /**
   * Which headers to accept. With `"optional"` a stream that does not start
   * with a header is not an error: the call resolves with `undefined` and
   * leaves every byte in the stream (see {@linkcode readProxyHeader}).
   * @default {"any"}
   */
  mode?: "v1" | "v2" | "any" | "optional";
  /** Largest v2 header accepted (16 to 65551). @default {4096} */
  maxHeaderBytes?: number;
  /**
   * Total time for the whole header in milliseconds.
   * @default {3000}
   */
  timeoutMs?: number;
}

/**
 * {@linkcode ReadProxyHeaderOptions} with mode `"optional"`: a stream may
 * start without a header.
 *
 * @example Usage
 * ```ts
 * import type { ReadOptionalProxyHeaderOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ReadOptionalProxyHeaderOptions = { mode: "optional" };
 * assertEquals(options.mode, "optional");
 * ```
 */
export interface ReadOptionalProxyHeaderOptions extends ReadProxyHeaderOptions {
  /** Accept either version, or none. */
  mode: "optional";
}

const DEFAULT_TIMEOUT_MS = 3000;

/**
 * Reads the PROXY protocol header that starts `stream` and nothing after it:
 * the payload stays in the stream for the next read.
 *
 * With mode `"optional"` (a port that both a proxy and direct clients
 * reach) a stream that does not start with a header resolves with
 * `undefined`, and every byte the call looked at is put back: the next read
 * starts with the client's first byte. That is also the answer when the
 * stream ends, or `timeoutMs` passes, while the bytes so far could still be
 * the start of a signature (a direct client that sent `"PRO"` and waits);
 * once a whole signature came, the rest of the header is required as in the
 * other modes. Unlike `TcpServer`, this reader has no `trustedProxies`:
 * check `stream.remoteAddr` before believing a header.
 *
 * @example Behind a proxy
 * ```ts
 * import { encodeProxyHeader, readProxyHeader, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr);
 * using server = await listener.accept();
 * await client.writeAll(encodeProxyHeader({
 *   version: 2,
 *   source: { transport: "tcp", hostname: "192.0.2.7", port: 51234 },
 *   destination: { transport: "tcp", hostname: "198.51.100.1", port: 443 },
 * }));
 * await client.writeAll(new TextEncoder().encode("ping"));
 * const header = await readProxyHeader(server, { mode: "v2", timeoutMs: 1_000 });
 * assertEquals(header.source, { transport: "tcp", hostname: "192.0.2.7", port: 51234 });
 * assertEquals(new TextDecoder().decode(await server.readExact(4)), "ping");
 * ```
 *
 * @param stream The stream, before anything was read from it.
 * @param options The accepted versions, size limit, deadline and signal.
 * @returns The header.
 * @throws {ProxyHeaderError} If the header is invalid (`"truncated"` if the
 * stream ends inside it, `"timed-out"` past `timeoutMs`).
 * @throws {CancelledError} If `signal` aborts.
 */
export function readProxyHeader(
  stream: TcpStream,
  options?: ReadProxyHeaderOptions & { mode?: "v1" | "v2" | "any" },
): Promise<ProxyHeader>;
/**
 * Reads the PROXY protocol header that may start `stream` (mode
 * `"optional"`): resolves with `undefined` when there is none, with every
 * byte left in the stream.
 *
 * @example Proxied and direct clients on one port
 * ```ts
 * import { encodeProxyHeader, readProxyHeader, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using proxied = await TcpStream.connect(listener.addr);
 * using viaProxy = await listener.accept();
 * await proxied.writeAll(encodeProxyHeader({
 *   version: 1,
 *   source: { transport: "tcp", hostname: "192.0.2.7", port: 51234 },
 *   destination: { transport: "tcp", hostname: "198.51.100.1", port: 80 },
 * }));
 * await proxied.writeAll(new TextEncoder().encode("ping"));
 * const header = await readProxyHeader(viaProxy, { mode: "optional", timeoutMs: 1_000 });
 * assertEquals(header?.version, 1);
 *
 * using direct = await TcpStream.connect(listener.addr);
 * using fromClient = await listener.accept();
 * await direct.writeAll(new TextEncoder().encode("PROBE"));
 * assertEquals(await readProxyHeader(fromClient, { mode: "optional", timeoutMs: 1_000 }), undefined);
 * // Nothing was lost: "PRO" looked like a v1 signature and was put back.
 * assertEquals(new TextDecoder().decode(await fromClient.readExact(5)), "PROBE");
 * ```
 *
 * @param stream The stream, before anything was read from it.
 * @param options Mode `"optional"`, the size limit, deadline and signal.
 * @returns The header, or `undefined` if the stream does not start with one.
 * @throws {ProxyHeaderError} If a header started (a whole signature came)
 * but is invalid, truncated or late (`"timed-out"`).
 * @throws {CancelledError} If `signal` aborts (the bytes looked at are put
 * back).
 */
export function readProxyHeader(
  stream: TcpStream,
  options: ReadOptionalProxyHeaderOptions,
): Promise<ProxyHeader | undefined>;
/**
 * Reads the PROXY protocol header that starts `stream`, with the mode known
 * only at run time: `undefined` is possible (mode `"optional"`).
 *
 * @example Mode from configuration
 * ```ts
 * import { readProxyHeader, type ReadProxyHeaderOptions, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect(listener.addr);
 * using server = await listener.accept();
 * await client.writeAll(new TextEncoder().encode("PROXY UNKNOWN\r\nhi"));
 * const options: ReadProxyHeaderOptions = { mode: "optional", timeoutMs: 1_000 };
 * const header = await readProxyHeader(server, options);
 * assertEquals(header?.source, null);
 * ```
 *
 * @param stream The stream, before anything was read from it.
 * @param options The accepted versions, size limit, deadline and signal.
 * @returns The header, or `undefined` (mode `"optional"` only) if there is
 * none.
 * @throws {ProxyHeaderError} If the header is invalid, truncated or late.
 * @throws {CancelledError} If `signal` aborts.
 */
export function readProxyHeader(
  stream: TcpStream,
  options?: ReadProxyHeaderOptions,
): Promise<ProxyHeader | undefined>;
export async function readProxyHeader(
  stream: TcpStream,
  options: ReadProxyHeaderOptions = {},
): Promise<ProxyHeader | undefined> {
  const { mode = "any", maxHeaderBytes, signal } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const parser = new ProxyHeaderParser({
    mode,
    ...(maxHeaderBytes === undefined ? {} : { maxHeaderBytes }),
  });
  const deadline = performance.now() + timeoutMs;
  const absent = (result: ProxyParseResult, last?: Uint8Array): undefined => {
    const held = (result as { held: Uint8Array }).held;
    const back = new Uint8Array(held.length + (last?.length ?? 0));
    back.set(held);
    if (last !== undefined) back.set(last, held.length);
    unread(stream, back);
    return undefined;
  };
  while (true) {
    let bytes: Uint8Array;
    try {
      bytes = await stream.readExact(parser.wantedBytes, {
        timeoutMs: Math.max(0, deadline - performance.now()),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (error instanceof IncompleteError) {
        if (error.partial.length > 0) {
          const result = parser.push(error.partial);
          if (result.status === "absent") return absent(result, error.partial);
          if (result.status === "done") {
            // Cannot happen (readExact asked for the header's rest), but a
            // complete header is a header.
            return result.header;
          }
        }
        return absent(parser.end()); // "truncated" unless still optional
      }
      if (error instanceof CancelledError) {
        // Mode "optional" loses nothing to a cancelled call either: the
        // parser holds every byte read so far.
        if (mode === "optional") unread(stream, heldBytes(parser).slice());
        throw error;
      }
      if (error instanceof TimedOutError) {
        if (mode === "optional") {
          try {
            return absent(parser.end());
          } catch {
            // A whole signature came: a late header, as in the other modes.
          }
        }
        throw new ProxyHeaderError(
          "timed-out",
          `Cannot read PROXY header as it did not complete within ${timeoutMs} ms: received ${parser.bufferedBytes} bytes`,
          { cause: error },
        );
      }
      throw error;
    }
    const result = parser.push(bytes);
    if (result.status === "done") return result.header;
    if (result.status === "absent") return absent(result, bytes);
  }
}
