// deno-lint-ignore-file no-console
/**
 * Compute peer benchmark (issues #5, #12): millrace's `ComputePool` against a
 * plain `postMessage` worker pool on Deno, and piscina and tinypool on Node,
 * same machine, one run, same scenarios:
 *
 * - tiny-task throughput (2 workers): N no-op tasks submitted in windows of
 *   10,000 (`Promise.all` per window), and all N at once, after 1.5 s of
 *   such windows for every pool (steady state: without it the median of
 *   three rounds caught V8 still optimising, at 0.3-0.7x the later rate),
 * - dispatch round trip p50/p99 (one task at a time),
 * - CPU-bound speed-up from 1 to 2 workers (5 ms busy tasks),
 * - latency of a critical task submitted behind 10,000 queued low tasks
 *   (0.5 ms each), in task run times;
 * - millrace only (the others have no priorities): a critical task behind
 *   400 low 5 ms tasks, with a fresh cost estimate and after 10,000 `busy(0)`
 *   trained it wrong (issue 12, defect 3): until it ends and until it
 *   starts (the target: within 2 task run times), and RSS after 1 M tiny
 *   tasks.
 *
 *   deno run -A bench/compute_peers.ts           # full (1-3 min)
 *   deno run -A bench/compute_peers.ts --quick   # smaller counts
 *
 * piscina and tinypool are installed from npm into
 * `${TMPDIR:-/tmp}/millrace-peers` (never into the repository). A readable table goes to stdout, then the results as
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
  // Windows of tiny tasks run this long before the throughput rounds, for
  // every pool alike: the first 100,000-task rounds of a fresh process run
  // at 0.2-0.5x the steady rate while V8 optimises both sides.
  throughputWarmupMs: quick ? 750 : 1500,
  roundTrips: quick ? 3_000 : 10_000,
  lowTasks: 10_000,
  criticalReps: quick ? 1 : 3,
  // The backlog scenario swings with the machine's load: more reps.
  backlogReps: quick ? 3 : 7,
  lowTaskMs: 0.5,
  speedupTasks: quick ? 20 : 40,
  speedupTaskMs: 5,
  speedupRounds: quick ? 3 : 5,
  backlogLows: 400,
  backlogLowMs: 5,
  trainingTasks: 10_000,
  rssTasks: quick ? 200_000 : 1_000_000,
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
  critical_behind_400_fresh_ms?: number;
  critical_behind_400_trained_ms?: number;
  critical_behind_400_trained_in_task_runs?: number;
  critical_behind_400_trained_start_in_task_runs?: number;
  critical_behind_400_fresh_start_in_task_runs?: number;
  rss_mib_after_tasks?: number;
  rss_mib_peak?: number;
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

/**
 * Critical task behind `backlogLows` low `busy(backlogLowMs)` tasks that the
 * workers already claim, median of `backlogReps`: ms until it ends, and task
 * run times until it starts.
 */
