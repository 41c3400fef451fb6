// deno-lint-ignore-file no-console
/**
 * Compute peer benchmark (issue #5): millrace's `ComputePool` against a plain
 * `postMessage` worker pool on Deno and piscina on Node, same machine, one
 * run, same scenarios:
 *
 * - tiny-task throughput (2 workers): N no-op tasks submitted in windows of
 *   10,000 (`Promise.all` per window), and all N at once,
 * - dispatch round trip p50/p99 (one task at a time),
 * - CPU-bound speed-up from 1 to 2 workers (5 ms busy tasks),
 * - latency of a critical task submitted behind 10,000 queued low tasks
 *   (0.5 ms each), in task run times.
 *
 *   deno run -A bench/compute_peers.ts           # full (1-3 min)
 *   deno run -A bench/compute_peers.ts --quick   # smaller counts
 *
 * piscina is installed from npm into `${TMPDIR:-/tmp}/millrace-peers` (never
 * into the repository). A readable table goes to stdout, then the results as
 * one JSON object on the last stdout line (bench/peers.ts reads it).
 *
 * @module
 */
import { ComputePool, TaskPriority } from "../compute/mod.ts";
import { PostMessagePool } from "./peers/postmessage_pool.ts";

const quick = Deno.args.includes("--quick");
const config = {
  throughputTasks: quick ? 50_000 : 100_000,
  throughputRounds: quick ? 2 : 3,
  throughputWindow: 10_000,
  roundTrips: quick ? 3_000 : 10_000,
  lowTasks: 10_000,
  criticalReps: quick ? 1 : 3,
  lowTaskMs: 0.5,
  speedupTasks: quick ? 20 : 40,
  speedupTaskMs: 5,
  speedupRounds: quick ? 3 : 5,
};
const TASKS = new URL("../compute/testdata/tasks.ts", import.meta.url);

interface Runner {
  run(
    name: string,
    input: unknown,
    options?: { priority?: TaskPriority; signal?: AbortSignal },
  ): Promise<unknown>;
  close(): Promise<void> | void;
}

interface Result {
  tasks_per_s?: number;
  tasks_per_s_one_burst?: number;
  round_trip_p50_us?: number;
  round_trip_p99_us?: number;
  critical_behind_low_ms?: number;
  critical_in_task_runs?: number;
  speedup_1_to_2?: number;
  version?: string;
  error?: string;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function warm(pool: Runner): Promise<void> {
  await Promise.all(
    Array.from({ length: 2000 }, (_, i) => pool.run("noop", i)),
  );
}

/**
 * Tasks per second over `throughputTasks` tiny tasks submitted in windows of
 * `window` (each window awaited with Promise.all before the next), median of
 * `throughputRounds` rounds. `window` = all of them is one burst.
 */
async function throughput(
  pool: Runner,
  window: number,
  rounds = config.throughputRounds,
): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const n = config.throughputTasks;
    const t = performance.now();
    for (let done = 0; done < n; done += window) {
      const size = Math.min(window, n - done);
      const ps = new Array<Promise<unknown>>(size);
      for (let i = 0; i < size; i++) ps[i] = pool.run("noop", i);
      await Promise.all(ps);
    }
    rates.push(n / ((performance.now() - t) / 1000));
  }
  return Math.round(pct(rates, 0.5));
}

async function roundTrip(pool: Runner): Promise<[number, number]> {
  const lat: number[] = [];
  for (let i = 0; i < config.roundTrips; i++) {
    const t = performance.now();
    await pool.run("noop", i);
    lat.push((performance.now() - t) * 1000);
  }
  return [+pct(lat, 0.5).toFixed(1), +pct(lat, 0.99).toFixed(1)];
}

/** Median over `criticalReps` of the latency of a critical task submitted
 * right after `lowTasks` low ones (the rest are aborted once it is done). */
async function criticalBehindLow(pool: Runner): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < config.criticalReps; r++) {
    const ac = new AbortController();
    const lows: Promise<unknown>[] = [];
    for (let i = 0; i < config.lowTasks; i++) {
      lows.push(
        pool.run("busy", config.lowTaskMs, {
          priority: TaskPriority.Low,
          signal: ac.signal,
        }).catch(() => {}),
      );
    }
    const t = performance.now();
    await pool.run("busy", config.lowTaskMs, {
      priority: TaskPriority.Critical,
    });
    runs.push(performance.now() - t);
    ac.abort(); // the low tasks still queued are removed
    await Promise.all(lows);
  }
  return +pct(runs, 0.5).toFixed(2);
}

async function speedup(make: (workers: number) => Runner): Promise<number> {
  const times: number[] = [];
  for (const workers of [1, 2]) {
    const pool = make(workers);
    await warm(pool);
    const runs: number[] = [];
    for (let r = 0; r < config.speedupRounds; r++) {
      const t = performance.now();
      await Promise.all(
        Array.from(
          { length: config.speedupTasks },
          () => pool.run("busy", config.speedupTaskMs),
        ),
      );
      runs.push(performance.now() - t);
    }
    times.push(pct(runs, 0.5));
    await pool.close();
  }
  return +(times[0]! / times[1]!).toFixed(3);
}

