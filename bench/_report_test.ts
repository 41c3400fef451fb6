// The peer harness's arithmetic and reports on synthetic samples: medians,
// ratios, target verdicts, and that the markdown/SVG carry them.
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  type Agg,
  aggregate,
  formatPaired,
  median,
  medianInterval,
  pairedRatio,
  type RunInfo,
} from "./_stats.ts";
import { num, renderMarkdown, renderSvg, targets } from "./_report.ts";

Deno.test("median and aggregate give medians with min–max", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assert(Number.isNaN(median([])));
  assertEquals(median([NaN, 5]), 5);
  const a = aggregate({
    label: "x",
    samples: [{ v: 10, w: 1 }, { v: 30, w: 2 }, { v: 20, w: 3 }],
    errors: ["boom"],
  });
  assertEquals(a.n, 3);
  assertEquals(a.metrics.v, { med: 20, min: 10, max: 30 });
  assertEquals(a.metrics.w, { med: 2, min: 1, max: 3 });
  assertEquals(a.errors, ["boom"]);
});

Deno.test("num formats table cells", () => {
  assertEquals(num(123456.7), "123,457");
  assertEquals(num(123.4), "123");
  assertEquals(num(12.34), "12.3");
  assertEquals(num(1.234), "1.23");
  assertEquals(num(NaN), "–");
});

function agg(label: string, metrics: Record<string, number>, n = 3): Agg {
  return {
    label,
    n,
    errors: [],
    metrics: Object.fromEntries(
      Object.entries(metrics).map((
        [k, v],
      ) => [k, { med: v, min: v * 0.9, max: v * 1.1 }]),
    ),
  };
}

const info: RunInfo = {
  date: "2026-01-01T00:00:00Z",
  seconds: 300,
  mode: "full",
  reps: 3,
  command: "deno task bench:peers",
  commit: "abc1234",
  idleConns: 10000,
  machine: {
    nproc: 2,
    cpu: "Test CPU",
    kernel: "6.0",
    deno: "2.9.6",
    node: "v20",
    redis: "7",
    wrk: "4.1",
    gcc: "12",
  },
  notAvailable: [],
  exitCodes: [],
  compute: {
    command: "deno run -A bench/compute_peers.ts",
    millrace: { tasks_per_s: 1_200_000, round_trip_p50_us: 50 },
    postmessage: { tasks_per_s: 150_000, round_trip_p50_us: 16 },
    piscina: { tasks_per_s: 30_000, round_trip_p50_us: 65 },
    tinypool: { tasks_per_s: 40_000, round_trip_p50_us: 70 },
  },
  taskset: true,
};

function sampleAggs(): Map<string, Map<string, Agg>> {
  return new Map([
    [
      "pingpong",
      new Map([
        ["c", agg("C epoll", { ops_per_s: 170000, cpu_us_per_op: 5.8 })],
        [
          "deno",
          agg("Deno loop 16 KiB", { ops_per_s: 150000, cpu_us_per_op: 7 }),
        ],
        [
          "tcpserver",
          agg("millrace TcpServer", { ops_per_s: 140000, cpu_us_per_op: 6.5 }),
        ],
      ]),
    ],
    [
      "stream",
      new Map([
        ["deno", agg("Deno loop 16 KiB", { mb_per_s: 1000 })],
        ["tcpserver", agg("millrace TcpServer", { mb_per_s: 900 })],
      ]),
    ],
    [
      "idle",
      new Map([
        ["deno4k", agg("Deno loop 4 KiB", { kib_per_conn: 10.7 })],
        ["tcpserver", agg("millrace TcpServer", { kib_per_conn: 6.5 })],
      ]),
    ],
    [
      "redis:set",
      new Map([
        ["redis", agg("redis-server", { ops_per_s: 100000 })],
        ["mini_redis", agg("millrace mini_redis", { ops_per_s: 75000 })],
      ]),
    ],
    [
      "redis_p16:set",
      new Map([
        ["redis", agg("redis-server", { ops_per_s: 1000000 })],
        ["mini_redis", agg("millrace mini_redis", { ops_per_s: 400000 })],
      ]),
    ],
  ]);
}

Deno.test("targets are judged on the medians", () => {
  const t = targets(sampleAggs(), info);
  const verdict = (w: string) => t.find((x) => x.workload === w)?.met;
  assertEquals(verdict("millrace TcpServer: pingpong"), true); // 6.5 ≤ 7
  assertEquals(verdict("millrace TcpServer: stream"), false); // 900 < 950
  assertEquals(verdict("millrace TcpServer: churn"), undefined); // not measured
  assertEquals(verdict("millrace TcpServer: idle"), true); // 6.5 ≤ 7
  assertEquals(verdict("mini_redis (-P 1)"), true); // 0.75 ≥ 0.7
  assertEquals(verdict("mini_redis (-P 16)"), false); // 0.4 < 0.5
  assertEquals(verdict("compute tiny tasks/s (2 workers)"), true);
  assertEquals(verdict("compute round trip p50"), false); // 50 > 45
  assertEquals(
    t.find((x) => x.workload === "millrace TcpServer: pingpong")?.measured,
    "6.50 vs 7.00 µs (0.93×)",
  );
});

