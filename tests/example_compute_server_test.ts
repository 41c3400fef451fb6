// examples/compute_server/main.ts as a subprocess, driven over TCP: jobs by line,
// answers computed in the pool, a critical job overtaking queued low ones,
// stats, cancellation on disconnect, exit 0 on SIGTERM.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { hash } from "../examples/compute_server/tasks.ts";
import { LineReader } from "./_helpers.ts";

const EXAMPLE = new URL("../examples/compute_server/main.ts", import.meta.url);
const encoder = new TextEncoder();
const ITERATIONS = 300_000;

/** The example as a child process given `args`, killed after 60 s. */
function example(
  args: string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", EXAMPLE.pathname, ...args],
    stdin: "null",
    env: { DENO_NO_UPDATE_CHECK: "1" },
    signal: AbortSignal.timeout(60_000),
    ...options,
  });
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<{
  line: string;
  rest: ReadableStreamDefaultReader<Uint8Array>;
}> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  return { line: text.split("\n")[0]!, rest: reader };
}

Deno.test("examples/compute_server/main.ts answers jobs from the pool, by priority, and exits 0 on SIGTERM", async () => {
  const child = example(
    ["--port", "0", "--workers", "1", "--iterations", String(ITERATIONS)],
    { stdout: "piped", stderr: "null" },
  ).spawn();
  const { line, rest } = await firstLine(child.stdout);
  assertMatch(line, /^listening on 127\.0\.0\.1:\d+$/);
  const port = Number(line.split(":")[1]);

  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = new LineReader(conn);
  // Warm the worker, then queue low jobs and one critical job behind them.
  await conn.write(encoder.encode("hash normal warm\n"));
  assertEquals(
    await lines.next(),
    `hash 1 ${hash({ text: "warm", iterations: ITERATIONS })}`,
  );
  let jobs = "";
  for (let i = 0; i < 6; i++) jobs += `hash low low job ${i}\n`;
  jobs += "hash critical urgent job\n";
  await conn.write(encoder.encode(jobs));
  const answers: string[] = [];
  for (let i = 0; i < 7; i++) answers.push((await lines.next())!);
  // The critical job (n = 8) overtook the low ones still queued.
  const criticalAt = answers.indexOf(
    `hash 8 ${hash({ text: "urgent job", iterations: ITERATIONS })}`,
  );
  assert(criticalAt >= 0 && criticalAt < 3, `answers: ${answers.join(" | ")}`);
  for (let i = 0; i < 6; i++) {
    assert(
      answers.includes(
        `hash ${i + 2} ${
          hash({ text: `low job ${i}`, iterations: ITERATIONS })
        }`,
      ),
    );
  }
  await conn.write(encoder.encode("hash bogus x\nstats\n"));
  assertEquals(
    await lines.next(),
    "error: usage: hash critical|high|normal|low <text>",
  );
  const stats = JSON.parse((await lines.next())!);
  assertEquals(stats.tasksCompleted, 8);
  assertEquals(stats.activeWorkers, 1);

  // A client that leaves has its queued jobs removed (without cancellation
  // all 50 would run to completion).
  const leaver = await Deno.connect({ hostname: "127.0.0.1", port });
  let many = "";
  for (let i = 0; i < 50; i++) many += `hash low gone ${i}\n`;
  await leaver.write(encoder.encode(many));
  leaver.close();
  let m = stats;
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 25));
    await conn.write(encoder.encode("stats\n"));
    m = JSON.parse((await lines.next())!);
    if (m.tasksCompleted + m.tasksCancelled === 58) break;
  }
  assertEquals(m.tasksCompleted + m.tasksCancelled, 58);
  assert(
    m.tasksCancelled >= 25,
    `only ${m.tasksCancelled} of 50 jobs were cancelled`,
  );

  // A flooding client gets refusals beyond 100 pending jobs, not a queue
  // that grows without bound.
  const flooder = await Deno.connect({ hostname: "127.0.0.1", port });
  const floodLines = new LineReader(flooder);
  let flood = "";
  for (let i = 0; i < 150; i++) flood += `hash low f${i}\n`;
  await flooder.write(encoder.encode(flood));
  let busy = 0;
  for (let i = 0; i < 150; i++) {
    if ((await floodLines.next())!.includes("busy: 100 jobs already pending")) {
      busy++;
    }
  }
  assert(busy >= 40, `only ${busy} jobs refused`);
  flooder.close();

  conn.close();
  child.kill("SIGTERM");
  const status = await child.status;
  await rest.cancel();
  assertEquals(status.code, 0);
});

Deno.test("computeDemo() (for deno task demo) shows a critical job overtaking low ones and stops everything", async () => {
  const { computeDemo } = await import("../examples/compute_server/main.ts");
  const lines = await computeDemo();
  const answers = lines.filter((l) => /^server> hash \d+ [0-9a-f]{8}$/.test(l));
  assertEquals(answers.length, 9);
  const critical = answers.findIndex((l) => l.startsWith("server> hash 9 "));
  assert(critical >= 0 && critical < 8, `answers: ${answers.join(" | ")}`);
  assert(lines.some((l) => l.startsWith("pool: 9 done")));
});

Deno.test("examples/compute_server/main.ts with a bad --workers names the flag and exits 2", async () => {
  const out = await example(["--workers", "many"], { stderr: "piped" })
    .output();
  assertEquals(out.code, 2);
  assertEquals(
    new TextDecoder().decode(out.stderr),
    'error: --workers must be an integer of at least 1: received "many"\n',
  );
});
