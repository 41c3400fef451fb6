// Hostile clients against examples/compute_server/main.ts run as a subprocess: a
// job flood beyond the per-client limit, a client that vanishes with jobs
// queued, garbage and overlong lines. Each gets error lines or its own jobs
// cancelled; the pool is not monopolised; other clients are served.
import { assert, assertEquals, assertGreater, assertMatch } from "@std/assert";
import {
  connect,
  decoder,
  encoder,
  type Example,
  readUntilText,
  sleep,
  startExample,
  within,
  writeAll,
} from "./_helpers.ts";

// Words a plain-object lookup would find on Object.prototype.
const PROTOTYPE_WORDS = [
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "valueOf",
] as const;

/** Reads until `count` lines arrived; returns them. */
async function lines(conn: Deno.Conn, count: number): Promise<string[]> {
  let text = "";
  const buf = new Uint8Array(65536);
  while ((text.match(/\n/g)?.length ?? 0) < count) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
  return text.trimEnd().split("\n");
}

interface PoolStats {
  tasksSubmitted: number;
  busyWorkers: number;
  activeWorkers: number;
  queueDepth: Record<string, number>;
}

async function stats(ex: Example): Promise<PoolStats> {
  using c = await connect(ex.port);
  await writeAll(c, encoder.encode("stats\n"));
  return JSON.parse(await within(readUntilText(c, "\n"), 10_000, "stats"));
}

Deno.test("hostile compute server: floods, vanishing clients and garbage cost only their sender", async () => {
  await using ex = await startExample("compute_server/main.ts", {
    args: ["--workers", "2", "--iterations", "20000"],
    permissions: ["-A"],
  });
  // 1. A flood beyond the per-client limit of 100 pending jobs.
  const flooder = await connect(ex.port);
  try {
    await writeAll(flooder, encoder.encode("hash low x\n".repeat(500)));
    const got = await within(lines(flooder, 500), 30_000, "500 answers");
    const busy = got.filter((l) => / busy: 100 jobs already pending$/.test(l));
    const done = got.filter((l) => /^hash \d+ [0-9a-f]{8}$/.test(l));
    assertEquals(busy.length + done.length, 500);
    assertGreater(busy.length, 0);
    assertGreater(done.length, 99);
  } finally {
    flooder.close();
  }
  // 2. A client that queues 100 jobs and vanishes: they are cancelled or
  // finished, nothing stays queued, the pool keeps both workers.
  const before = await stats(ex);
  const vanisher = await connect(ex.port);
  await writeAll(vanisher, encoder.encode("hash low y\n".repeat(100)));
  await sleep(5);
  vanisher.close();
  let after = before;
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    after = await stats(ex);
    const queue = after.queueDepth;
    if (
      after.tasksSubmitted > before.tasksSubmitted &&
      Object.values(queue).every((n) => n === 0) && after.busyWorkers === 0
    ) break;
    await sleep(50);
  }
  const queue = after.queueDepth;
  assert(Object.values(queue).every((n) => n === 0), JSON.stringify(queue));
  assertEquals(after.activeWorkers, 2);
  // 3. Garbage, overlong and malformed lines get error lines; a good job
  // on the same connection is still answered.
  const c = await connect(ex.port);
  try {
    await writeAll(
      c,
      encoder.encode(
        "hash bogus x\nhash\n\u0000\u00ff\n" + "x".repeat(10_000) + "\n" +
          "hash high " + "\u00e9".repeat(3000) +
          "\n" + PROTOTYPE_WORDS.map((w) => `hash ${w} x\n`).join("") +
          "hash critical ok\n",
      ),
    );
    const got = await within(
      lines(c, 6 + PROTOTYPE_WORDS.length),
      15_000,
      "answers",
    );
    const usage = "error: usage: hash critical|high|normal|low <text>";
    assertEquals(got[0], usage);
    assertEquals(got[1], usage);
    assertMatch(got[2]!, /^error: unknown command /);
    assertEquals(got[3], "error: line too long");
    assertEquals(got[4], "error: line too long");
    // Names of Object.prototype members are not priorities: a usage error
    // at once, like any unknown word (no job is numbered or queued).
    for (const [k, word] of PROTOTYPE_WORDS.entries()) {
      assertEquals(got[5 + k], usage, `hash ${word} x`);
    }
    assertMatch(got[5 + PROTOTYPE_WORDS.length]!, /^hash \d+ [0-9a-f]{8}$/);
  } finally {
    c.close();
  }
  assert(ex.alive());
});
