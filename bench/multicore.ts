// deno-lint-ignore-file no-console
// Multi-worker TcpServer side by side with today's single-loop server, and
// the cross-thread Channel's per-message cost. Every run is bounded.
//   deno run -A bench/multicore.ts [--seconds 3] [--reps 1] [--rate 10000]
//     [--warmup 0.5]
//     [--only pingpong|paced|isolated|broadcast] [--pin]
// Rows (markdown on stdout):
//   - ping-pong 64 B x 50 conns: server CPU µs per round trip, workers 0
//     (today's loop) vs 1 vs 2 vs two independent single-loop processes on
//     one port with reusePort (the floor of splitting the load over two
//     loops, without our Workers) (C load generator, bench/peers/loadgen.c),
//     saturated, and paced at --rate round trips/s (below saturation: on 2
//     cores, saturated `workers: 2` runs 3 busy threads and pays for the
//     scheduling, paced it does not);
//   - the same four with ONE connection paced at 1,000 round trips/s: one
//     loop is busy in every server (the kernel gives the connection to one
//     Worker or process; the other idles), each round trip a wake-up of its
//     own, so there is no load split and no batching difference: the two
//     processes must come out at ≈ 1.0 (the proof that the row isolates
//     overhead), and `workers: N` ÷ single loop is what hosting the loop in a
//     Worker and our machinery around it cost. CPU from each thread's
//     schedstat (ns): the run burns too little for utime+stime's 10 ms ticks.
//     (Eight connections at 500/s, each round trip also its own wake-up, did
//     not isolate it: the two processes cost 1.44-1.74x there, see
//     docs/multicore.md);
//   - 200 µs-CPU handler: req/s, workers 1 vs 2;
//   - HTTP hello under wrk: examples/http_hello/main.ts --workers 2 vs
//     `deno serve --parallel` (DENO_JOBS=2);
//   - Channel: messages/s and ns per message, one Worker sending 64 B.
import {
  compile,
  cpuMicros,
  initClockTick,
  Proc,
  runClient,
  runLoadgen,
  which,
} from "./_proc.ts";

const seconds = Number(
  Deno.args[Deno.args.indexOf("--seconds") + 1] ?? "3",
) || 3;
// Rows 1 and 2 run this many times, interleaved, and report medians: on a
// shared machine one run of each is not enough.
const reps = Number(Deno.args[Deno.args.indexOf("--reps") + 1] ?? "1") || 1;
// Seconds of load before each measured window. Short paced runs are mostly
// the JIT warming up (docs/design.md, session 4), and every Worker warms up
// its own isolate.
const warmup = Number(Deno.args[Deno.args.indexOf("--warmup") + 1] ?? "0.5") ||
  0.5;
// The paced ping-pong rows offer this many round trips/s.
const rate = Number(Deno.args[Deno.args.indexOf("--rate") + 1] ?? "10000") ||
  10000;
// `--only pingpong`: the ping-pong and 200 µs rows only; `--only paced`: the
// paced ping-pong rows only; `--only isolated`: the slow paced rows only;
// `--only broadcast`: the broadcast rows only.
const only = Deno.args.includes("--only")
  ? Deno.args[Deno.args.indexOf("--only") + 1]
  : undefined;
// `--pin`: every server process on CPU 0 and the load generator on CPU 1, so
// that no server loop shares a core with the load generator (on 2 cores,
// unpinned, two server loops and the load generator are three threads).
const pin = Deno.args.includes("--pin");
// The isolated rows: one loop busy, every round trip its own wake-up.
const ISOLATED_RATE = 1000;
const ISOLATED_CONNS = 1;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function start(cmd: string[], env?: string): Promise<Proc> {
  const proc = new Proc(env ? ["env", env, ...cmd] : cmd, pin ? 0 : undefined);
  for (;;) {
    const line = await proc.nextLine(30000, cmd.join(" "));
    if (line === null) throw new Error(`${cmd.join(" ")}: ${proc.stderrTail}`);
    if (/listening on/i.test(line)) {
      return Object.assign(proc, {
        port: Number(/:(\d+)/.exec(line.split("listening on")[1]!)![1]),
      });
    }
  }
}

function portOf(proc: Proc): number {
  return (proc as Proc & { port: number }).port;
}

async function pingpong(
  loadgen: string,
  servers: Proc[],
  conns: number,
  paced = 0,
): Promise<Record<string, number>> {
  // Every process of the server: cpu_us is their sum.
  return await runLoadgen(
    loadgen,
    "pingpong",
    portOf(servers[0]!),
    servers.map((server) => server.pid),
    { conns, seconds, rate: paced, cpu: pin ? 1 : undefined, warmup },
  );
}

