// What a server knows about how a connection reached it through a proxy.

import type { ProxyHeader } from "./proxy_header.ts";

/**
 * How a connection of a server with `proxyProtocol` arrived, from
 * `ctx.proxyInfo(id)`:
 *
 * - a header with addresses (v1 `TCP4`/`TCP6`, v2 PROXY over
 *   `AF_INET`/`AF_INET6`/`AF_UNIX`): `addressesFromHeader` is `true` and
 *   `ctx.remoteAddr(id)`/`ctx.localAddr(id)` report the header's source and
 *   destination;
 * - a header without addresses (v2 LOCAL, e.g. a proxy's health check; v1
 *   `UNKNOWN`; v2 `AF_UNSPEC`): `addressesFromHeader` is `false` and the
 *   socket's own addresses are reported;
 * - no header (mode `"optional"`, a direct client): `header` is `undefined`.
 *
 * @example Usage
 * ```ts
 * import type { ProxyInfo } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const direct: ProxyInfo = { header: undefined, addressesFromHeader: false };
 * assertEquals(direct.addressesFromHeader, false);
 * ```
 */
export interface ProxyInfo {
  /** The header the connection started with; `undefined` for a direct connection. */
  readonly header: ProxyHeader | undefined;
  /** Whether `remoteAddr`/`localAddr` come from the header (else from the socket). */
  readonly addressesFromHeader: boolean;
}
