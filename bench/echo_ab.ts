// deno-lint-ignore-file no-console
// Paired A/B of the echo servers against the hand-written Deno loop: server
// CPU per ping-pong round trip (per connection with `--churn`, per 64 KiB
// echoed with `--stream`, which adds MB/s) and p99, the
// loop, the reactor (scratch) and TcpServer of this tree, and of another
// checkout with OLD=<tree>, alternated within each repetition. A target of a
// few percent needs this: a single run's repetitions spread 12–15 % on a
// shared 2-core machine, and a short warm-up measures the JIT compiling the
// larger servers (docs/design.md, "Session 5").
//   deno run -A bench/echo_ab.ts [--reps 14] [--seconds 1.5] [--warmup 3]
//     [--conns 50] [--rate 0] [--churn | --stream] [--unpinned] [--concurrent]
//     [--only loop,reactor,tcp]
// Pinned (default): servers on CPU 0, bench/peers/loadgen.c on CPU 1.
//
// `--concurrent` loads every server of a repetition at once, one loadgen
// each (servers share CPU 0, loadgens CPU 1): the machine's drift, which
// moves a 1.5 s window by 8–10 % (SD) even within one process, then moves them
// all alike and the paired ratios spread 2–4 % instead of 12–15 %
// (docs/design.md, "Session 6"). It measures the servers under contention,
// so its p99 is not comparable with a server alone; use it to resolve a
// 1–2 % difference, and the default to measure the targets.
import {
  compile,
  initClockTick,
  loadAtOnce,
  option,
  type Proc,
  ROOT,
  runLoadgen,
  setTaskset,
  startListening,
  which,
} from "./_proc.ts";
import { formatPaired, median } from "./_stats.ts";

const churn = Deno.args.includes("--churn");
const stream = Deno.args.includes("--stream");
const mode = churn ? "churn" : stream ? "stream" : "pingpong";
const reps = Number(option("--reps", "14"));
const seconds = Number(option("--seconds", "1.5"));
const warmup = Number(option("--warmup", "3"));
// The peers bench's shapes: 16 churning slots, 8 streams of 64 KiB.
const conns = Number(option("--conns", churn ? "16" : stream ? "8" : "50"));
const rate = Number(option("--rate", "0"));
const pinned = !Deno.args.includes("--unpinned");
const concurrent = Deno.args.includes("--concurrent");
const old = Deno.env.get("OLD");

await initClockTick();
setTaskset(pinned && await which("taskset"));
const loadgen = await compile("loadgen");

type Server = Proc & { port: number };
async function start(tree: string, file: string): Promise<Server> {
  const cmd = [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    `${tree}/deno.json`,
    `${tree}/${file}`,
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
  ];
  return await startListening(cmd, pinned ? 0 : undefined);
}

// `--only loop,reactor,tcp` picks this tree's servers (all three by
// default); OLD adds that tree's reactor and TcpServer, if picked. Ratios
// are to the first row.
const SERVERS = {
  loop: { label: "Deno loop", file: "bench/peers/deno_echo.ts" },
  reactor: {
    label: "reactor (scratch)",
    file: "examples/scratch_echo_server.ts",
  },
  tcp: { label: "TcpServer", file: "examples/echo_server.ts" },
} as const;
const picked = option("--only", "loop,reactor,tcp").split(",");
for (const name of picked) {
  if (!(name in SERVERS)) {
    throw new TypeError(
      `Cannot run as '--only' takes loop, reactor and tcp: received '${name}'`,
    );
  }
}
const names = (Object.keys(SERVERS) as (keyof typeof SERVERS)[]).filter((
  name,
) => picked.includes(name));
const rows: { label: string; tree: string; file: string }[] = [
  ...names.map((name) => ({ ...SERVERS[name], tree: ROOT })),
  ...(old === undefined ? [] : names.filter((name) => name !== "loop").map((
    name,
  ) => ({
    ...SERVERS[name],
    label: `${SERVERS[name].label}, OLD`,
    tree: old,
  }))),
];
const rowOf = (label: string) => rows.findIndex((row) => row.label === label);
const cpu = rows.map(() => [] as number[]);
const p99 = rows.map(() => [] as number[]);
const mbps = rows.map(() => [] as number[]);
const load = (server: Server) =>
  runLoadgen(loadgen, mode, server.port, [server.pid], {
    conns,
    size: stream ? 65536 : 64,
    seconds,
    rate,
    warmup,
    cpu: pinned ? 1 : undefined,
  });
const record = (i: number, result: Record<string, number>) => {
  cpu[i]!.push(result.cpu_us! / result.ops!);
  p99[i]!.push(result.p99_us!);
  mbps[i]!.push(result.mb_per_s!);
};
for (let rep = 0; rep < reps; rep++) {
  console.error(`rep ${rep + 1}/${reps}`);
  // Rotated, so that no server always follows (or, at once, starts before)
  // the same one: in concurrent A/A runs the first of a fixed order measured
  // up to 1.8 % costlier than identical others.
  const order = rows.map((_, k) => (k + rep) % rows.length);
  if (concurrent) {
    const results = await loadAtOnce(
      order,
      (i) => start(rows[i]!.tree, rows[i]!.file),
      load,
      (server) => server.stop(),
    );
    results.forEach((result, k) => {
      if (result.status === "rejected") throw result.reason;
      record(order[k]!, result.value);
    });
    continue;
  }
  for (const i of order) {
    const server = await start(rows[i]!.tree, rows[i]!.file);
    try {
      record(i, await load(server));
    } finally {
      await server.stop();
    }
  }
}

const paired = (xs: number[][], a: number, b: number) =>
  formatPaired(xs[a]!, xs[b]!);
console.log(
  `${mode}, ${
    new Date().toISOString()
  }, ${reps} reps × ${seconds} s after ${warmup} s, ${conns} conns, ${
    rate > 0 ? `paced ${rate}/s` : "saturated"
  }, ${pinned ? "pinned" : "unpinned"}${concurrent ? ", concurrent" : ""}${
    old === undefined ? "" : `, OLD=${old}`
  }\n`,
);
const unit = churn ? "connection" : stream ? "64 KiB" : "round trip";
const base = rows[0]!.label;
// Streaming has no latency; its other figure is throughput.
const [other, otherHead] = stream ? [mbps, "MB/s"] : [p99, "p99 µs"];
console.log(
  `| server | median CPU µs/${unit} | CPU ÷ ${base}, paired median (95 % CI) [range] | median ${otherHead} | ${otherHead} ÷ ${base}, paired |`,
);
console.log("| --- | --- | --- | --- | --- |");
for (const [i, row] of rows.entries()) {
  console.log(
    `| ${row.label} | ${median(cpu[i]!).toFixed(2)} | ${paired(cpu, i, 0)} | ${
      median(other[i]!).toFixed(0)
    } | ${paired(other, i, 0)} |`,
  );
}
console.log();
const pairs: [string, string, string][] = [
  ["TcpServer ÷ reactor (scratch)", "TcpServer", "reactor (scratch)"],
  ["reactor new ÷ OLD", "reactor (scratch)", "reactor (scratch), OLD"],
  ["TcpServer new ÷ OLD", "TcpServer", "TcpServer, OLD"],
];
for (const [title, a, b] of pairs) {
  if (rowOf(a) >= 0 && rowOf(b) >= 0) {
    console.log(
      `${title}, paired: ${paired(cpu, rowOf(a), rowOf(b))}${
        stream ? `; MB/s ${paired(mbps, rowOf(a), rowOf(b))}` : ""
      }`,
    );
  }
}
