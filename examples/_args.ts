// Tiny flag parsing and printing shared by the examples (the library has no
// dependencies, so no @std/cli here).

import type { TcpServerConfigBuilder } from "@millrace/io/net";

/** The value of `--name value` or `--name=value`, else `fallback`. */
export function flag(
  args: readonly string[],
  name: string,
  fallback: string,
): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}` && i + 1 < args.length) return args[i + 1]!;
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return fallback;
}

/** A port flag: an integer from 0 to 65535, else a clean error exit. */
export function portFlag(args: readonly string[], fallback: string): number {
  const raw = flag(args, "port", fallback);
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    printError(
      `error: --port must be an integer from 0 to 65535: received "${raw}"`,
    );
    Deno.exit(2);
  }
  return port;
}

const encoder = new TextEncoder();

/** Writes one line to stdout (the examples' protocol with their tests). */
export function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Writes one line to stderr. */
export function printError(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** `HOST:PORT` of a listener address, IPv6 in brackets. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return "path" in addr ? addr.path : String(addr.transport);
}

const PROXY_MODES = ["v1", "v2", "any", "optional"] as const;

/** `--proxy-protocol v1|v2|any|optional`, else undefined; a bad value exits 2. */
export function proxyProtocolFlag(
  args: readonly string[],
): typeof PROXY_MODES[number] | undefined {
  const mode = flag(args, "proxy-protocol", "");
  if (mode === "") return undefined;
  if (!(PROXY_MODES as readonly string[]).includes(mode)) {
    printError(
      `error: --proxy-protocol must be v1, v2, any or optional: received "${mode}"`,
    );
    Deno.exit(2);
  }
  return mode as typeof PROXY_MODES[number];
}

/**
 * The load-balancer flags every example server takes, applied to its config:
 * `--proxy-protocol v1|v2|any|optional` (expect a PROXY header, e.g. from
 * HAProxy's `send-proxy-v2`), `--proxy-header-timeout-ms N`,
 * `--trusted-proxies CIDR[,CIDR…]` and `--health-port N` (answers
 * `up ready`/`maint`/`drain` for HAProxy's `agent-check`). Bad values exit 2.
 */
export function loadBalancerFlags(
  builder: TcpServerConfigBuilder,
  args: readonly string[],
): TcpServerConfigBuilder {
  const mode = proxyProtocolFlag(args);
  if (mode !== undefined) {
    const timeout = flag(args, "proxy-header-timeout-ms", "");
    const trusted = flag(args, "trusted-proxies", "");
    builder.proxyProtocol(mode, {
      ...(timeout === "" ? {} : { headerTimeoutMs: Number(timeout) }),
      ...(trusted === "" ? {} : { trustedProxies: trusted.split(",") }),
    });
  }
  const health = flag(args, "health-port", "");
  if (health !== "") {
    const port = Number(health);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      printError(
        `error: --health-port must be an integer from 0 to 65535: received "${health}"`,
      );
      Deno.exit(2);
    }
    builder.healthPort(port);
  }
  return builder;
}