Deno.test("renderMarkdown prints machine, command, ratios and verdicts", () => {
  const md = renderMarkdown(sampleAggs(), info);
  assertMatch(
    md,
    /\*\*Command:\*\* `deno task bench:peers` at commit `abc1234`/,
  );
  assertMatch(md, /2 × Test CPU \(`nproc` = 2\)/);
  // ping-pong row: median (min–max), then ÷ Deno loop and ÷ C ratios
  assertMatch(
    md,
    /\| millrace TcpServer \| 140,000 \(126,000–154,000\) \|[^\n]*\| 6\.50 \(5\.85–7\.15\) \| – \| 0\.93× \| 1\.12× \| 0\.93× \| 0\.82× \|/,
  );
  assertMatch(
    md,
    /\| millrace TcpServer: stream \| [^\n]* \| \*\*not met\*\* \|/,
  );
  assertMatch(md, /\| SET \| 100,000 [^\n]* \| 0\.75× \|/);
  assertMatch(
    md,
    /\| tasks_per_s \| 1,200,000 \| 150,000 \| 30,000 \| 40,000 \| 8\.00× \| 40\.00× \| 30\.00× \|/,
  );
});

Deno.test("renderSvg draws one bar per peer with its ratio", () => {
  const svg = renderSvg(sampleAggs(), info);
  assert(svg.startsWith("<svg"));
  assert(svg.trimEnd().endsWith("</svg>"));
  // ping-pong CPU efficiency: 7 / 6.5 = 1.08 for millrace, 7 / 5.8 = 1.21 for C
  assertMatch(svg, />1\.08×</);
  assertMatch(svg, />1\.21×</);
  // compute: 1.2M / 150k = 8 (beyond the 3× clip)
  assertMatch(svg, />8\.00× \(clipped\)</);
  assertEquals((svg.match(/<rect /g) ?? []).length, 1 + 3 + 2 + 2 + 2 + 2 + 3);
});

// A shared machine drifts: every peer of one repetition is slower or faster
// together. Rep 1 ran on a slow machine, reps 0 and 2 on a fast one.
function drifted(label: string, cpu: number[], reps?: number[]): Agg {
  return aggregate({
    label,
    samples: cpu.map((cpu_us_per_op) => ({ cpu_us_per_op, p99_us: 100 })),
    ...(reps === undefined ? {} : { reps }),
    errors: [],
  });
}

Deno.test("pairedRatio divides within each repetition, then takes the median", () => {
  const loop = drifted("Deno loop", [10, 20, 10]);
  const server = drifted("server", [9.8, 19.4, 10.3]);
  // Medians ÷ medians: 10.3 ÷ 10 = 1.03; paired: 0.98, 0.97, 1.03 → 0.98.
  assertEquals(median([9.8, 19.4, 10.3]) / median([10, 20, 10]), 1.03);
  const p = pairedRatio(server, loop, "cpu_us_per_op")!;
  assertEquals(p.n, 3);
  assertEquals(p.med.toFixed(3), "0.980");
  assertEquals(p.min.toFixed(3), "0.970");
  assertEquals(p.max.toFixed(3), "1.030");
  // Only repetitions both completed are paired (rep 1 failed for one).
  const gap = drifted("server", [9.8, 10.3], [0, 2]);
  assertEquals(pairedRatio(gap, loop, "cpu_us_per_op")!.n, 2);
  // Fewer than two pairs: no paired ratio (the report falls back).
  assertEquals(
    pairedRatio(drifted("one", [9]), drifted("base", [10]), "cpu_us_per_op"),
    undefined,
  );
  assertEquals(pairedRatio(server, undefined, "cpu_us_per_op"), undefined);
});

Deno.test("targets use the paired ratio, with TcpServer against the scratch loop", () => {
  const aggs = new Map([
    [
      "pingpong",
      new Map([
        ["deno", drifted("Deno loop 16 KiB", [10, 20, 10])],
        ["scratch", drifted("millrace scratch", [9.8, 19.4, 10.3])],
        ["tcpserver", drifted("millrace TcpServer", [10.2, 20.2, 10.5])],
      ]),
    ],
  ]);
  const t = targets(aggs, info);
  const row = (w: string, target: RegExp) =>
    t.find((x) => x.workload === w && target.test(x.target));
  // Judged on the paired 0.98, not on the medians' 1.03.
  const scratch = row("millrace scratch: pingpong", /CPU .*≤ Deno loop/)!;
  assertEquals(scratch.met, true);
  assertMatch(scratch.measured, /paired 0\.98× \(0\.97–1\.03 over 3 reps\)/);
  assertEquals(row("millrace scratch: pingpong", /p99/)?.met, true);
  // TcpServer ÷ scratch: 1.04, 1.04, 1.02 → 1.04 > 1.03.
  const layer = row("millrace TcpServer: pingpong", /scratch loop/)!;
  assertEquals(layer.met, false);
  assertMatch(layer.measured, /paired 1\.04×/);
  // The scratch loop has no such row; churn was not measured.
  assertEquals(row("millrace scratch: pingpong", /scratch loop/), undefined);
  assertEquals(
    row("millrace TcpServer: churn", /scratch loop/)?.met,
    undefined,
  );
});