async function denoPeer(make: (workers: number) => Runner): Promise<Result> {
  const out: Result = {};
  const pool = make(2);
  await warm(pool);
  out.tasks_per_s = await throughput(pool, config.throughputWindow);
  out.tasks_per_s_one_burst = await throughput(
    pool,
    config.throughputTasks,
    1,
  );
  [out.round_trip_p50_us, out.round_trip_p99_us] = await roundTrip(pool);
  out.critical_behind_low_ms = await criticalBehindLow(pool);
  out.critical_in_task_runs = +(out.critical_behind_low_ms / config.lowTaskMs)
    .toFixed(2);
  await pool.close();
  out.speedup_1_to_2 = await speedup(make);
  return out;
}

const makeMillrace = (workers: number): Runner =>
  new ComputePool(TASKS, { workers });
const makePostMessage = (workers: number): Runner => {
  const pool = new PostMessagePool(TASKS, workers);
  return {
    // No priorities and no cancellation in a hand-written pool.
    run: (name, input) => pool.run(name, input),
    close: () => pool.close(),
  };
};

async function sh(cmd: string[], env?: Record<string, string>): Promise<{
  code: number;
  stdout: string;
  stderr: string;
}> {
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    ...(env ? { env } : {}),
  }).output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr),
  };
}

async function piscinaPeer(): Promise<Result> {
  const prefix = `${Deno.env.get("TMPDIR") ?? "/tmp"}/millrace-peers`;
  try {
    await Deno.stat(`${prefix}/node_modules/piscina/package.json`);
  } catch {
    console.error(`installing piscina@5 into ${prefix}`);
    await Deno.mkdir(prefix, { recursive: true });
    const r = await sh([
      "npm",
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "piscina@5",
    ]).catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
    if (r.code !== 0) {
      return { error: `npm install failed: ${r.stderr.slice(-200)}` };
    }
  }
  const script = new URL("./peers/piscina_pool.mjs", import.meta.url).pathname;
  const r = await sh(["node", script, prefix, JSON.stringify(config)]).catch((
    e,
  ) => ({ code: 1, stdout: "", stderr: String(e) }));
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.code !== 0) {
    return { error: `node exited ${r.code}: ${r.stderr.slice(-300)}` };
  }
  return JSON.parse(last);
}

const started = performance.now();
const command = `deno run -A bench/compute_peers.ts${quick ? " --quick" : ""}`;
console.log(`# ${command} (${new Date().toISOString()})`);
const millrace = await denoPeer(makeMillrace);
console.log("millrace", JSON.stringify(millrace));
const postmessage = await denoPeer(makePostMessage);
console.log("postmessage", JSON.stringify(postmessage));
const piscina = await piscinaPeer();
console.log("piscina", JSON.stringify(piscina));

const ratio = (a?: number, b?: number) =>
  a !== undefined && b !== undefined && b > 0 ? +(a / b).toFixed(2) : null;
const rows: [string, keyof Result][] = [
  [
    `tiny tasks/s (2 workers, ${config.throughputWindow} in flight)`,
    "tasks_per_s",
  ],
  [
    `tiny tasks/s (2 workers, ${config.throughputTasks} at once)`,
    "tasks_per_s_one_burst",
  ],
  ["round trip p50 µs", "round_trip_p50_us"],
  ["round trip p99 µs", "round_trip_p99_us"],
  ["speed-up 1→2 workers (5 ms tasks)", "speedup_1_to_2"],
  [`critical behind ${config.lowTasks} low, ms`, "critical_behind_low_ms"],
  ["  … in task run times", "critical_in_task_runs"],
];
console.log("\n| scenario | millrace | postMessage pool | piscina |");
console.log("| --- | ---: | ---: | ---: |");
for (const [label, key] of rows) {
  console.log(
    `| ${label} | ${millrace[key] ?? "–"} | ${postmessage[key] ?? "–"} | ${
      piscina[key] ?? piscina.error ?? "–"
    } |`,
  );
}
const summary = {
  command,
  date: new Date().toISOString(),
  seconds: +((performance.now() - started) / 1000).toFixed(1),
  config,
  millrace,
  postmessage,
  piscina,
  ratios: {
    tasks_per_s_vs_postmessage: ratio(
      millrace.tasks_per_s,
      postmessage.tasks_per_s,
    ),
    tasks_per_s_vs_piscina: ratio(millrace.tasks_per_s, piscina.tasks_per_s),
    round_trip_p50_vs_postmessage: ratio(
      millrace.round_trip_p50_us,
      postmessage.round_trip_p50_us,
    ),
    round_trip_p50_vs_piscina: ratio(
      millrace.round_trip_p50_us,
      piscina.round_trip_p50_us,
    ),
  },
};
console.log(JSON.stringify(summary));
