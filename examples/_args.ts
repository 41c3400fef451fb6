// Tiny flag parsing and printing shared by the examples (the library has no
// dependencies, so no @std/cli here).

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
