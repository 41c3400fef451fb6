// deno-lint-ignore-file no-console
/**
 * Where a server's heap allocations come from, per operation: V8's sampling
 * heap profiler (through the inspector, objects later collected by minor
 * and major GCs included) over a loadgen window, summed by function and
 * caller and divided by the window's operations (round trips or
 * connections). Unlike CPU per operation, which moves ±10 % between runs on
 * a shared box, these numbers repeat within ~1 % (docs/design.md,
 * "Session 3").
 *
 *   deno run -A bench/alloc_profile.ts                      # scratch, churn
 *   deno run -A bench/alloc_profile.ts examples/echo_server.ts pingpong --top 40
 *   deno run -A bench/alloc_profile.ts bench/peers/deno_echo.ts churn --seconds 3
 *
 * The server runs on CPU 0 and the load generator on CPU 1 (taskset), as in
 * bench/peers.ts; one warm-up second precedes the sampled window. Every
 * process is stopped by its PID. Needs gcc and taskset.
 *
 * @module
 */
import { compile, ROOT } from "./_proc.ts";

const args = [...Deno.args];
function option(name: string, fallback: string): string {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = args[i + 1] ?? fallback;
  args.splice(i, 2);
  return value;
}
const seconds = option("--seconds", "2");
const top = Number(option("--top", "30"));
const file = args[0] ?? "examples/scratch_echo_server.ts";
const mode = args[1] ?? "churn";
if (mode !== "churn" && mode !== "pingpong") {
  throw new TypeError(
    `Cannot profile as the mode must be 'churn' or 'pingpong': received '${mode}'`,
  );
}
const conns = mode === "churn" ? "16" : "50";
const loadgen = await compile("loadgen");

const server = new Deno.Command("taskset", {
  args: [
    "-c",
    "0",
    Deno.execPath(),
    "run",
    "-A",
    "--inspect=127.0.0.1:0",
    file,
    "--port",
    "0",
  ],
  cwd: ROOT,
  stdout: "piped",
  stderr: "piped",
}).spawn();

/** Reads `stream` until `pattern` matches; the rest is drained. */
async function waitFor(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server ended before printing ${pattern}`);
    text += value;
    const match = text.match(pattern);
    if (match !== null) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return match;
    }
  }
}

const inspectorUrl = (await waitFor(server.stderr, /ws:\/\/\S+/))[0];
const port = (await waitFor(server.stdout, /listening on \S+:(\d+)/))[1]!;

async function load(duration: string): Promise<{ ops: number }> {
  const out = await new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      loadgen,
      mode,
      "--port",
      port,
      "--conns",
      conns,
      "--size",
      "64",
      "--warmup",
      "0",
      "--duration",
      duration,
      "--timeout",
      "60",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(
    new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
  );
}

const ws = new WebSocket(inspectorUrl);
await new Promise((resolve) => ws.onopen = resolve);
let nextId = 0;
// deno-lint-ignore no-explicit-any
const replies = new Map<number, (result: any) => void>();
ws.onmessage = (message) => {
  const reply = JSON.parse(message.data);
  replies.get(reply.id)?.(reply.result);
  replies.delete(reply.id);
};
// deno-lint-ignore no-explicit-any
function send(method: string, params: unknown = {}): Promise<any> {
  const id = ++nextId;
  return new Promise((resolve) => {
    replies.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

await load("1"); // warm-up: V8 optimises the hot path before sampling
await send("HeapProfiler.enable");
await send("HeapProfiler.startSampling", {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const { ops } = await load(seconds);
const { profile } = await send("HeapProfiler.stopSampling");
ws.close();
server.kill("SIGTERM");
await server.status;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}
const bySite = new Map<string, number>();
let total = 0;
function walk(node: ProfileNode, parent: string): void {
  const frame = node.callFrame;
  const name = `${frame.functionName || "(anonymous)"} ${
    frame.url.split("/").slice(-2).join("/")
  }:${frame.lineNumber + 1}`;
  const site = `${name}  <- ${parent}`;
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const child of node.children) walk(child, name);
}
walk(profile.head, "");

const unit = mode === "churn" ? "connection" : "round trip";
console.log(
  `${file} ${mode}: ${ops} ${unit}s in ${seconds} s, ${
    (total / ops).toFixed(0)
  } bytes allocated per ${unit}`,
);
const rows = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [site, bytes] of rows) {
  console.log(`${(bytes / ops).toFixed(0).padStart(7)} B  ${site}`);
}
