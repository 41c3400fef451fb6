// deno-lint-ignore-file no-console
/**
 * What the PROXY protocol costs a backend: connection churn (connect, 64 B
 * echo, close) through a real HAProxy (mode tcp) in front of
 * examples/echo_server.ts, with and without `send-proxy-v2` (the backend
 * then runs with `--proxy-protocol v2`), plus the same churn straight to the
 * backend as a reference. The number that matters is the backend's CPU µs
 * per connection (utime + stime from /proc, measured by the C load
 * generator over its window); the target is send-proxy-v2 ≤ 1.05× plain.
 *
 *   deno run -A bench/proxy_churn.ts                 # 5 reps × 3 s per mode
 *   deno run -A bench/proxy_churn.ts --reps 3 --duration 2
 *   deno run -A bench/proxy_churn.ts --reps 8 --duration 2 --modes v2,optional
 *
 * HAProxy runs with `option tcp-smart-connect` in both modes (as in
 * examples/haproxy/haproxy.cfg): with send-proxy it sends the header with
 * the handshake's last ACK, and the backend reads header and first data in
 * one read (without it, about 1 connection in 5 took a read more:
 * 2.19 reads per connection instead of 2.00). One diagnostic row shows
 * send-proxy-v2 without the option; another runs the backend in mode
 * "optional" behind plain HAProxy (the handshake code without a header).
 *
 * The backend runs on CPU 0, HAProxy and the load generator on CPU 1
 * (taskset); modes alternate in a rotating order every repetition, and the
 * ratio column is the median of the per-repetition ratios to the plain
 * haproxy row of the same repetition (paired). Every process is stopped by
 * its PID. Needs haproxy, gcc and taskset.
 *
 * @module
 */
import {
  compile,
  initClockTick,
  killAll,
  Proc,
  runLoadgen,
  setTaskset,
  waitForPort,
  which,
} from "./_proc.ts";
import { freePort, haproxyConfig } from "../tests/_haproxy.ts";

const SERVER_CPU = 0;
const CLIENT_CPU = 1;

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  const value = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!(value > 0)) throw new RangeError(`${name} must be positive`);
  return value;
}
const reps = option("--reps", 5);
const duration = option("--duration", 3);
const conns = option("--conns", 16);

type Mode =
  | "direct"
  | "haproxy"
  | "haproxy, backend optional"
  | "haproxy send-proxy-v2"
  | "haproxy send-proxy-v2, no tcp-smart-connect";
const MODES: Mode[] = [
  "haproxy",
  "haproxy send-proxy-v2",
  // Diagnostic: the handshake code runs (no header: "absent" on the first
  // byte) but no header is parsed.
  "haproxy, backend optional",
  // Diagnostic: what the option saves.
  "haproxy send-proxy-v2, no tcp-smart-connect",
  "direct",
];

// `--modes plain,v2,optional,v2-no-smart,direct` runs only those rows (the
// plain row always: the ratios are paired with it).
const SHORT: Record<string, Mode> = {
  plain: "haproxy",
  v2: "haproxy send-proxy-v2",
  optional: "haproxy, backend optional",
  "v2-no-smart": "haproxy send-proxy-v2, no tcp-smart-connect",
  direct: "direct",
};
const modesAt = Deno.args.indexOf("--modes");
if (modesAt >= 0) {
  const wanted = new Set<Mode>(["haproxy"]);
  for (const name of (Deno.args[modesAt + 1] ?? "").split(",")) {
    const mode = SHORT[name];
    if (mode === undefined) {
      throw new RangeError(
        `--modes takes ${Object.keys(SHORT).join(", ")}: received '${name}'`,
      );
    }
    wanted.add(mode);
  }
  MODES.splice(0, MODES.length, ...MODES.filter((m) => wanted.has(m)));
}

interface Sample {
  connsPerS: number;
  cpuUsPerConn: number;
  errors: number;
}

