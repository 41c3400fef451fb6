// Process helpers for the peer harness: spawn pinned servers and clients,
// read /proc, stop everything by PID.

/** Repository root (the folder holding deno.json). */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

let clkTck = 100;
/**
 * The value after `name` on the command line (`--reps 14`); `fallback` (or
 * `undefined`) if it is not given.
 */
export function option(name: string): string | undefined;
export function option(name: string, fallback: string): string;
export function option(name: string, fallback?: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Deno.args[at + 1] : fallback;
}

/** Reads the kernel clock tick once (utime/stime are in ticks). */
export async function initClockTick(): Promise<void> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (Number.isFinite(n) && n > 0) clkTck = n;
  } catch {
    // keep 100
  }
}

/** utime + stime of a process (all its threads) in µs. */
export function cpuMicros(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) * 1e6 / clkTck;
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}

/** Whether a command is on PATH. */
export async function which(cmd: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${cmd}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

let useTaskset = true;
/** Disables CPU pinning (when `taskset` is missing). */
export function setTaskset(enabled: boolean): void {
  useTaskset = enabled;
}

// `ulimit -n` is raised for the idle workload (10,000 connections per side);
// `exec` keeps the PID, so /proc/PID is the server itself.
function wrap(cmd: string[], cpu: number | undefined): string[] {
  const pin = useTaskset && cpu !== undefined
    ? ["taskset", "-c", String(cpu)]
    : [];
  return [
    "-c",
    'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
    "sh",
    ...pin,
    ...cmd,
  ];
}

const live = new Set<Deno.ChildProcess>();

/** Kills (by PID, SIGKILL) every process this harness started and still runs. */
export function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    id = setTimeout(
      () => reject(new Error(`${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(id));
}

/** A line-oriented view of a child's stdout plus a tail of its stderr. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  #lines: string[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #ended = false;
  #stderr = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  readonly status: Promise<Deno.CommandStatus>;
  /** Resolves when stdout reached EOF (every line is buffered). */
  readonly stdoutDone: Promise<void>;

  constructor(cmd: string[], cpu: number | undefined, stdin = false) {
    this.child = new Deno.Command("sh", {
      args: wrap(cmd, cpu),
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    live.add(this.child);
    this.status = this.child.status.finally(() => live.delete(this.child));
    if (stdin) this.#stdin = this.child.stdin.getWriter();
    this.stdoutDone = this.#pump();
    this.#pumpErr();
  }

  async #pump(): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of this.child.stdout) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.#push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        if (buf.length > 1 << 20) buf = buf.slice(-4096);
      }
    } catch {
      // the process went away
    }
    if (buf) this.#push(buf);
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w(null);
  }

  async #pumpErr(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.child.stderr) {
        this.#stderr = (this.#stderr + dec.decode(chunk, { stream: true }))
          .slice(-2000);
      }
    } catch {
      // gone
    }
  }

  #push(line: string): void {
    const w = this.#waiters.shift();
    if (w) w(line);
    else this.#lines.push(line);
  }

  /** The next stdout line, or null at EOF; rejects after `ms`. */
  nextLine(ms: number, what = "process"): Promise<string | null> {
    const l = this.#lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.#ended) return Promise.resolve(null);
    return timeout(
      new Promise<string | null>((r) => this.#waiters.push(r)),
      ms,
      what,
    );
  }

  /** All stdout lines not consumed yet. */
  drainLines(): string[] {
    return this.#lines.splice(0);
  }

  /** Last 2000 characters of stderr. */
  get stderrTail(): string {
    return this.#stderr.trim();
  }

  /** Writes to stdin (when piped). */
  async write(text: string): Promise<void> {
    await this.#stdin?.write(new TextEncoder().encode(text));
  }

  /** Closes stdin (when piped). */
  async closeStdin(): Promise<void> {
    try {
      await this.#stdin?.close();
    } catch {
      // already closed
    }
    this.#stdin = undefined;
  }

  /** Waits for exit up to `ms`, then SIGKILL. Returns the exit code. */
  async wait(ms: number): Promise<number> {
    try {
      return (await timeout(this.status, ms, "exit")).code;
    } catch {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone
      }
      return (await this.status).code;
    }
  }

  /** SIGTERM, wait up to `ms`, then SIGKILL. Returns the exit code. */
  async stop(ms = 5000): Promise<number> {
    await this.closeStdin();
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    return await this.wait(ms);
  }
}

/** Runs a client to completion (killed after `ms`); returns its stdout. */
export async function runClient(
  cmd: string[],
  cpu: number | undefined,
  ms: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new Proc(cmd, cpu);
  const code = await p.wait(ms);
  await p.stdoutDone;
  const stdout = p.drainLines().join("\n");
  return { code, stdout, stderr: p.stderrTail };
}

/**
 * Runs `bench/peers/loadgen.c` (built at `loadgen`) in `mode` against the
 * server processes `pids` (their CPU summed; the first one's `port`), 64 B
 * messages after a 0.5 s warm-up; `rate` paces ping-pong (0: saturated).
 * Returns its JSON result.
 */
export async function runLoadgen(
  loadgen: string,
  mode: "pingpong" | "churn" | "stream",
  port: number,
  pids: number[],
  run: {
    conns: number;
    /** Bytes per message. @default {64} */
    size?: number;
    seconds: number;
    rate: number;
    cpu: number | undefined;
    /** Seconds of load before the measured window (the JIT warms up). */
    warmup?: number;
  },
): Promise<Record<string, number>> {
  const { conns, seconds, rate, cpu, warmup = 0.5, size = 64 } = run;
  const r = await runClient(
    [
      loadgen,
      mode,
      "--port",
      String(port),
      "--conns",
      String(conns),
      "--size",
      String(size),
      "--duration",
      String(seconds),
      "--warmup",
      String(warmup),
      ...pids.flatMap((pid) => ["--pid", String(pid)]),
      "--timeout",
      String(seconds + 30),
      ...(mode === "pingpong" && rate > 0 ? ["--rate", String(rate)] : []),
    ],
    cpu,
    (warmup + seconds + 40) * 1000,
  );
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.code !== 0 || !last.startsWith("{")) {
    throw new Error(`loadgen exit ${r.code}: ${last} ${r.stderr.slice(-300)}`);
  }
  return JSON.parse(last);
}

/**
 * Side by side: starts the server of each of `items` in that order, loads
 * them all at the same time (so that the machine's drift moves them alike),
 * then stops them. Returns each item's load result, in the order of
 * `items`, or why its server did not start or its load failed.
 */
export async function loadAtOnce<I, S, R>(
  items: readonly I[],
  start: (item: I) => Promise<S>,
  load: (server: S, item: I) => Promise<R>,
  stop: (server: S, item: I) => Promise<unknown>,
): Promise<PromiseSettledResult<R>[]> {
  const started: PromiseSettledResult<S>[] = [];
  try {
    for (const item of items) {
      try {
        started.push({ status: "fulfilled", value: await start(item) });
      } catch (reason) {
        started.push({ status: "rejected", reason });
      }
    }
    return await Promise.allSettled(
      started.map((server, k) =>
        server.status === "fulfilled"
          ? load(server.value, items[k]!)
          : Promise.reject(server.reason)
      ),
    );
  } finally {
    for (const [k, server] of started.entries()) {
      if (server.status === "fulfilled") await stop(server.value, items[k]!);
    }
  }
}

/**
 * Starts `cmd` (on `cpu`) and waits for its `listening on HOST:PORT` line;
 * returns the process with that port.
 */
export async function startListening(
  cmd: string[],
  cpu: number | undefined,
): Promise<Proc & { port: number }> {
  const proc = new Proc(cmd, cpu);
  for (;;) {
    const line = await proc.nextLine(30000, cmd.join(" "));
    if (line === null) throw new Error(`${cmd.join(" ")}: ${proc.stderrTail}`);
    const port = /listening on .*:(\d+)\s*$/.exec(line)?.[1];
    if (port !== undefined) return Object.assign(proc, { port: Number(port) });
  }
}

/** A free loopback port (bind to 0, read it, release it). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until a TCP connect to the port succeeds. */
export async function waitForPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`port ${port} did not open within ${ms} ms`);
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const BUILD = `${ROOT}/bench/.build`;
/**
 * Compiles `bench/peers/<name>.c` into bench/.build (when it or the header
 * the peers share, `bench/peers/_peer.h`, is newer); returns the binary.
 */
export async function compile(name: string): Promise<string> {
  const src = `${ROOT}/bench/peers/${name}.c`;
  const header = `${ROOT}/bench/peers/_peer.h`;
  const bin = `${BUILD}/${name}`;
  await Deno.mkdir(BUILD, { recursive: true });
  let fresh = false;
  try {
    const built = Deno.statSync(bin).mtime!;
    fresh = built >= Deno.statSync(src).mtime! &&
      built >= Deno.statSync(header).mtime!;
  } catch {
    fresh = false;
  }
  if (!fresh) {
    const out = await new Deno.Command("gcc", {
      args: ["-O2", "-Wall", "-o", bin, src],
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`gcc ${name}.c: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return bin;
}
