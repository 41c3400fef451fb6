/**
 * The PROXY protocol (v1 text and v2 binary, as HAProxy, AWS NLB, nginx and
 * Envoy send it): how a backend behind a load balancer learns the real
 * client address. An incremental parser with bounded memory, a one-shot
 * parse, an encoder, and a reader for `TcpStream`; `TcpServer` uses the same
 * parser through its `proxyProtocol` option.
 *
 * @example Parse a header in front of a payload
 * ```ts
 * import { parseProxyHeader } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new TextEncoder().encode("PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\nGET /");
 * const header = parseProxyHeader(bytes);
 * assertEquals(header.source, { transport: "tcp", hostname: "2001:db8::7", port: 40000 });
 * assertEquals(new TextDecoder().decode(bytes.subarray(header.length)), "GET /");
 * ```
 *
 * @module
 */
export * from "./proxy_header.ts";
export * from "./proxy_header_error.ts";
export * from "./proxy_header_parser.ts";
export * from "./encode_proxy_header.ts";
export * from "./read_proxy_header.ts";
export * from "./proxy_info.ts";
