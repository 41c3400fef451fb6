// The one address parser of net/: TcpServerConfig, TcpClient, TcpStream and
// TcpListener all accept the same forms and reject bad ones with the same
// messages.
import {
  invalidOption,
  validateEnum,
  validateHostname,
  validatePort,
  validateString,
} from "../_internal/validate.ts";

/** Where to listen or connect, checked: a TCP host and port or a Unix path. */
export type ParsedAddress =
  | { transport: "tcp"; hostname: string | undefined; port: number }
  | { transport: "unix"; path: string };

/** What {@linkcode parseAddress} accepts. */
export type AddressInput =
  | string
  | { hostname?: string; port: number; transport?: "tcp" }
  | { transport: "unix"; path: string }
  | { path: string }
  | Deno.Addr;

/** `host:port`, `[v6]:port` or `:port`. */
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d+)$/;

/**
 * Parses and checks an address: `"host:port"`, `"[::1]:port"`, `":port"`,
 * `{ hostname?, port }` (a `Deno.NetAddr` too), or `{ transport: "unix",
 * path }` (or just `{ path }`). A missing hostname stays `undefined`: each
 * caller applies its own default.
 *
 * @param action What could not be done, for the error message.
 * @param address The address.
 * @param allowZeroPort `true` to listen (0 picks a port), `false` to connect.
 * @throws {TypeError} For a wrong type (a hostname that is not a string…).
 * @throws {RangeError} For a bad value (a port out of range, an empty path…).
 */
export function parseAddress(
  action: string,
  address: unknown,
  allowZeroPort: boolean,
): ParsedAddress {
  if (typeof address === "string") {
    const match = HOST_PORT.exec(address);
    if (match === null) {
      throw invalidOption(
        RangeError,
        action,
        "address",
        "'host:port', '[host]:port' or ':port'",
        address,
      );
    }
    const hostname = match[1] ?? match[2] ?? "";
    return {
      transport: "tcp",
      hostname: hostname === ""
        ? undefined
        : validateHostname(action, "hostname", hostname),
      port: validatePort(action, "port", Number(match[3]), allowZeroPort),
    };
  }
  if (address === null || typeof address !== "object") {
    throw invalidOption(
      TypeError,
      action,
      "address",
      "a 'host:port' string or an object",
      address,
    );
  }
  const fields = address as {
    transport?: unknown;
    hostname?: unknown;
    port?: unknown;
    path?: unknown;
  };
  const transport = fields.transport === undefined
    ? ("path" in fields ? "unix" : "tcp")
    : validateEnum(action, "transport", fields.transport, ["tcp", "unix"]);
  if (transport === "unix") {
    return {
      transport: "unix",
      path: validateString(action, "path", fields.path),
    };
  }
  return {
    transport: "tcp",
    hostname: fields.hostname === undefined
      ? undefined
      : validateHostname(action, "hostname", fields.hostname),
    port: validatePort(action, "port", fields.port, allowZeroPort),
  };
}

/** The options `Deno.connect`/`Deno.listen` take for a parsed address. */
export function toDenoAddress(
  address: ParsedAddress,
  defaultHostname?: string,
): Deno.ConnectOptions | Deno.UnixConnectOptions {
  if (address.transport === "unix") {
    return { transport: "unix", path: address.path };
  }
  const hostname = address.hostname ?? defaultHostname;
  return hostname === undefined
    ? { port: address.port }
    : { hostname, port: address.port };
}
