// Soak: the chaos client (tests/_chaos.ts) in a loop against echo_server,
// chat_server and mini_redis (each its own process) for a while, printing
// each server's memory (RSS) and open fds every 5 s, and failing when either
// grows after the warm-up or when any chaos run finds a wrong byte.
//
//   deno task soak                 # 60 s
//   deno task soak --seconds 10    # the CI smoke
//   deno task soak --seed 42       # replay the same chaos
//
// Linux only (/proc). Exits 0 when everything held, 1 otherwise.

import { type ChaosProtocol, runChaos } from "./_chaos.ts";
import { type Example, startExample, within } from "./_helpers.ts";

// deno-lint-ignore no-console
const log = (line: string): void => console.log(line);

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1]! : fallback;
}

const seconds = Number(flag("seconds", "60"));
if (!Number.isFinite(seconds) || seconds <= 0) {
  log(
    `error: --seconds must be a positive number: received "${
      flag("seconds", "")
    }"`,
  );
  Deno.exit(2);
}
const seed = Number(flag("seed", String((Math.random() * 0x7fffffff) | 0)));
const SAMPLE_MS = 5000;
// The warm-up (JIT, buffer pools, the allocator's arenas): a fifth of the
// run, at least 4 s.
const warmUpMs = Math.max(4000, seconds * 200);
// Allowed growth after the warm-up: RSS by a quarter plus 24 MiB (a 16 MiB
// burst is in flight at any time), idle fds by 2.
const RSS_FACTOR = 1.25, RSS_SLACK = 24 << 20, FD_SLACK = 2;

function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1]);
  return kb * 1024;
}

function fdCount(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

interface Target {
  protocol: ChaosProtocol;
  file: string;
  burstBytes: number;
  server?: Example;
  runs: number;
  verifiedBytes: number;
  failure?: string;
  // RSS and idle fds: peak during the warm-up's end, and after it.
  rssBaseline: number;
  rssPeak: number;
  fdBaseline: number;
  fdIdle: number;
}

const targets: Target[] = [
  { protocol: "echo", file: "echo_server.ts", burstBytes: 16 << 20 },
  { protocol: "chat", file: "chat_server.ts", burstBytes: 1 << 20 },
  { protocol: "redis", file: "mini_redis/main.ts", burstBytes: 16 << 20 },
].map((t) => ({
  ...t,
  protocol: t.protocol as ChaosProtocol,
  runs: 0,
  verifiedBytes: 0,
  rssBaseline: 0,
  rssPeak: 0,
  fdBaseline: 0,
  fdIdle: 0,
}));

log(`soak: ${seconds} s, warm-up ${warmUpMs / 1000} s, seed ${seed}`);
for (const t of targets) {
  t.server = await startExample(t.file, { readStdout: true });
}
const start = performance.now();
const elapsed = (): number => performance.now() - start;

async function loop(t: Target): Promise<void> {
  const pid = t.server!.child.pid;
  while (elapsed() < seconds * 1000 && t.failure === undefined) {
    try {
      const report = await runChaos({
        port: t.server!.port,
        protocol: t.protocol,
        seed: (seed + t.runs * 7919) >>> 0,
        connections: 20,
        concurrency: 6,
        burstBytes: t.burstBytes,
        deadlineMs: 60_000,
      });
      t.verifiedBytes += report.verifiedBytes;
      t.runs++;
    } catch (error) {
      t.failure = error instanceof Error ? error.message : String(error);
      break;
    }
    // Idle between runs: the fds the server holds now are its baseline
    // (listener, runtime), once the closed connections are reaped.
    await new Promise((r) => setTimeout(r, 100));
    const fds = fdCount(pid);
    if (elapsed() < warmUpMs || t.fdBaseline === 0) t.fdBaseline = fds;
    else t.fdIdle = Math.max(t.fdIdle, fds);
  }
}

// Memory is tracked every second (the warm-up's peak is the baseline, the
// peak after it must stay near) and printed every 5 s with the fd counts.
let samples = 0;
const track = (): void => {
  const inWarmUp = elapsed() < warmUpMs;
  for (const t of targets) {
    const rss = rssBytes(t.server!.child.pid);
    if (inWarmUp) t.rssBaseline = Math.max(t.rssBaseline, rss);
    else t.rssPeak = Math.max(t.rssPeak, rss);
  }
};
const tracker = setInterval(track, 1000);
const sampler = setInterval(() => {
  samples++;
  const parts = [`t=${(elapsed() / 1000).toFixed(0)}s`];
  for (const t of targets) {
    const pid = t.server!.child.pid;
    parts.push(
      `${t.protocol}: rss ${mib(rssBytes(pid))} fds ${
        fdCount(pid)
      } runs ${t.runs} verified ${mib(t.verifiedBytes)}`,
    );
  }
  log(parts.join(" | ") + (elapsed() < warmUpMs ? " (warm-up)" : ""));
}, SAMPLE_MS);

let ok = true;
try {
  await Promise.all(targets.map(loop));
} finally {
  clearInterval(tracker);
  clearInterval(sampler);
}
for (const t of targets) {
  const pid = t.server!.child.pid;
  // A last sample after the load, so short runs still compare something.
  const rss = rssBytes(pid);
  t.rssPeak = Math.max(t.rssPeak, rss);
  if (t.rssBaseline === 0) t.rssBaseline = rss;
  const problems: string[] = [];
  if (t.failure !== undefined) problems.push(t.failure);
  if (t.runs === 0) problems.push("no chaos run finished");
  const rssLimit = t.rssBaseline * RSS_FACTOR + RSS_SLACK;
  if (t.rssPeak > rssLimit) {
    problems.push(
      `RSS grew after the warm-up: ${mib(t.rssPeak)} > ${
        mib(rssLimit)
      } (baseline ${mib(t.rssBaseline)})`,
    );
  }
  if (t.fdIdle > t.fdBaseline + FD_SLACK) {
    problems.push(
      `idle fds grew after the warm-up: ${t.fdIdle} > ${t.fdBaseline} + ${FD_SLACK}`,
    );
  }
  log(
    `${t.protocol}: ${t.runs} chaos runs, ${
      mib(t.verifiedBytes)
    } verified, rss baseline ${mib(t.rssBaseline)} peak ${
      mib(t.rssPeak)
    }, idle fds ${t.fdBaseline} -> ${t.fdIdle || "-"}: ${
      problems.length === 0 ? "ok" : "FAILED: " + problems.join("; ")
    }`,
  );
  if (problems.length > 0) ok = false;
  t.server!.child.kill("SIGTERM");
  const status = await within(
    t.server!.child.status,
    10_000,
    `${t.file} exits`,
  );
  await t.server!.stdout.rest();
  const stderr = await t.server!.stderr;
  if (!status.success) {
    log(`${t.file} exited with ${status.code}: ${stderr}`);
    ok = false;
  }
}
log(`soak: ${ok ? "ok" : "FAILED"} (${samples} samples, seed ${seed})`);
Deno.exit(ok ? 0 : 1);
