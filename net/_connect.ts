// The one connect-with-deadline of net/: TcpStream.connect and TcpClient
// (each reconnect attempt too) go through here, so both time out, cancel and
// clean up a late connection the same way.
import { Deadline } from "./_deadline.ts";
import { CancelledError, TimedOutError } from "./errors.ts";

/** TLS options of a client connection, as `Deno.connectTls` names them. */
export interface ConnectTlsOptions {
  /** Extra root certificates (PEM), e.g. for a self-signed server. */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
  /** Name to verify the certificate against. @default {the address's hostname} */
  hostname?: string;
}

const noop = (): void => {};

/**
 * Connects to `address`, rejecting with `TimedOutError` once `timeoutMs`
 * passes and with `CancelledError` once any of `signals` aborts. A connection
 * that Deno completes after that (it cannot cancel a TLS or Unix connect) is
 * closed, never leaked.
 *
 * @param address Where to connect, as `Deno.connect` takes it.
 * @param timeoutMs Total time; `undefined` or `Infinity` for none.
 * @param signals Signals that cancel the attempt (`undefined` entries ignored).
 * @param tls Connect with TLS (TCP addresses only).
 * @returns The connection.
 */
export async function connectWithDeadline(
  address: Deno.ConnectOptions | Deno.UnixConnectOptions,
  timeoutMs: number | undefined,
  signals: readonly (AbortSignal | undefined)[],
  tls?: ConnectTlsOptions,
): Promise<Deno.Conn> {
  using deadline = new Deadline("connect", timeoutMs, signals);
  deadline.throwIfAborted();
  // Deno.connect takes one signal and rejects with its reason: abort it with
  // our own error, so that the caller gets TimedOutError/CancelledError.
  const controller = new AbortController();
  let attempt: Promise<Deno.Conn>;
  if (address.transport === "unix") {
    attempt = Deno.connect(address);
  } else if (tls !== undefined) {
    attempt = Deno.connectTls({
      hostname: tls.hostname ?? address.hostname ?? "127.0.0.1",
      port: address.port,
      ...(tls.caCerts ? { caCerts: tls.caCerts } : {}),
      ...(tls.alpnProtocols ? { alpnProtocols: tls.alpnProtocols } : {}),
    });
  } else {
    attempt = Deno.connect({ ...address, signal: controller.signal });
  }
  try {
    return await deadline.race(attempt);
  } catch (error) {
    if (error instanceof TimedOutError || error instanceof CancelledError) {
      controller.abort(error);
      // The attempt rejects with our error, or a conn that won too late
      // lands and must be closed.
      attempt.then((conn) => conn.close(), noop);
    }
    throw error;
  }
}
