// Markdown tables and an SVG bar chart for the peer harness.
import {
  type Agg,
  type PairedRatio,
  pairedRatio,
  type RunInfo,
} from "./_stats.ts";

type Aggs = Map<string, Map<string, Agg>>;

/** Formats a number for a table cell. */
export function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cell(a: Agg | undefined, k: string): string {
  const s = a?.metrics[k];
  if (!s || !Number.isFinite(s.med)) return "–";
  if (a!.n < 2) return num(s.med);
  return `${num(s.med)} (${num(s.min)}–${num(s.max)})`;
}

function med(a: Agg | undefined, k: string): number {
  return a?.metrics[k]?.med ?? NaN;
}

function ratio(x: number, y: number): string {
  return Number.isFinite(x) && Number.isFinite(y) && y !== 0
    ? `${(x / y).toFixed(2)}×`
    : "–";
}

/**
 * `a ÷ base` on `key`: the paired median when both ran in two or more of the
 * same repetitions (see `pairedRatio`), else the median ÷ the median. Every
 * ratio the report judges or draws is this one.
 */
function ratioOf(
  a: Agg | undefined,
  base: Agg | undefined,
  key: string,
): number {
  return pairedRatio(a, base, key)?.med ?? med(a, key) / med(base, key);
}

/** `ratioOf` as a table cell, with the paired interval and range when there are. */
function ratioCell(
  a: Agg | undefined,
  base: Agg | undefined,
  key: string,
): string {
  const p = pairedRatio(a, base, key);
  if (p === undefined) return ratio(med(a, key), med(base, key));
  return pairedText(p, false);
}

/**
 * A paired ratio as text: its median (to 3 places when it has an interval),
 * the interval, the range and, with `reps`, how many repetitions.
 */
function pairedText(p: PairedRatio, reps: boolean): string {
  const ci = p.ci === undefined
    ? ""
    : `95 % CI ${p.ci[0].toFixed(3)}–${p.ci[1].toFixed(3)}; `;
  return `${p.med.toFixed(p.ci === undefined ? 2 : 3)}× (${ci}${
    p.min.toFixed(2)
  }–${p.max.toFixed(2)}${reps ? ` over ${p.n} reps` : ""})`;
}

interface Col {
  head: string;
  key: string;
}