const echo = (workers: number, burnUs = 0, extra: string[] = []) => [
  Deno.execPath(),
  "run",
  "-A",
  "--unstable-net",
  "bench/peers/multicore_echo.ts",
  "--workers",
  String(workers),
  "--burn-us",
  String(burnUs),
  ...extra,
];

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ??
    NaN;
}

async function broadcastRun(
  port: number,
  receivers: number,
  seconds: number,
): Promise<{
  deliveriesPerSecond: number;
  completeP50: number;
  completeP99: number;
  deliveryP99: number;
}> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i <= receivers; i++) {
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  await new Promise((r) => setTimeout(r, 300)); // every Worker knows everyone
  const sender = conns[0]!;
  const deliveries: number[] = [];
  const complete: number[] = [];
  let pending = 0;
  let allIn: (() => void) | undefined;
  let stopped = false;
  const readers = conns.map(async (conn) => {
    const buf = new Uint8Array(65536);
    let carry = new Uint8Array(0);
    while (!stopped) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      const bytes = new Uint8Array(carry.length + n);
      bytes.set(carry);
      bytes.set(buf.subarray(0, n), carry.length);
      const view = new DataView(bytes.buffer);
      let at = 0;
      for (; at + 16 <= bytes.length; at += 16) {
        deliveries.push(performance.now() - view.getFloat64(at, true));
        if (--pending === 0) allIn?.();
      }
      carry = bytes.slice(at);
    }
  });
  const record = new Uint8Array(16);
  const view = new DataView(record.buffer);
  const end = performance.now() + seconds * 1000;
  let sent = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    const done = new Promise<void>((r) => allIn = r);
    pending = conns.length;
    const at = performance.now();
    view.setFloat64(0, at, true);
    view.setFloat64(8, sent++, true);
    await sender.write(record);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`broadcast ${sent}: ${pending} missing`)),
          10000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    complete.push(performance.now() - at);
  }
  const elapsed = (performance.now() - t0) / 1000;
  stopped = true;
  for (const conn of conns) conn.close();
  await Promise.all(readers);
  return {
    deliveriesPerSecond: (sent * conns.length) / elapsed,
    completeP50: percentile(complete, 0.5),
    completeP99: percentile(complete, 0.99),
    deliveryP99: percentile(deliveries, 0.99),
  };
}

const rows: string[] = [];
const row = (...cells: (string | number)[]) =>
  rows.push(`| ${cells.join(" | ")} |`);

await initClockTick();
const loadgen = await compile("loadgen");