Deno.test("formatPaired gives the median of the per-repetition ratios and their range", () => {
  assertEquals(formatPaired([2, 3, 8], [2, 2, 4]), "1.500 [1.000–2.000]");
});

Deno.test("medianInterval takes the binomial order statistics around the median", () => {
  // n = 6: P(B ≤ 0) = 1/64 ≤ 0.025 < P(B ≤ 1): the extremes.
  assertEquals(medianInterval([6, 1, 5, 2, 4, 3]), [1, 6]);
  // n = 14: P(B ≤ 2) = 0.0065 ≤ 0.025 < P(B ≤ 3) = 0.029: the 3rd and 12th.
  const xs = Array.from({ length: 14 }, (_, i) => i + 1);
  assertEquals(medianInterval(xs.toReversed()), [3, 12]);
  // n = 24: P(B ≤ 6) = 0.0113 ≤ 0.025 < P(B ≤ 7) = 0.032: the 7th and 18th.
  assertEquals(
    medianInterval(Array.from({ length: 24 }, (_, i) => i + 1)),
    [7, 18],
  );
  // Too few for 95 % (P(B ≤ 0) = 1/32 > 0.025), but enough for 90 %.
  assertEquals(medianInterval([1, 2, 3, 4, 5]), undefined);
  assertEquals(medianInterval([1, 2, 3, 4, 5], 0.9), [1, 5]);
});

Deno.test("formatPaired adds the median's interval from 6 repetitions on", () => {
  assertEquals(
    formatPaired([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 1]),
    "3.500 (CI 1.000–6.000) [1.000–6.000]",
  );
});

Deno.test("renderSvg draws the paired ratio too", () => {
  const svg = renderSvg(
    new Map([[
      "pingpong",
      new Map([
        ["deno", drifted("Deno loop 16 KiB", [10, 20, 10])],
        ["scratch", drifted("millrace scratch", [9.8, 19.4, 10.3])],
      ]),
    ]]),
    info,
  );
  // Efficiency = 1 ÷ the paired 0.98 = 1.02 (the medians would give 0.97).
  assertMatch(svg, />1\.02×</);
});

Deno.test("targets judge CPU on the side-by-side rows when they ran, with the interval and the alternated ratio", () => {
  // Alternated: the drift leaves the scratch loop at 1.03× the Deno loop.
  const alone = new Map([
    ["deno", drifted("Deno loop 16 KiB", [10, 20, 10])],
    ["scratch", drifted("millrace scratch", [10.3, 20.6, 10.3])],
  ]);
  // Side by side, 8 repetitions: the scratch loop at 0.97–0.99×.
  const loop = [10, 12, 11, 10, 13, 10, 12, 11];
  const side = new Map([
    ["deno", drifted("Deno loop 16 KiB", loop)],
    [
      "scratch",
      drifted(
        "millrace scratch",
        loop.map((x, i) =>
          x * [0.98, 0.97, 0.99, 0.98, 0.98, 0.97, 0.99, 0.98][i]!
        ),
      ),
    ],
  ]);
  const row = (aggs: Map<string, Map<string, Agg>>) =>
    targets(aggs, info).find((t) =>
      t.workload === "millrace scratch: pingpong" &&
      /CPU .*≤ Deno loop/.test(t.target)
    )!;
  const judged = row(
    new Map([["pingpong", alone], ["pingpong side by side", side]]),
  );
  assertEquals(judged.met, true);
  assertMatch(
    judged.measured,
    /^side by side: .*paired 0\.980× \(95 % CI 0\.970–0\.990; 0\.97–0\.99 over 8 reps\) \(alone: 1\.03× \(1\.03–1\.03\)\)$/,
  );
  // p99 stays with the alternated rows (a server alone).
  const p99 = targets(
    new Map([["pingpong", alone], ["pingpong side by side", side]]),
    info,
  ).find((t) =>
    t.workload === "millrace scratch: pingpong" && /p99/.test(t.target)
  )!;
  assertMatch(p99.measured, /over 3 reps/);
  // Without side-by-side rows, the alternated ones are judged.
  const fallback = row(new Map([["pingpong", alone]]));
  assertEquals(fallback.met, false);
  assertMatch(fallback.measured, /^10\.3 vs 10\.0 µs; paired 1\.03×/);
  // The markdown shows the side-by-side table with the interval.
  const md = renderMarkdown(
    new Map([["pingpong", alone], ["pingpong side by side", side]]),
    { ...info, sideReps: 8 },
  );
  assertMatch(md, /### Ping-pong, side by side \(the CPU targets\)/);
  assertMatch(md, /8 repetitions/);
  assertMatch(md, /, 8 with three servers side by side, peers round-robin/);
  assertMatch(md, /0\.980× \(95 % CI 0\.970–0\.990; 0\.97–0\.99\)/);
});