function table(
  peers: Map<string, Agg> | undefined,
  cols: Col[],
  ratios: { head: string; key: string; base: string }[],
): string {
  if (!peers || peers.size === 0) return "_no data_\n";
  const head = [
    "server",
    ...cols.map((c) => c.head),
    ...ratios.map((r) => r.head),
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ];
  for (const [, a] of peers) {
    if (a.n === 0) {
      lines.push(
        `| ${a.label} | failed: ${
          (a.errors[0] ?? "").replace(/\|/g, "/").replace(/\n/g, " ").slice(
            0,
            160,
          )
        } |${" |".repeat(head.length - 2)}`,
      );
      continue;
    }
    const row = [a.label, ...cols.map((c) => cell(a, c.key))];
    for (const r of ratios) {
      row.push(ratioCell(a, peers.get(r.base), r.key));
    }
    lines.push(`| ${row.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

const MILLRACE_TCP = ["tcpserver", "scratch"];

/**
 * The suffix of a workload whose servers ran at the same time
 * (`bench/peers.ts`, `runSideBySide`): `"pingpong side by side"`.
 */
export const SIDE_BY_SIDE = " side by side";

interface Target {
  workload: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

function status(met: boolean | undefined): string {
  return met === undefined ? "not measured" : met ? "**met**" : "**not met**";
}

function computeNumber(
  c: RunInfo["compute"],
  patterns: RegExp[],
): [string, number] | undefined {
  if (typeof c === "string") return undefined;
  const flat: [string, number][] = [];
  const walk = (o: unknown, prefix: string) => {
    if (o && typeof o === "object") {
      for (const [k, v] of Object.entries(o)) {
        walk(v, prefix ? `${prefix}.${k}` : k);
      }
    } else if (typeof o === "number") flat.push([prefix, o]);
  };
  walk(c, "");
  for (const p of patterns) {
    const hit = flat.find(([k]) => p.test(k));
    if (hit) return hit;
  }
  return undefined;
}

const TCPSERVER_OVER_SCRATCH: [
  string,
  string,
  string,
  (ratio: number) => boolean,
][] = [
  [
    "pingpong",
    "cpu_us_per_op",
    "ping-pong CPU ≤ 1.03 × scratch loop",
    (r) => r <= 1.03,
  ],
  [
    "stream",
    "mb_per_s",
    "streaming MB/s ≥ scratch loop ÷ 1.03",
    (r) => r >= 1 / 1.03,
  ],
  [
    "churn",
    "cpu_us_per_op",
    "churn CPU ≤ 1.03 × scratch loop",
    (r) => r <= 1.03,
  ],
];

/**
 * One target of peer `id` against peer `base` on metric `key`: judged on the
 * paired ratio when there is one (see `pairedRatio`), else on the medians.
 */
function relative(
  peers: Map<string, Agg> | undefined,
  id: string,
  base: string,
  key: string,
  workload: string,
  target: string,
  ok: (ratio: number) => boolean,
): Target {
  const a = peers?.get(id), b = peers?.get(base);
  const m = med(a, key), d = med(b, key);
  if (!Number.isFinite(m) || !Number.isFinite(d) || d === 0) {
    return { workload, target, measured: "–", met: undefined };
  }
  const unit = UNITS[key] ?? "";
  const paired = pairedRatio(a, b, key);
  return {
    workload,
    target,
    measured: paired === undefined
      ? `${num(m)} vs ${num(d)} ${unit} (${ratio(m, d)})`
      : `${num(m)} vs ${num(d)} ${unit}; paired ${pairedText(paired, true)}`,
    met: ok(paired?.med ?? m / d),
  };
}

/**
 * `relative` on the side-by-side rows of workload `w` when they have both
 * peers (the CPU targets: they resolve about 1 % there), with the alternated
 * rows' ratio beside it; else on the alternated rows.
 */
function relativeCpu(
  aggs: Aggs,
  w: string,
  id: string,
  base: string,
  workload: string,
  target: string,
  ok: (ratio: number) => boolean,
): Target {
  const key = "cpu_us_per_op";
  const alone = aggs.get(w);
  const side = aggs.get(`${w}${SIDE_BY_SIDE}`);
  if (!side?.get(id)?.n || !side.get(base)?.n) {
    return relative(alone, id, base, key, workload, target, ok);
  }
  const t = relative(side, id, base, key, workload, target, ok);
  const a = alone?.get(id), b = alone?.get(base);
  const aloneRatio = a?.n && b?.n ? ` (alone: ${ratioCell(a, b, key)})` : "";
  return { ...t, measured: `side by side: ${t.measured}${aloneRatio}` };
}

const UNITS: Record<string, string> = {
  cpu_us_per_op: "µs",
  p99_us: "µs",
  mb_per_s: "MB/s",
};

/** The target rows of issues #6 and #10. */
export function targets(aggs: Aggs, info: RunInfo): Target[] {
  const out: Target[] = [];
  const tcp = (w: string) => aggs.get(w);
  for (const id of MILLRACE_TCP) {
    const pp = tcp("pingpong");
    const me = pp?.get(id);
    if (!me) continue;
    const label = me.label;
    const rows: [string, string, string, (ratio: number) => boolean][] = [
      [
        "pingpong",
        "cpu_us_per_op",
        "ping-pong CPU µs/round trip ≤ Deno loop",
        (r) => r <= 1,
      ],
      [
        "pingpong",
        "p99_us",
        "ping-pong p99 ≤ 1.2 × Deno loop",
        (r) => r <= 1.2,
      ],
      [
        "stream",
        "mb_per_s",
        "streaming MB/s ≥ 0.95 × Deno loop",
        (r) => r >= 0.95,
      ],
      [
        "churn",
        "cpu_us_per_op",
        "churn CPU µs/connection ≤ Deno loop",
        (r) => r <= 1,
      ],
    ];
    for (const [w, k, text, ok] of rows) {
      out.push(
        k === "cpu_us_per_op"
          ? relativeCpu(aggs, w, id, "deno", `${label}: ${w}`, text, ok)
          : relative(tcp(w), id, "deno", k, `${label}: ${w}`, text, ok),
      );
    }
    if (id === "tcpserver") {
      // The server layer over the bare loop: issue #10's "within 1.03×".
      for (const [w, k, text, ok] of TCPSERVER_OVER_SCRATCH) {
        out.push(
          k === "cpu_us_per_op"
            ? relativeCpu(aggs, w, id, "scratch", `${label}: ${w}`, text, ok)
            : relative(tcp(w), id, "scratch", k, `${label}: ${w}`, text, ok),
        );
      }
    }
    const idle = aggs.get("idle");
    const kib = med(idle?.get(id), "kib_per_conn");
    out.push({
      workload: `${label}: idle`,
      target: `RSS per idle connection ≤ 7 KiB (${info.idleConns} conns)`,
      measured: Number.isFinite(kib) ? `${num(kib)} KiB` : "–",
      met: Number.isFinite(kib) ? kib <= 7 : undefined,
    });
  }
  const http = aggs.get("http");
  const h = http?.get("http_hello");
  if (h) {
    const ds = http!.get("deno_serve"), nd = http!.get("node_http");
    const rps = med(h, "ops_per_s"), cpu = med(h, "cpu_us_per_op");
    const rpsDs = ratioOf(h, ds, "ops_per_s");
    const rpsNd = ratioOf(h, nd, "ops_per_s");
    out.push({
      workload: "http_hello req/s",
      target: "≥ Deno.serve and ≥ 2 × Node http",
      measured: `${num(rps)} vs ${num(med(ds, "ops_per_s"))} / ${
        num(med(nd, "ops_per_s"))
      } (${rpsDs.toFixed(2)}× / ${rpsNd.toFixed(2)}×)`,
      met: Number.isFinite(rps) ? rpsDs >= 1 && rpsNd >= 2 : undefined,
    });
    const cpuDs = ratioOf(h, ds, "cpu_us_per_op");
    const cpuNd = ratioOf(h, nd, "cpu_us_per_op");
    out.push({
      workload: "http_hello CPU µs/req",
      target: "≤ Deno.serve and ≤ ½ × Node http",
      measured: `${num(cpu)} vs ${num(med(ds, "cpu_us_per_op"))} / ${
        num(med(nd, "cpu_us_per_op"))
      } µs (${cpuDs.toFixed(2)}× / ${cpuNd.toFixed(2)}×)`,
      met: Number.isFinite(cpu) ? cpuDs <= 1 && cpuNd <= 0.5 : undefined,
    });
  }
  for (
    const [key, min, text] of [
      ["redis", 0.7, "mini_redis ≥ 0.7 × redis-server, no pipelining"],
      ["redis_p16", 0.5, "mini_redis ≥ 0.5 × redis-server, `-P 16`"],
    ] as const
  ) {
    const rs: number[] = [];
    for (const [w, peers] of aggs) {
      if (!w.startsWith(`${key}:`)) continue;
      const r = ratioOf(
        peers.get("mini_redis"),
        peers.get("redis"),
        "ops_per_s",
      );
      if (peers.has("mini_redis")) rs.push(r);
    }
    if (rs.length === 0) continue;
    const ok = rs.every((r) => Number.isFinite(r));
    const worst = Math.min(...rs);
    out.push({
      workload: `mini_redis (${key === "redis" ? "-P 1" : "-P 16"})`,
      target: text,
      measured: ok
        ? `lowest ratio over ${rs.length} tests: ${
          worst.toFixed(2)
        }× (geometric mean ${
          Math.exp(rs.reduce((a, r) => a + Math.log(r), 0) / rs.length).toFixed(
            2,
          )
        }×; every test must meet it)`
        : "–",
      met: ok ? worst >= min : undefined,
    });
  }
  const tput = computeNumber(info.compute, [/^millrace\.tasks_per_s$/]);
  out.push({
    workload: "compute tiny tasks/s (2 workers)",
    target: "≥ 1,000,000",
    measured: tput ? `${num(tput[1])} (\`${tput[0]}\`)` : String(
      typeof info.compute === "string" ? info.compute : "key not found",
    ),
    met: tput ? tput[1] >= 1e6 : undefined,
  });
  const rt = computeNumber(info.compute, [/^millrace\.round_trip_p50_us$/]);
  out.push({
    workload: "compute round trip p50",
    target: "≤ 45 µs",
    measured: rt ? `${num(rt[1])} µs (\`${rt[0]}\`)` : String(
      typeof info.compute === "string" ? info.compute : "key not found",
    ),
    met: rt ? rt[1] <= 45 : undefined,
  });
  return out;
}

/** The results page (bench/results/latest.md). */
export function renderMarkdown(aggs: Aggs, info: RunInfo): string {
  const m = info.machine;
  const parts: string[] = [];
  parts.push(`# millrace peer benchmarks

- **Date:** ${info.date} (run took ${
    info.seconds.toFixed(0)
  } s; mode \`${info.mode}\`, ${info.reps} repetition(s) per peer${
    info.tcpReps !== undefined && info.tcpReps !== info.reps
      ? ` (${info.tcpReps} for the raw TCP rows)`
      : ""
  }${
    info.sideReps === undefined
      ? ""
      : `, ${info.sideReps} with three servers side by side`
  }, peers round-robin)
- **Machine:** ${m.nproc} × ${m.cpu} (\`nproc\` = ${m.nproc}), Linux ${m.kernel}; Deno ${m.deno}, Node ${m.node}, ${m.redis}, ${m.wrk}
- **Command:** \`${info.command}\` at commit \`${info.commit}\`
- **Method:** every server pinned to CPU 0 and every load generator to CPU 1${
    info.taskset
      ? " (`taskset`)"
      : " (NOT pinned: `--unpinned` or no `taskset`)"
  }; each cell is the median over repetitions with (min–max). **Server CPU µs/op** = Δ(utime+stime) of the server from \`/proc/PID/stat\` over the measured window ÷ operations; **server CPU %** = the same Δ ÷ wall time (100 % = one core busy; Deno's helper threads can push it past 100 %). With one core for the server and one for the client, the load generator often saturates first, so CPU per operation is the fairer figure than throughput. Ratios are paired: each repetition's value ÷ the baseline's in the same repetition (its peers run back to back), then the median of those with their range, so that the machine's drift between repetitions cancels; a ratio without a range is a median ÷ a median (one repetition). The machine is shared with other work, so expect noise.
`);
  parts.push(`## Targets (issues #6 and #10)\n`);
  parts.push(
    "| workload | target | measured | status |\n| --- | --- | --- | --- |",
  );
  for (const t of targets(aggs, info)) {
    parts.push(
      `| ${t.workload} | ${t.target} | ${t.measured} | ${status(t.met)} |`,
    );
  }
  parts.push("");
  const vs = (key: string, what: string) => [
    { head: `${what} ÷ Deno loop`, key, base: "deno" },
    { head: `${what} ÷ C`, key, base: "c" },
  ];
  parts.push(`## Raw TCP echo (C load generator \`bench/peers/loadgen.c\`)\n`);
  parts.push(`### 50 connections × 64 B ping-pong\n`);
  parts.push(table(aggs.get("pingpong"), [
    { head: "round trips/s", key: "ops_per_s" },
    { head: "p50 µs", key: "p50_us" },
    { head: "p99 µs", key: "p99_us" },
    { head: "server CPU µs/round trip", key: "cpu_us_per_op" },
    { head: "server CPU %", key: "cpu_pct" },
  ], [...vs("cpu_us_per_op", "CPU/rt"), ...vs("ops_per_s", "rt/s")]));
  parts.push(`### 8 connections × 64 KiB streaming (echoed back)\n`);
  parts.push(table(aggs.get("stream"), [
    { head: "MB/s echoed", key: "mb_per_s" },
    { head: "server CPU µs per 64 KiB", key: "cpu_us_per_op" },
    { head: "server CPU %", key: "cpu_pct" },
  ], [...vs("mb_per_s", "MB/s"), ...vs("cpu_us_per_op", "CPU")]));
  parts.push(
    `### Connection churn (16 concurrent: connect, 64 B echo, close)\n`,
  );
  parts.push(table(aggs.get("churn"), [
    { head: "connections/s", key: "ops_per_s" },
    { head: "p50 µs", key: "p50_us" },
    { head: "p99 µs", key: "p99_us" },
    { head: "server CPU µs/connection", key: "cpu_us_per_op" },
    { head: "server CPU %", key: "cpu_pct" },
    { head: "failed conns", key: "errors" },
  ], [...vs("cpu_us_per_op", "CPU/conn"), ...vs("ops_per_s", "conn/s")]));
  for (const [w, title] of [["pingpong", "Ping-pong"], ["churn", "Churn"]]) {
    const side = aggs.get(`${w}${SIDE_BY_SIDE}`);
    if (side === undefined) continue;
    parts.push(`### ${title}, side by side (the CPU targets)\n`);
    parts.push(
      `The Deno loop, the scratch loop and TcpServer loaded at the same time, ${
        info.sideReps ?? "–"
      } repetitions (order rotated): the machine's drift moves all three alike, so these ratios resolve about 1 % where the rows above resolve 5–15 %. CI: the 95 % interval of the paired median (from 6 repetitions on).\n`,
    );
    parts.push(table(side, [
      { head: "server CPU µs/op", key: "cpu_us_per_op" },
      { head: "ops/s", key: "ops_per_s" },
    ], [
      { head: "CPU ÷ Deno loop", key: "cpu_us_per_op", base: "deno" },
      { head: "CPU ÷ scratch loop", key: "cpu_us_per_op", base: "scratch" },
    ]));
  }
  parts.push(
    `### ${
      info.idleConns.toLocaleString("en-US")
    } idle connections (each checked by a 1-byte echo)\n`,
  );
  parts.push(table(aggs.get("idle"), [
    { head: "RSS KiB per connection", key: "kib_per_conn" },
    {
      head: "RSS KiB over baseline after close (+1 s)",
      key: "after_close_kib",
    },
    { head: "baseline RSS KiB", key: "base_kib" },
    { head: "CPU ms/s while idle", key: "idle_cpu_ms_per_s" },
  ], [
    { head: "KiB/conn ÷ Deno loop 16 KiB", key: "kib_per_conn", base: "deno" },
    { head: "KiB/conn ÷ Deno loop 4 KiB", key: "kib_per_conn", base: "deno4k" },
    { head: "KiB/conn ÷ C", key: "kib_per_conn", base: "c" },
  ]));
  parts.push(`## HTTP/1.1 hello world (\`wrk -t1 -c50\`, keep-alive)\n`);
  parts.push(
    "Baselines: `Deno.serve` (the Deno reference), Node `http`, and a C epoll server that answers every CRLF CRLF with a fixed response (`bench/peers/http_hello.c`: no parsing, a lower bound, not a fair HTTP server).\n",
  );
  parts.push(table(aggs.get("http"), [
    { head: "req/s", key: "ops_per_s" },
    { head: "p50 µs", key: "p50_us" },
    { head: "p99 µs", key: "p99_us" },
    { head: "server CPU µs/req", key: "cpu_us_per_op" },
    { head: "server CPU %", key: "cpu_pct" },
  ], [
    { head: "req/s ÷ Deno.serve", key: "ops_per_s", base: "deno_serve" },
    { head: "req/s ÷ Node", key: "ops_per_s", base: "node_http" },
    { head: "CPU/req ÷ Deno.serve", key: "cpu_us_per_op", base: "deno_serve" },
    { head: "CPU/req ÷ Node", key: "cpu_us_per_op", base: "node_http" },
    { head: "req/s ÷ C", key: "ops_per_s", base: "c_http" },
    { head: "CPU/req ÷ C", key: "cpu_us_per_op", base: "c_http" },
  ]));
  for (
    const [key, title] of [
      ["redis", "without pipelining"],
      ["redis_p16", "with `-P 16`"],
    ] as const
  ) {
    parts.push(`## Redis protocol, ${title} (\`redis-benchmark -c 50\`)\n`);
    parts.push(
      "redis-server (C, single-threaded) is the C reference here; no hand-written Deno RESP server exists to compare with.\n",
    );
    const rows = [...aggs].filter(([w]) => w.startsWith(`${key}:`));
    if (rows.length === 0) {
      parts.push("_no data_\n");
      continue;
    }
    parts.push(
      "| test | redis-server ops/s | mini_redis ops/s | ops/s ÷ redis | redis CPU µs/op | mini_redis CPU µs/op | CPU ÷ redis | p50 µs redis / mini | p99 µs redis / mini |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const [w, peers] of rows) {
      const r = peers.get("redis"), mr = peers.get("mini_redis");
      const fail = (a: Agg | undefined) =>
        a && a.n === 0
          ? `failed: ${(a.errors[0] ?? "").slice(0, 80).replace(/\|/g, "/")}`
          : undefined;
      parts.push(
        `| ${w.slice(key.length + 1).toUpperCase()} | ${
          fail(r) ?? cell(r, "ops_per_s")
        } | ${fail(mr) ?? cell(mr, "ops_per_s")} | ${
          ratioCell(mr, r, "ops_per_s")
        } | ${cell(r, "cpu_us_per_op")} | ${cell(mr, "cpu_us_per_op")} | ${
          ratioCell(mr, r, "cpu_us_per_op")
        } | ${num(med(r, "p50_us"))} / ${num(med(mr, "p50_us"))} | ${
          num(med(r, "p99_us"))
        } / ${num(med(mr, "p99_us"))} |`,
      );
    }
    parts.push("");
  }
  parts.push(`## Compute (\`bench/compute_peers.ts\`)\n`);
  if (typeof info.compute === "string") parts.push(`${info.compute}\n`);
  else {
    const c = info.compute as Record<
      string,
      Record<string, unknown> | undefined
    >;
    const peers = ["millrace", "postmessage", "piscina", "tinypool"] as const;
    const val = (p: string, k: string): number => {
      const v = c[p]?.[k];
      return typeof v === "number" ? v : NaN;
    };
    const keys = [...new Set(peers.flatMap((p) => Object.keys(c[p] ?? {})))]
      .filter((k) => peers.some((p) => typeof c[p]?.[k] === "number"));
    parts.push(
      `Run by the harness as \`${
        String(c.command ?? "bench/compute_peers.ts")
      }\` (one run, its own repetitions inside; see that script).\n`,
    );
    parts.push(
      "| metric | millrace ComputePool | Deno postMessage pool | piscina (Node) | tinypool (Node) | millrace ÷ postMessage | millrace ÷ piscina | millrace ÷ tinypool |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const k of keys) {
      parts.push(
        `| ${k} | ${num(val("millrace", k))} | ${
          num(val("postmessage", k))
        } | ${num(val("piscina", k))} | ${num(val("tinypool", k))} | ${
          ratio(val("millrace", k), val("postmessage", k))
        } | ${ratio(val("millrace", k), val("piscina", k))} | ${
          ratio(val("millrace", k), val("tinypool", k))
        } |`,
      );
    }
    for (const p of peers) {
      const e = c[p]?.error;
      if (e) parts.push(`\n${p}: error: ${String(e).slice(0, 200)}`);
    }
    parts.push("");
  }
  const partial: string[] = [];
  for (const [w, peers] of aggs) {
    for (const a of peers.values()) {
      if (a.errors.length > 0) {
        partial.push(
          `${w}, ${a.label}: ${a.errors.length} of ${
            a.errors.length + a.n
          } runs failed (first: ${
            a.errors[0]!.replace(/\n/g, " ").slice(0, 200)
          })`,
        );
      }
    }
  }
  if (info.notAvailable.length || info.exitCodes.length || partial.length) {
    parts.push(`## Notes\n`);
    for (const n of info.notAvailable) parts.push(`- not yet available: ${n}`);
    for (const n of info.exitCodes) parts.push(`- ${n}`);
    for (const n of partial) parts.push(`- ${n}`);
    parts.push("");
  }
  return parts.join("\n");
}

interface Bar {
  label: string;
  value: number;
  millrace: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A bar chart of the key ratios (higher is better, 1.0 = the baseline). */
export function renderSvg(aggs: Aggs, info: RunInfo): string {
  const groups: { title: string; bars: Bar[] }[] = [];
  // Higher is better: `fwd` draws a ÷ base (throughput), `inv` base ÷ a
  // (costs).
  const draw = (
    w: string,
    k: string,
    base: string,
    title: string,
    invert: boolean,
  ) => {
    const peers = aggs.get(w);
    const b = peers?.get(base);
    if (!peers || !Number.isFinite(med(b, k))) return;
    const bars: Bar[] = [];
    for (const [id, a] of peers) {
      const r = ratioOf(a, b, k);
      const v = invert ? 1 / r : r;
      if (Number.isFinite(v)) {
        bars.push({ label: a.label, value: v, millrace: isMillrace(id) });
      }
    }
    groups.push({ title, bars });
  };
  const inv = (w: string, k: string, base: string, title: string) =>
    draw(w, k, base, title, true);
  const fwd = (w: string, k: string, base: string, title: string) =>
    draw(w, k, base, title, false);
  inv(
    "pingpong",
    "cpu_us_per_op",
    "deno",
    "Ping-pong: CPU efficiency vs Deno loop (Deno µs/rt ÷ server µs/rt)",
  );
  fwd("stream", "mb_per_s", "deno", "Streaming: MB/s ÷ Deno loop");
  inv(
    "churn",
    "cpu_us_per_op",
    "deno",
    "Churn: CPU efficiency vs Deno loop (per connection)",
  );
  inv(
    "idle",
    "kib_per_conn",
    "deno4k",
    "Idle: memory efficiency vs Deno loop 4 KiB (KiB/conn ratio, inverted)",
  );
  fwd("http", "ops_per_s", "deno_serve", "HTTP hello: req/s ÷ Deno.serve");
  inv(
    "http",
    "cpu_us_per_op",
    "deno_serve",
    "HTTP hello: CPU efficiency vs Deno.serve",
  );
  for (
    const [key, title] of [["redis", "-P 1"], ["redis_p16", "-P 16"]] as const
  ) {
    const rs: number[] = [];
    for (const [w, peers] of aggs) {
      if (!w.startsWith(`${key}:`)) continue;
      const r = ratioOf(
        peers.get("mini_redis"),
        peers.get("redis"),
        "ops_per_s",
      );
      if (Number.isFinite(r)) rs.push(r);
    }
    if (rs.length) {
      const geo = Math.exp(rs.reduce((s, r) => s + Math.log(r), 0) / rs.length);
      groups.push({
        title:
          `Redis ${title}: ops/s ÷ redis-server (geometric mean of ${rs.length} tests)`,
        bars: [
          { label: "redis-server", value: 1, millrace: false },
          { label: "millrace mini_redis", value: geo, millrace: true },
        ],
      });
    }
  }
  if (typeof info.compute !== "string") {
    const c = info.compute as Record<
      string,
      Record<string, unknown> | undefined
    >;
    const get = (p: string) => {
      const v = c[p]?.tasks_per_s;
      return typeof v === "number" ? v : NaN;
    };
    const base = get("postmessage");
    if (Number.isFinite(base) && base > 0) {
      groups.push({
        title: "Compute: tiny tasks/s ÷ Deno postMessage pool (2 workers)",
        bars: [
          { label: "postMessage pool", value: 1, millrace: false },
          {
            label: "piscina (Node)",
            value: get("piscina") / base,
            millrace: false,
          },
          {
            label: "millrace ComputePool",
            value: get("millrace") / base,
            millrace: true,
          },
        ].filter((b) => Number.isFinite(b.value)),
      });
    }
  }
  const W = 880, left = 230, right = 110, barH = 16, gap = 4, groupGap = 30;
  // Outliers (C's idle memory) are clipped so the rest stays readable.
  const CLIP = 3;
  const maxV = Math.min(
    CLIP,
    Math.max(1.2, ...groups.flatMap((g) => g.bars.map((b) => b.value))),
  );
  const scale = (v: number) => (Math.min(v, maxV) / maxV) * (W - left - right);
  let y = 70;
  const body: string[] = [];
  for (const g of groups) {
    body.push(`<text x="10" y="${y}" class="t">${esc(g.title)}</text>`);
    y += 8;
    for (const b of g.bars) {
      const w = Math.max(1, scale(b.value));
      const v = b.value >= 100 ? b.value.toFixed(0) : b.value.toFixed(2);
      body.push(
        `<text x="${left - 6}" y="${y + 12}" class="l" text-anchor="end">${
          esc(b.label)
        }</text>`,
        `<rect x="${left}" y="${y}" width="${
          w.toFixed(1)
        }" height="${barH}" fill="${b.millrace ? "#e8743b" : "#8aa1b4"}"/>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + 12}" class="l">${v}×${
          b.value > maxV ? " (clipped)" : ""
        }</text>`,
      );
      y += barH + gap;
    }
    y += groupGap;
  }
  const H = y + 10;
  const one = left + scale(1);
  const subtitle =
    `${info.date} · ${info.machine.nproc} × ${info.machine.cpu} · ${info.command} · medians of ${info.reps}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<style>.t{font-size:13px;font-weight:bold;fill:#222}.l{font-size:11px;fill:#333}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="16" font-weight="bold">millrace (orange) vs peers: higher is better; dashed line = baseline (1.0×)</text>
<text x="10" y="42" class="l">${esc(subtitle)}</text>
<line x1="${one.toFixed(1)}" y1="52" x2="${one.toFixed(1)}" y2="${
    H - 14
  }" stroke="#444" stroke-dasharray="4 3"/>
<text x="${(one + 3).toFixed(1)}" y="${H - 3}" class="l">1.0×</text>
${body.join("\n")}
</svg>
`;
}

function isMillrace(id: string): boolean {
  return ["tcpserver", "scratch", "http_hello", "mini_redis"].includes(id);
}