// 1. Overhead: CPU per round trip. 2. Scaling with a compute-bound handler.
// Each configuration runs `reps` times, interleaved; medians are reported.
const configs: {
  label: string;
  workers: number;
  burnUs: number;
  paced: number;
  /** Independent single-loop processes sharing the port (reusePort). */
  processes?: number;
  /** Connections of the load generator (50 unless set). */
  conns?: number;
}[] = [
  { label: "TcpServer (one loop, today)", workers: 0, burnUs: 0, paced: 0 },
  { label: "workers: 1", workers: 1, burnUs: 0, paced: 0 },
  { label: "workers: 2", workers: 2, burnUs: 0, paced: 0 },
  {
    label: "2 processes × one loop, reusePort (no Workers)",
    workers: 0,
    burnUs: 0,
    paced: 0,
    processes: 2,
  },
  { label: "workers: 1", workers: 1, burnUs: 200, paced: 0 },
  { label: "workers: 2", workers: 2, burnUs: 200, paced: 0 },
  { label: "TcpServer (one loop, today)", workers: 0, burnUs: 0, paced: rate },
  { label: "workers: 1", workers: 1, burnUs: 0, paced: rate },
  { label: "workers: 2", workers: 2, burnUs: 0, paced: rate },
  {
    label: "2 processes × one loop, reusePort (no Workers)",
    workers: 0,
    burnUs: 0,
    paced: rate,
    processes: 2,
  },
  ...[0, 1, 2].map((workers) => ({
    label: workers === 0
      ? "TcpServer (one loop, today)"
      : `workers: ${workers}`,
    workers,
    burnUs: 0,
    paced: ISOLATED_RATE,
    conns: ISOLATED_CONNS,
  })),
  {
    label: "2 processes × one loop, reusePort (no Workers)",
    workers: 0,
    burnUs: 0,
    paced: ISOLATED_RATE,
    processes: 2,
    conns: ISOLATED_CONNS,
  },
];
const SATURATED = 0, BURN = 4, PACED = 6, ISOLATED = 10;
const samples = configs.map(() => ({
  cpu: [] as number[],
  rate: [] as number[],
  p99: [] as number[],
}));
// One server process, or `processes` of them on one port.
async function startServers(config: typeof configs[number]): Promise<Proc[]> {
  if (config.processes === undefined) {
    return [await start(echo(config.workers, config.burnUs))];
  }
  const first = await start(echo(0, config.burnUs, ["--reuse-port"]));
  const procs = [first];
  try {
    for (let i = 1; i < config.processes; i++) {
      procs.push(
        await start(
          echo(0, config.burnUs, [
            "--reuse-port",
            "--port",
            String(portOf(first)),
          ]),
        ),
      );
    }
  } catch (error) {
    for (const proc of procs) await proc.stop();
    throw error;
  }
  return procs;
}
for (let rep = 0; rep < reps; rep++) {
  for (const [i, config] of configs.entries()) {
    // `--only paced`: the paced ping-pong rows alone (more reps, less time).
    const isolated = i >= ISOLATED;
    if (only === "paced" && (config.paced === 0 || isolated)) continue;
    if (only === "isolated" && !isolated) continue;
    if (only === "broadcast") break;
    const servers = await startServers(config);
    try {
      const r = await pingpong(
        loadgen,
        servers,
        config.conns ?? 50,
        config.paced,
      );
      const cpu = isolated ? r.sched_cpu_us! : r.cpu_us!;
      samples[i]!.cpu.push(cpu / r.ops!);
      samples[i]!.rate.push(r.ops_per_s!);
      samples[i]!.p99.push(r.p99_us!);
    } finally {
      for (const server of servers) await server.stop();
    }
  }
}
// Ratios to the single loop: median of the per-rep (paired) ratios.
function pingpongTable(first: number, title: string): void {
  const count = 4;
  rows.push(
    `| ${title} (median of ${reps}) | round trips/s | server CPU µs/round trip (all runs) | paired ratio to single loop (all reps) | p99 µs |`,
  );
  rows.push("| --- | --- | --- | --- | --- |");
  const base = samples[first]!.cpu;
  for (let i = first; i < first + count; i++) {
    const s = samples[i]!;
    const ratios = s.cpu.map((x, rep) => x / base[rep]!);
    row(
      configs[i]!.label,
      Math.round(median(s.rate)),
      `${median(s.cpu).toFixed(2)} (${
        [...s.cpu].sort((a, b) => a - b).map((x) => x.toFixed(1)).join(", ")
      })`,
      `${median(ratios).toFixed(3)} (${
        [...ratios].sort((a, b) => a - b).map((x) => x.toFixed(3)).join(", ")
      })`,
      Math.round(median(s.p99)),
    );
  }
  // What our Workers add over the floor of splitting the load over two
  // loops: `workers: 2` against two independent processes, paired per rep.
  const procs = samples[first + 3]!.cpu;
  rows.push("");
  for (const workers of [1, 2]) {
    const overFloor = samples[first + workers]!.cpu.map((x, rep) =>
      x / procs[rep]!
    );
    rows.push(
      `workers: ${workers} ÷ 2 processes (paired, median of ${reps}): ${
        median(overFloor).toFixed(3)
      } (${
        [...overFloor].sort((a, b) => a - b).map((x) => x.toFixed(3)).join(
          ", ",
        )
      })`,
    );
  }
}
if (only === undefined || only === "pingpong") {
  pingpongTable(SATURATED, "ping-pong 64 B, 50 conns, saturated");
  rows.push("");
}
if (only === undefined || only === "pingpong" || only === "paced") {
  pingpongTable(
    PACED,
    `ping-pong 64 B, 50 conns, paced at ${rate} round trips/s`,
  );
}
if (only === undefined || only === "isolated") {
  rows.push("");
  pingpongTable(
    ISOLATED,
    `ping-pong 64 B, ${ISOLATED_CONNS} conn, paced at ${ISOLATED_RATE} round trips/s (one loop busy, each round trip its own wake-up; CPU from schedstat)`,
  );
}
if (only === undefined || only === "pingpong") {
  rows.push("");
  rows.push(
    `| 200 µs CPU per request, 50 conns (median of ${reps}) | req/s (all runs) | ratio to workers 1 |`,
  );
  rows.push("| --- | --- | --- |");
  const one = median(samples[BURN]!.rate);
  for (let i = BURN; i < BURN + 2; i++) {
    const s = samples[i]!;
    row(
      configs[i]!.label,
      `${Math.round(median(s.rate))} (${
        [...s.rate].sort((a, b) => a - b).map((x) => Math.round(x)).join(", ")
      })`,
      (median(s.rate) / one).toFixed(2),
    );
  }
}

