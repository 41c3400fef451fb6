// Tiny flag parsing and printing shared by the examples (the library has no
// dependencies, so no @std/cli here).

import {
  type TcpServerConfig,
  TcpServerConfig as Config,
  type TcpServerConfigBuilder,
} from "@millrace/io/net";

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

/**
 * An integer flag from `min` to `max` (a safe integer), else a clean error
 * exit (status 2).
 */
export function integerFlag(
  args: readonly string[],
  name: string,
  fallback: string,
  { min = 1, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } =
    {},
): number {
  const raw = flag(args, name, fallback);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const rule = max === Number.MAX_SAFE_INTEGER
      ? `of at least ${min}`
      : `from ${min} to ${max}`;
    printError(
      `error: --${name} must be an integer ${rule}: received "${raw}"`,
    );
    Deno.exit(2);
  }
  return value;
}

/** A port flag: an integer from 0 to 65535, else a clean error exit. */
export function portFlag(args: readonly string[], fallback: string): number {
  return integerFlag(args, "port", fallback, { min: 0, max: 65535 });
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

/**
 * Prints `listening on HOST:PORT` ({@linkcode formatAddr}): the first line of
 * every example server, which its tests wait for to learn the port.
 */
export function printListening(addr: Deno.Addr): void {
  print(`listening on ${formatAddr(addr)}`);
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
  if (flag(args, "health-port", "") !== "") {
    builder.healthPort(
      integerFlag(args, "health-port", "", { min: 0, max: 65535 }),
    );
  }
  return builder;
}

/**
 * The config every example server starts from: `--hostname` (127.0.0.1),
 * `--port` (0, any free port), what `settings` adds (the example's own
 * options), then {@linkcode loadBalancerFlags}.
 */
export function serverConfig(
  args: readonly string[],
  settings: (builder: TcpServerConfigBuilder) => TcpServerConfigBuilder = (
    builder,
  ) => builder,
): TcpServerConfig {
  const builder = Config.builder()
    .hostname(flag(args, "hostname", "127.0.0.1"))
    .port(portFlag(args, "0"));
  return loadBalancerFlags(settings(builder), args).build();
}
