// The one listen of net/: TcpServer (TCP, TLS, Unix) and TcpListener (TCP,
// Unix) bind through here, so the backlog and the transports are handled in
// one place.
import type { ParsedAddress } from "./_address.ts";

/** TLS material of a listener, as `Deno.listenTls` names it. */
export interface ListenTlsOptions {
  /** PEM-encoded certificate chain. */
  cert: string;
  /** PEM-encoded private key. */
  key: string;
  /** ALPN protocols to offer. */
  alpnProtocols?: readonly string[];
}

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /** Kernel accept queue length; Deno's default (511) when absent. */
  tcpBacklog?: number;
  /** Listen with TLS (TCP addresses only). */
  tls?: ListenTlsOptions;
  /** SO_REUSEPORT (plain TCP; Linux with `--unstable-net` only). */
  reusePort?: boolean;
}

/**
 * Binds a listener synchronously: a Unix socket, or TCP with or without TLS.
 * A TCP address without a hostname binds Deno's default (`0.0.0.0`).
 *
 * @param address A checked address.
 * @param options Backlog and TLS.
 * @returns The listener.
 */
export function listen(
  address: ParsedAddress,
  options: ListenOptions = {},
): Deno.Listener {
  if (address.transport === "unix") {
    return Deno.listen({ transport: "unix", path: address.path });
  }
  const { tcpBacklog, tls, reusePort } = options;
  const tcp = {
    port: address.port,
    ...(address.hostname === undefined ? {} : { hostname: address.hostname }),
    ...(tcpBacklog === undefined ? {} : { tcpBacklog }),
    ...(reusePort ? { reusePort: true } : {}),
  };
  if (tls === undefined) return Deno.listen(tcp);
  return Deno.listenTls({
    ...tcp,
    cert: tls.cert,
    key: tls.key,
    alpnProtocols: [...(tls.alpnProtocols ?? [])],
  });
}
