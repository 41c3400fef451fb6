// Reading a PROXY header off a `TcpStream`, without reading past it.

import { IncompleteError, TimedOutError } from "../errors.ts";
import type { TcpStream } from "../stream/tcp_stream.ts";
import type { TcpStreamCallOptions } from "../stream/tcp_stream_options.ts";
import type { ProxyHeader } from "./proxy_header.ts";
import { ProxyHeaderError } from "./proxy_header_error.ts";
import { ProxyHeaderParser } from "./proxy_header_parser.ts";

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
  /** Which headers to accept. @default {"any"} */
  mode?: "v1" | "v2" | "any";
  /** Largest v2 header accepted (16 to 65551). @default {4096} */
  maxHeaderBytes?: number;
  /**
   * Total time for the whole header in milliseconds.
   * @default {3000}
   */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;

/**
 * Reads the PROXY protocol header that starts `stream` and nothing after it:
 * the payload stays in the stream for the next read.
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
export async function readProxyHeader(
  stream: TcpStream,
  options: ReadProxyHeaderOptions = {},
): Promise<ProxyHeader> {
  const { mode = "any", maxHeaderBytes, signal } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const parser = new ProxyHeaderParser({
    mode,
    ...(maxHeaderBytes === undefined ? {} : { maxHeaderBytes }),
  });
  const deadline = performance.now() + timeoutMs;
  while (true) {
    let bytes: Uint8Array;
    try {
      bytes = await stream.readExact(parser.wantedBytes, {
        timeoutMs: Math.max(0, deadline - performance.now()),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (error instanceof IncompleteError) {
        if (error.partial.length > 0) parser.push(error.partial);
        parser.end(); // throws "truncated"
      }
      if (error instanceof TimedOutError) {
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
  }
}