// 3. HTTP anchor under wrk.
if (only !== undefined) {
  // The rows above only.
} else if (await which("wrk")) {
  rows.push("");
  rows.push("| HTTP hello, wrk -t1 -c50 | req/s | server CPU µs/req | p99 |");
  rows.push("| --- | --- | --- | --- |");
  const peers: [string, string[], string | undefined][] = [
    ["http_hello/main.ts (one loop, today)", [
      Deno.execPath(),
      "run",
      "-A",
      "examples/http_hello/main.ts",
      "--port",
      "0",
    ], undefined],
    ["http_hello/main.ts --workers 2", [
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-net",
      "examples/http_hello/main.ts",
      "--port",
      "0",
      "--workers",
      "2",
    ], undefined],
    ["deno serve --parallel (DENO_JOBS=2)", [
      Deno.execPath(),
      "serve",
      "-A",
      "--parallel",
      "--port",
      "0",
      "bench/peers/deno_serve_multicore.ts",
    ], "DENO_JOBS=2"],
  ];
  let first = 0;
  for (const [label, cmd, env] of peers) {
    const server = await start(cmd, env);
    try {
      const url = `http://127.0.0.1:${portOf(server)}/`;
      await runClient(["wrk", "-t1", "-c50", "-d1s", url], undefined, 20000);
      const before = cpuMicros(server.pid);
      const r = await runClient(
        ["wrk", "-t1", "-c50", `-d${seconds}s`, "--latency", url],
        undefined,
        (seconds + 20) * 1000,
      );
      const cpu = cpuMicros(server.pid) - before;
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)![1]);
      const p99 = /99%\s+(\S+)/.exec(r.stdout)?.[1] ?? "?";
      // Ratios are to the first multi-worker row (http_hello --workers 2).
      if (first === 0 && label.includes("--workers")) first = rps;
      row(
        `${label}${
          first !== 0 && first !== rps ? ` (${(rps / first).toFixed(2)}x)` : ""
        }`,
        Math.round(rps),
        (cpu / (rps * seconds)).toFixed(1),
        p99,
      );
    } finally {
      await server.stop();
    }
  }
} else {
  rows.push(
    "",
    "HTTP rows skipped: wrk is not installed (apt-get install wrk)",
  );
}

// 4. Broadcast to 1,000 connections: within one Worker vs across two. One
// sender writes a 16-byte record (send time, sequence); the server
// broadcasts it; the next goes once all 1,001 connections have it.
if (only === undefined || only === "broadcast") {
  rows.push("");
  rows.push(
    "| broadcast to 1,000 conns | deliveries/s | broadcast complete p50 ms | p99 ms | delivery p99 ms |",
  );
  rows.push("| --- | --- | --- | --- | --- |");
  for (const workers of [1, 2]) {
    const server = await start([...echo(workers), "--broadcast"]);
    try {
      const r = await broadcastRun(portOf(server), 1000, seconds);
      row(
        workers === 1
          ? "workers: 1 (one loop, in-process)"
          : "workers: 2 (across Workers)",
        Math.round(r.deliveriesPerSecond),
        r.completeP50.toFixed(2),
        r.completeP99.toFixed(2),
        r.deliveryP99.toFixed(2),
      );
    } finally {
      await server.stop();
    }
  }
}

// 5. The channel: one Worker sends 1M 64 B messages to a loop.
if (only === undefined) {
  const r = await runClient(
    [
      Deno.execPath(),
      "run",
      "-A",
      "bench/peers/channel_rate.ts",
      "--messages",
      "1000000",
    ],
    undefined,
    120000,
  );
  const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  rows.push("");
  rows.push(
    "| Channel, 1 Worker -> loop, 1M x 64 B | messages/s (wall) | CPU ns/message (both threads) | messages per loop event |",
  );
  rows.push("| --- | --- | --- | --- |");
  row(
    "trySend + drain",
    Math.round(result.perSecond),
    Math.round(result.cpuNsPerMessage),
    Math.round(result.messages / result.events),
  );
}

console.log(
  `multicore bench, ${new Date().toISOString()}, ${seconds} s per row${
    pin ? ", servers pinned to CPU 0 and the load generator to CPU 1" : ""
  }, load average ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  } (shared machine: noisy)\n`,
);
console.log(rows.join("\n"));
