// deno-lint-ignore-file no-console
// A/B of a multi-worker TcpServer between two trees: this one ("new") and
// another checkout ("old", e.g. `git archive main | tar -x -C /tmp/old`),
// paired and interleaved, with this tree's single loop and the two-process
// floor beside them. Server CPU per ping-pong round trip (from each thread's
// schedstat) or per connection (churn, from utime+stime).
//   OLD=/tmp/old deno run -A bench/multicore_ab.ts [--reps 8] [--seconds 2.5]
//     [--conns 50] [--rate 10000] [--churn] [--pin]
// `--rate 0`: saturated. Every row prints its ratio to the single loop and to
// the floor; the last lines give new ÷ old for `workers: 2` and `workers: 1`.
import {
  compile,
  initClockTick,
  option,
  type Proc,
  ROOT,
  runLoadgen,
  startListening,
} from "./_proc.ts";
import { formatPaired, median } from "./_stats.ts";

const reps = Number(option("--reps", "8"));
const seconds = Number(option("--seconds", "2.5"));
const conns = Number(option("--conns", "50"));
const rate = Number(option("--rate", "10000"));
const mode = Deno.args.includes("--churn") ? "churn" : "pingpong";
const pin = Deno.args.includes("--pin");
const old = Deno.env.get("OLD");
if (old === undefined) throw new TypeError("Cannot compare as 'OLD' is unset");

await initClockTick();
const loadgen = await compile("loadgen");

type Server = Proc & { port: number };
async function start(tree: string, args: string[]): Promise<Server> {
  const cmd = [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    `${tree}/bench/peers/multicore_echo.ts`,
    "--burn-us",
    "0",
    ...args,
  ];
  return await startListening(cmd, pin ? 0 : undefined);
}
const workers = (tree: string, n: number) => async () => [
  await start(tree, ["--workers", String(n)]),
];
const rows: { label: string; run: () => Promise<Server[]> }[] = [
  { label: "single loop (new)", run: workers(ROOT, 0) },
  {
    label: "2 processes, reusePort (new)",
    run: async () => {
      const a = await start(ROOT, ["--workers", "0", "--reuse-port"]);
      const b = await start(ROOT, [
        "--workers",
        "0",
        "--reuse-port",
        "--port",
        String(a.port),
      ]);
      return [a, b];
    },
  },
  { label: "workers: 2 (old)", run: workers(old, 2) },
  { label: "workers: 2 (new)", run: workers(ROOT, 2) },
  { label: "workers: 1 (old)", run: workers(old, 1) },
  { label: "workers: 1 (new)", run: workers(ROOT, 1) },
];
const cpu = rows.map(() => [] as number[]);
const ops = rows.map(() => [] as number[]);
for (let rep = 0; rep < reps; rep++) {
  for (const [i, row] of rows.entries()) {
    const servers = await row.run();
    try {
      const result = await runLoadgen(
        loadgen,
        mode,
        servers[0]!.port,
        servers.map((s) => s.pid),
        { conns, seconds, rate, cpu: pin ? 1 : undefined },
      );
      const sched = result.sched_cpu_us!;
      cpu[i]!.push((sched >= 0 ? sched : result.cpu_us!) / result.ops!);
      ops[i]!.push(result.ops_per_s!);
    } finally {
      for (const server of servers) await server.stop();
    }
  }
}
const paired = (a: number, b: number) => formatPaired(cpu[a]!, cpu[b]!);
console.log(
  `${mode}, ${
    new Date().toISOString()
  }, ${reps} reps × ${seconds} s, ${conns} conns, ${
    mode === "churn"
      ? "utime+stime"
      : rate > 0
      ? `paced ${rate}/s`
      : "saturated"
  }, ${pin ? "pinned" : "unpinned"}, OLD=${old}\n`,
);
console.log(
  `| row | median ${
    mode === "churn" ? "conns" : "round trips"
  }/s | median CPU µs | ÷ single loop, paired median [range] | ÷ 2 processes |`,
);
console.log("| --- | --- | --- | --- | --- |");
for (const [i, row] of rows.entries()) {
  console.log(
    `| ${row.label} | ${Math.round(median(ops[i]!))} | ${
      median(cpu[i]!).toFixed(2)
    } | ${paired(i, 0)} | ${paired(i, 1)} |`,
  );
}
console.log(`\nworkers: 2 new ÷ old (paired): ${paired(3, 2)}`);
console.log(`workers: 1 new ÷ old (paired): ${paired(5, 4)}`);
