// The project's missing-peer mechanism. A test that needs a real program
// (socat, redis-cli, gcc, …) asks `peer("socat")` at module load and is
// ignored, visibly, where the program is missing:
//
//   const socat = peer("socat");
//   Deno.test({ name: socat.name("echoes to socat"), ignore: socat.ignore, … });
//
// A missing peer adds `[needs socat: apt-get install -y socat]` to the test
// name, so the runner's "… ignored" line says what to install. `.ci/run`
// installs every peer and fails when any test is ignored with that marker, so
// nothing silently stops running there.
//
// The lookup walks PATH with stat calls: synchronous, checked once per
// program, and never throws (spawning a missing program throws `NotFound`
// synchronously, which at module load takes the whole test file down).

/** The Debian package that provides each peer program. */
const PACKAGES: Readonly<Record<string, string>> = {
  "curl": "curl",
  "gcc": "gcc",
  "haproxy": "haproxy",
  "node": "nodejs",
  "openssl": "openssl",
  "python3": "python3",
  "redis-benchmark": "redis-tools",
  "redis-cli": "redis-tools",
  "redis-server": "redis-server",
  "socat": "socat",
  "wrk": "wrk",
};

/** The marker `.ci/run` looks for in the names of ignored tests. */
export const MISSING_PEER_MARKER = "[needs ";

/** Whether the real peer programs a test needs are all installed. */
export interface PeerCheck {
  /** True when every program was found on PATH. */
  readonly available: boolean;
  /** `!available`: pass it as the test's `ignore`. */
  readonly ignore: boolean;
  /** The programs that were not found. */
  readonly missing: readonly string[];
  /**
   * The test name, with `[needs P: apt-get install -y PKG]` appended when a
   * program is missing.
   */
  name(title: string): string;
}

const found = new Map<string, boolean>();

function onPath(program: string): boolean {
  let hit = found.get(program);
  if (hit !== undefined) return hit;
  hit = false;
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch {
    // No env permission: treat as missing rather than throwing at load.
  }
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${program}`);
      if (info.isFile && (info.mode === null || (info.mode & 0o111) !== 0)) {
        hit = true;
        break;
      }
    } catch {
      // Not in this directory (or not readable): keep looking.
    }
  }
  found.set(program, hit);
  return hit;
}

/**
 * Checks that the given peer programs are installed (on PATH).
 *
 * @param programs Program names, e.g. `"socat"`, `"redis-cli"`.
 * @returns The check, with `ignore` and `name()` ready for `Deno.test`.
 */
export function peer(...programs: string[]): PeerCheck {
  const missing = programs.filter((p) => !onPath(p));
  const packages = [...new Set(missing.map((p) => PACKAGES[p] ?? p))];
  const note = missing.length === 0
    ? ""
    : ` ${MISSING_PEER_MARKER}${missing.join(", ")}: apt-get install -y ${
      packages.join(" ")
    }]`;
  return {
    available: missing.length === 0,
    ignore: missing.length !== 0,
    missing,
    name: (title) => title + note,
  };
}

/**
 * The command line of the real `redis-server` that the tests and the peer
 * benchmark compare mini_redis with: loopback only, on `port`, nothing
 * written to disk (no RDB snapshots, no append-only file), warnings only.
 */
export function redisServerCommand(port: number): string[] {
  return [
    "redis-server",
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--loglevel",
    "warning",
  ];
}