async function runOnce(mode: Mode, loadgen: string): Promise<Sample> {
  const v2 = mode.startsWith("haproxy send-proxy-v2");
  const backend = new Proc([
    Deno.execPath(),
    "run",
    "-A",
    "examples/echo_server.ts",
    "--port",
    "0",
    ...(v2 ? ["--proxy-protocol", "v2"] : []),
    ...(mode === "haproxy, backend optional"
      ? ["--proxy-protocol", "optional"]
      : []),
  ], SERVER_CPU);
  let haproxy: Proc | undefined;
  let dir: string | undefined;
  try {
    const line = await backend.nextLine(20_000, "echo_server start");
    const backendPort = Number(line?.match(/:(\d+)$/)?.[1]);
    if (!(backendPort > 0)) throw new Error(`echo_server said ${line}`);
    let port = backendPort;
    if (mode !== "direct") {
      port = freePort();
      dir = await Deno.makeTempDir({ prefix: "millrace-bench-haproxy-" });
      const config = haproxyConfig({
        frontendPort: port,
        servers: [{ name: "s0", port: backendPort }],
        sendProxy: v2 ? "v2" : "none",
        checks: false,
        smartConnect: !mode.endsWith("no tcp-smart-connect"),
      });
      await Deno.writeTextFile(`${dir}/haproxy.cfg`, config);
      haproxy = new Proc(
        ["haproxy", "-f", `${dir}/haproxy.cfg`, "-db"],
        CLIENT_CPU,
      );
      await waitForPort(port, 10_000);
    }
    const result = await runLoadgen(loadgen, "churn", port, [backend.pid], {
      conns,
      seconds: duration,
      rate: 0,
      cpu: CLIENT_CPU,
    });
    if (!(result.ops! > 0)) throw new Error("no connection completed");
    return {
      connsPerS: result.ops_per_s!,
      cpuUsPerConn: result.cpu_us! / result.ops!,
      errors: result.errors!,
    };
  } finally {
    await haproxy?.stop();
    const code = await backend.stop();
    if (code !== 0) console.error(`  echo_server exited with code ${code}`);
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

if (import.meta.main) {
  Deno.addSignalListener("SIGINT", () => {
    killAll();
    Deno.exit(130);
  });
  for (const tool of ["haproxy", "gcc"]) {
    if (!(await which(tool))) {
      console.error(`${tool} is not installed: apt-get install -y ${tool}`);
      Deno.exit(1);
    }
  }
  await initClockTick();
  setTaskset(await which("taskset"));
  const loadgen = await compile("loadgen");
  const samples = new Map<Mode, Sample[]>(MODES.map((m) => [m, []]));
  for (let rep = 0; rep < reps; rep++) {
    const k = rep % MODES.length;
    const order = [...MODES.slice(k), ...MODES.slice(0, k)];
    for (const mode of order) {
      const s = await runOnce(mode, loadgen);
      samples.get(mode)!.push(s);
      console.error(
        `  rep ${rep + 1}/${reps} ${mode}: ${s.connsPerS.toFixed(0)} conns/s, ${
          s.cpuUsPerConn.toFixed(1)
        } µs backend CPU per conn, ${s.errors} errors`,
      );
    }
  }
  const plainRuns = samples.get("haproxy")!.map((s) => s.cpuUsPerConn);
  const rows = MODES.map((mode) => {
    const xs = samples.get(mode)!;
    const cpu = median(xs.map((s) => s.cpuUsPerConn));
    // Paired: each repetition's ratio to the plain run of the same
    // repetition (they ran seconds apart), then the median.
    const ratios = xs.map((s, i) => s.cpuUsPerConn / plainRuns[i]!);
    return `| ${mode} | ${median(xs.map((s) => s.connsPerS)).toFixed(0)} | ${
      cpu.toFixed(1)
    } (${Math.min(...xs.map((s) => s.cpuUsPerConn)).toFixed(1)}–${
      Math.max(...xs.map((s) => s.cpuUsPerConn)).toFixed(1)
    }) | ${median(ratios).toFixed(3)}× (${Math.min(...ratios).toFixed(2)}–${
      Math.max(...ratios).toFixed(2)
    }) | ${xs.reduce((a, s) => a + s.errors, 0)} |`;
  });
  console.log(
    [
      `Churn through HAProxy (${conns} slots, 64 B echo per connection, ${reps} reps × ${duration} s, medians; backend pinned to CPU 0, HAProxy and load generator to CPU 1; HAProxy with option tcp-smart-connect unless said)`,
      "",
      "| mode | conns/s | backend CPU µs/conn (min–max) | vs haproxy, paired (min–max) | errors |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
}
