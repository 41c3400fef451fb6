// deno-lint-ignore-file no-console
// Pools the repetitions of several `bench:peers` runs: one run's side rows
// resolve about ±2 % unpinned (its alternated rows, 5 repetitions of each
// server alone, far less), so a target on its line is judged on the
// repetitions of every run together, each ratio still paired within its own
// repetition. Reads the runs' stderr logs (`deno run -A bench/peers.ts
// --only tcp,side … 2> run.log`) or a CSV it wrote before; prints the CPU
// rows side by side and the streaming MB/s of the alternated rows.
//
//   deno run -A bench/pool_runs.ts run1.log run2.log [--csv out.csv]
//   deno run -A bench/pool_runs.ts runs.csv

import { formatPaired } from "./_stats.ts";

/** One server's figures in one repetition of a run. */
export interface RunSample {
  run: string;
  /** `pingpong side by side`, `churn side by side`, `stream`, … */
  mode: string;
  rep: number;
  server: string;
  cpuPerOp: number;
  mbPerS: number;
}

const REP = /^[\w ]+ rep (\d+)\//;
const ROW =
  /^\s+(\w+(?: side by side)?) (.+?): .*\bmb_per_s=([\d.]+).*\bcpu_us_per_op=([\d.]+)/;

/** The samples of TCP rows in the stderr log of a `bench:peers` run. */
export function parseLog(run: string, text: string): RunSample[] {
  const samples: RunSample[] = [];
  let rep = 0;
  for (const line of text.split("\n")) {
    const head = REP.exec(line);
    if (head !== null) {
      rep = Number(head[1]);
      continue;
    }
    const row = ROW.exec(line);
    if (row !== null && rep > 0) {
      samples.push({
        run,
        mode: row[1]!,
        rep,
        server: row[2]!,
        mbPerS: Number(row[3]),
        cpuPerOp: Number(row[4]),
      });
    }
  }
  return samples;
}

/**
 * Server `a`'s and server `b`'s `metric` in every repetition (of a run and
 * `mode`) that has both, index by index: the pairs `formatPaired` divides.
 */
export function pairedSamples(
  samples: readonly RunSample[],
  mode: string,
  a: string,
  b: string,
  metric: "cpuPerOp" | "mbPerS" = "cpuPerOp",
): [number[], number[]] {
  const byRep = new Map<string, Map<string, number>>();
  for (const s of samples) {
    if (s.mode !== mode) continue;
    const key = `${s.run}#${s.rep}`;
    if (!byRep.has(key)) byRep.set(key, new Map());
    byRep.get(key)!.set(s.server, s[metric]);
  }
  const xs: number[] = [];
  const ys: number[] = [];
  for (const servers of byRep.values()) {
    const x = servers.get(a);
    const y = servers.get(b);
    if (x !== undefined && y !== undefined) {
      xs.push(x);
      ys.push(y);
    }
  }
  return [xs, ys];
}

const CSV_HEAD = "run,mode,rep,server,cpu_us_per_op,mb_per_s";

function toCsv(samples: readonly RunSample[]): string {
  return [
    CSV_HEAD,
    ...samples.map((s) =>
      `${s.run},${s.mode},${s.rep},${s.server},${s.cpuPerOp},${s.mbPerS}`
    ),
  ].join("\n") + "\n";
}

function fromCsv(text: string): RunSample[] {
  return text.trim().split("\n").slice(1).map((line) => {
    const [run, mode, rep, server, cpu, mbps] = line.split(",");
    return {
      run: run!,
      mode: mode!,
      rep: Number(rep),
      server: server!,
      cpuPerOp: Number(cpu),
      mbPerS: Number(mbps),
    };
  });
}

const PAIRS: [string, string, string][] = [
  ["reactor ÷ Deno loop", "millrace reactor (scratch)", "Deno loop 16 KiB"],
  ["TcpServer ÷ Deno loop", "millrace TcpServer", "Deno loop 16 KiB"],
  [
    "TcpServer ÷ scratch loop",
    "millrace TcpServer",
    "millrace reactor (scratch)",
  ],
];

if (import.meta.main) {
  const args = [...Deno.args];
  const csvAt = args.indexOf("--csv");
  const out = csvAt >= 0 ? args.splice(csvAt, 2)[1] : undefined;
  const samples: RunSample[] = [];
  for (const path of args) {
    const text = await Deno.readTextFile(path);
    const name = path.split("/").at(-1)!;
    samples.push(
      ...(path.endsWith(".csv") ? fromCsv(text) : parseLog(name, text)),
    );
  }
  if (out !== undefined) await Deno.writeTextFile(out, toCsv(samples));
  const runs = new Set(samples.map((s) => s.run)).size;
  console.log(
    `| row (${runs} runs pooled) | reps | paired median (95 % CI) [range] |`,
  );
  console.log("| --- | ---: | --- |");
  const row = (
    mode: string,
    title: string,
    a: string,
    b: string,
    metric: "cpuPerOp" | "mbPerS",
  ) => {
    const [xs, ys] = pairedSamples(samples, mode, a, b, metric);
    if (xs.length === 0) return;
    console.log(
      `| ${mode}: ${title} | ${xs.length} | ${formatPaired(xs, ys)} |`,
    );
  };
  for (const mode of ["pingpong side by side", "churn side by side"]) {
    for (const [title, a, b] of PAIRS) {
      row(mode, `CPU ${title}`, a, b, "cpuPerOp");
    }
  }
  for (const [title, a, b] of PAIRS) {
    row("stream", `MB/s ${title}`, a, b, "mbPerS");
  }
}