async function criticalBehindBacklog(
  pool: ComputePool,
): Promise<[number, number]> {
  const runs: number[] = [];
  const starts: number[] = [];
  for (let r = 0; r < config.backlogReps; r++) {
    const ac = new AbortController();
    const lows = Array.from(
      { length: config.backlogLows },
      () =>
        pool.run("busy", config.backlogLowMs, {
          priority: TaskPriority.Low,
          signal: ac.signal,
        }).catch(() => {}),
    );
    for (let i = 0; i < 1000 && pool.metrics().busyWorkers < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const t = performance.now();
    const startedAt = await pool.run("busyStartedAt", config.backlogLowMs, {
      priority: TaskPriority.Critical,
    }) as number;
    runs.push(performance.now() - t);
    starts.push((startedAt - performance.timeOrigin - t) / config.backlogLowMs);
    ac.abort();
    await Promise.all(lows);
  }
  return [+pct(runs, 0.5).toFixed(2), +pct(starts, 0.5).toFixed(2)];
}

/** Issue 12, defect 3: the same latency before and after a wrong estimate. */
async function wrongEstimate(out: Result): Promise<void> {
  const pool = new ComputePool(TASKS, { workers: 2 });
  await warm(pool);
  [
    out.critical_behind_400_fresh_ms,
    out.critical_behind_400_fresh_start_in_task_runs,
  ] = await criticalBehindBacklog(pool);
  await Promise.all(
    Array.from({ length: config.trainingTasks }, () => pool.run("busy", 0)),
  );
  [
    out.critical_behind_400_trained_ms,
    out.critical_behind_400_trained_start_in_task_runs,
  ] = await criticalBehindBacklog(pool);
  out.critical_behind_400_trained_in_task_runs = +(
    out.critical_behind_400_trained_ms / config.backlogLowMs
  ).toFixed(2);
  await pool.close();
}

/** RSS (MiB) after `rssTasks` tiny tasks in windows of 10,000, and its peak. */
async function rssAfterTasks(out: Result): Promise<void> {
  const pool = new ComputePool(TASKS, { workers: 2 });
  await warm(pool);
  let peak = 0;
  for (let done = 0; done < config.rssTasks; done += 10_000) {
    const ps = new Array<Promise<unknown>>(10_000);
    for (let i = 0; i < 10_000; i++) ps[i] = pool.run("noop", i);
    await Promise.all(ps);
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }
  out.rss_mib_after_tasks = +(Deno.memoryUsage().rss / 2 ** 20).toFixed(1);
  out.rss_mib_peak = +(peak / 2 ** 20).toFixed(1);
  await pool.close();
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

/** Windows of tiny tasks for `throughputWarmupMs` (see `config`). */
async function warmThroughput(pool: Runner): Promise<void> {
  const end = performance.now() + config.throughputWarmupMs;
  while (performance.now() < end) {
    const ps = new Array<Promise<unknown>>(config.throughputWindow);
    for (let i = 0; i < ps.length; i++) ps[i] = pool.run("noop", i);
    await Promise.all(ps);
  }
}

async function denoPeer(make: (workers: number) => Runner): Promise<Result> {
  const out: Result = {};
  const pool = make(2);
  await warm(pool);
  await warmThroughput(pool);
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

async function nodePeer(lib: "piscina" | "tinypool"): Promise<Result> {
  const prefix = `${Deno.env.get("TMPDIR") ?? "/tmp"}/millrace-peers`;
  const spec = lib === "piscina" ? "piscina@5" : "tinypool@2";
  try {
    await Deno.stat(`${prefix}/node_modules/${lib}/package.json`);
  } catch {
    console.error(`installing ${spec} into ${prefix}`);
    await Deno.mkdir(prefix, { recursive: true });
    const r = await sh([
      "npm",
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      spec,
    ]).catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
    if (r.code !== 0) {
      return { error: `npm install failed: ${r.stderr.slice(-200)}` };
    }
  }
  const script = new URL("./peers/piscina_pool.mjs", import.meta.url).pathname;
  const r = await sh(["node", script, prefix, JSON.stringify(config), lib])
    .catch((
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
await wrongEstimate(millrace);
await rssAfterTasks(millrace);
console.log("millrace", JSON.stringify(millrace));
const postmessage = await denoPeer(makePostMessage);
console.log("postmessage", JSON.stringify(postmessage));
const piscina = await nodePeer("piscina");
console.log("piscina", JSON.stringify(piscina));
const tinypool = await nodePeer("tinypool");
console.log("tinypool", JSON.stringify(tinypool));

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
  [
    `critical behind ${config.backlogLows} low ${config.backlogLowMs} ms, fresh estimate, ms`,
    "critical_behind_400_fresh_ms",
  ],
  [
    `  … after ${config.trainingTasks} busy(0) trained it wrong, ms`,
    "critical_behind_400_trained_ms",
  ],
  ["  … in task run times", "critical_behind_400_trained_in_task_runs"],
  [
    "  … until it starts, in task run times (fresh)",
    "critical_behind_400_fresh_start_in_task_runs",
  ],
  [
    "  … until it starts, in task run times (trained wrong; target ≤ 2)",
    "critical_behind_400_trained_start_in_task_runs",
  ],
  [`RSS MiB after ${config.rssTasks} tiny tasks`, "rss_mib_after_tasks"],
  ["  … peak RSS MiB", "rss_mib_peak"],
];
console.log(
  "\n| scenario | millrace | postMessage pool | piscina | tinypool |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [label, key] of rows) {
  console.log(
    `| ${label} | ${millrace[key] ?? "–"} | ${postmessage[key] ?? "–"} | ${
      piscina[key] ?? piscina.error ?? "–"
    } | ${tinypool[key] ?? tinypool.error ?? "–"} |`,
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
  tinypool,
  ratios: {
    tasks_per_s_vs_postmessage: ratio(
      millrace.tasks_per_s,
      postmessage.tasks_per_s,
    ),
    tasks_per_s_vs_piscina: ratio(millrace.tasks_per_s, piscina.tasks_per_s),
    tasks_per_s_vs_tinypool: ratio(
      millrace.tasks_per_s,
      tinypool.tasks_per_s,
    ),
    round_trip_p50_vs_postmessage: ratio(
      millrace.round_trip_p50_us,
      postmessage.round_trip_p50_us,
    ),
    round_trip_p50_vs_piscina: ratio(
      millrace.round_trip_p50_us,
      piscina.round_trip_p50_us,
    ),
    round_trip_p50_vs_tinypool: ratio(
      millrace.round_trip_p50_us,
      tinypool.round_trip_p50_us,
    ),
  },
};
console.log(JSON.stringify(summary));
