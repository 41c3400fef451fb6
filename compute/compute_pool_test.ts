import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { runScript } from "../tests/_helpers.ts";
import { delay } from "@std/async/delay";
import { ComputePool } from "./compute_pool.ts";
import type { ComputePoolOptions } from "./types.ts";
import { TaskPriority } from "./task_priority.ts";
import type * as Tasks from "./testdata/tasks.ts";

const TASKS = new URL("./testdata/tasks.ts", import.meta.url);

function makePool(options: ComputePoolOptions = {}): ComputePool<typeof Tasks> {
  return new ComputePool<typeof Tasks>(TASKS, { workers: 2, ...options });
}

/** Polls `cond` every few ms (bounded), for states only the pool can see. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await delay(5);
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/**
 * Occupies the pool's single worker until released (a task that spins until
 * cancelled, so the poll for it to start cannot miss it).
 */
async function block(
  pool: ComputePool<typeof Tasks>,
): Promise<{ release(): Promise<void> }> {
  const controller = new AbortController();
  const running = pool.run("spinUntilCancelled", 60_000, {
    signal: controller.signal,
  }).catch(() => {});
  await until(() => pool.metrics().busyWorkers === 1, "the blocker to start");
  return {
    async release() {
      controller.abort();
      await running;
    },
  };
}

function assertStopped(pool: ComputePool<typeof Tasks>): void {
  assertEquals(pool.liveWorkers, 0);
  assertEquals(pool.metrics().activeWorkers, 0);
}

Deno.test("ComputePool.run() returns results of any structured-cloneable input", async () => {
  await using pool = makePool();
  assertEquals(await pool.run("add", [2, 3]), 5);
  for (
    const value of [
      undefined,
      null,
      true,
      false,
      0,
      -1.5,
      NaN,
      Infinity,
      "",
      "héllo ✓",
      "x".repeat(5000),
      { a: 1, b: [1, "two", { c: null }] },
      [1, 2, 3],
      new Map([[1, "one"]]),
      new Date(1_700_000_000_000),
      123n,
    ]
  ) {
    assertEquals(await pool.run("echo", value), value);
  }
  const small = new Uint8Array([1, 2, 3]);
  const echoedSmall = await pool.run("echo", small);
  assertInstanceOf(echoedSmall, Uint8Array);
  assertEquals(echoedSmall, small);
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  assertEquals(await pool.run("echo", big), big);
  const buffer = new Uint8Array([9, 8, 7]).buffer;
  const echoedBuffer = await pool.run("echo", buffer);
  assertInstanceOf(echoedBuffer, ArrayBuffer);
  assertEquals(
    new Uint8Array(echoedBuffer as ArrayBuffer),
    new Uint8Array([9, 8, 7]),
  );
  assertEquals(await pool.run("sumBytes", new Uint8Array([1, 2, 3, 4])), 10);
});

Deno.test("ComputePool.run() sends large and structured inputs per batch, failing only uncloneable ones", async () => {
  await using pool = makePool({ workers: 2 });
  const inputs = Array.from(
    { length: 3000 },
    (_, i) =>
      i % 3 === 0
        ? { i, nested: [i, "x".repeat(i % 200)] }
        : i % 3 === 1
        ? new Uint8Array(500 + (i % 7)).fill(i & 0xff)
        : "y".repeat(100 + (i % 50)),
  );
  const runs = inputs.map((input) => pool.run("echo", input));
  const bad = pool.run("echo", { fn: () => 1 }).then(() => null, (e) => e);
  const after = pool.run("echo", { ok: true });
  assertEquals(await Promise.all(runs), inputs);
  assertEquals((await bad as Error).name, "DataCloneError");
  assertEquals(await after, { ok: true });
});

Deno.test("ComputePool passes bytes and strings through the shared arena, also after aborts fill it", async () => {
  await using pool = makePool({ workers: 1 });
  // 8 MiB of 64 KiB inputs: twice the arena of one priority.
  const inputs = Array.from(
    { length: 128 },
    (_, i) => new Uint8Array(65536).fill(i & 0xff),
  );
  const sizes = await Promise.all(inputs.map((b) => pool.run("size", b)));
  assertEquals(sizes, inputs.map(() => 65536));
  assertEquals(await pool.run("echo", inputs[7]!), inputs[7]);
  const text = "ü".repeat(200_000);
  assertEquals(await pool.run("echo", text), text);
  assertEquals(await pool.run("size", new ArrayBuffer(300_000)), 300_000);
  assertEquals(await pool.run("size", new Uint8Array(3 << 20)), 3 << 20);
  // Fill the arena with tasks aborted while queued (tombstones), then run
  // more: the arena space of the tombstones must come back.
  const blocker = await block(pool);
  const controller = new AbortController();
  const doomed = inputs.slice(0, 100).map((b) =>
    pool.run("size", b, { signal: controller.signal }).catch(() => "aborted")
  );
  controller.abort();
  assertEquals(new Set(await Promise.all(doomed)), new Set(["aborted"]));
  const after = inputs.slice(0, 100).map((b) => pool.run("size", b));
  await blocker.release();
  assertEquals((await Promise.all(after)).length, 100);
  assertEquals(pool.metrics().queueDepth.normal, 0);
});

Deno.test("ComputePool.run() moves buffers in the transfer list and results the task transfers", async () => {
  await using pool = makePool();
  const input = new Uint8Array(4096).fill(1);
  const sum = pool.run("sumBytes", input, { transfer: [input.buffer] });
  assertEquals(await sum, 4096);
  assertEquals(input.byteLength, 0, "the transferred input is detached");
  const out = await pool.run("bytes", 5000);
  assertEquals(out.length, 5000);
  assertEquals(out[4999], 4999 & 0xff);
  assertEquals((await pool.run("bytes", 10))[9], 9);
});

Deno.test("ComputePool.run() rejects with the task's error name, message and stack", async () => {
  await using pool = makePool();
  await pool.ready();
  const error = await assertRejects(() => pool.run("fail", "bad input"));
  assertInstanceOf(error, Error);
  assertEquals(error.name, "ParseError");
  assertEquals(error.message, "bad input");
  assertStringIncludes(error.stack ?? "", "tasks.ts");
  const asyncError = await assertRejects(() => pool.run("failAsync", "later"));
  assertEquals((asyncError as Error).name, "TypeError");
  assertEquals((asyncError as Error).message, "later");
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => (pool as ComputePool<any>).run("missing", 1),
    Error,
    "Cannot run task as 'missing' is not a function exported by the task module",
  );
  const unclonable = await assertRejects(() => pool.run("unclonable"));
  assertEquals((unclonable as Error).name, "DataCloneError");
  const m = pool.metrics();
  // An unknown name is refused by run() once the workers are ready (like a
  // full queue), not accepted and failed.
  assertEquals(m.tasksFailed, 3);
  // The workers survived all of it.
  assertEquals(await pool.run("add", [1, 1]), 2);
  assertEquals(pool.metrics().workersReplaced, 0);
});

Deno.test("ComputePool runs tasks of one priority in submission order", async () => {
  await using pool = makePool({ workers: 1 });
  const blocker = await block(pool);
  const order: number[] = [];
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    runs.push(pool.run("noop", i).then((v) => order.push(v)));
  }
  await blocker.release();
  await Promise.all(runs);
  assertEquals(order, Array.from({ length: 300 }, (_, i) => i));
});

Deno.test("ComputePool runs higher priorities first, FIFO within each", async () => {
  await using pool = makePool({ workers: 1, agingMs: 60_000 });
  const blocker = await block(pool);
  const order: string[] = [];
  const runs: Promise<unknown>[] = [];
  const names = ["critical", "high", "normal", "low"];
  for (let i = 0; i < 40; i++) {
    const priority = (3 - (i % 4)) as TaskPriority; // low, normal, high, critical, ...
    runs.push(
      pool.run("noop", i, { priority }).then((v) =>
        order.push(`${names[priority]}:${v}`)
      ),
    );
  }
  assertEquals(pool.metrics().queueDepth, {
    critical: 10,
    high: 10,
    normal: 10,
    low: 10,
  });
  await blocker.release();
  await Promise.all(runs);
  const expected: string[] = [];
  for (let priority = 0; priority < 4; priority++) {
    for (let i = 0; i < 40; i++) {
      if (3 - (i % 4) === priority) expected.push(`${names[priority]}:${i}`);
    }
  }
  assertEquals(order, expected);
});

/**
 * Keeps 100 critical 1 ms tasks queued (endless critical load) until the low
 * task finishes or `maxCritical` were submitted.
 */
async function starvationRun(
  agingMs: number,
  maxCritical: number,
): Promise<{ criticalDone: number; submitted: number }> {
  await using pool = makePool({ workers: 1, agingMs });
  await pool.run("busy", 1); // the worker learns the task's cost
  let criticalDone = 0;
  let submitted = 0;
  let lowDone = false;
  const criticals: Promise<unknown>[] = [];
  const submitCritical = () => {
    submitted++;
    criticals.push(
      pool.run("busy", 1, { priority: TaskPriority.Critical }).then(() => {
        criticalDone++;
        if (!lowDone && submitted < maxCritical) submitCritical();
      }),
    );
  };
  for (let i = 0; i < 100; i++) submitCritical();
  const low = pool.run("busy", 1, { priority: TaskPriority.Low }).then(() => {
    lowDone = true;
    return { criticalDone, submitted };
  });
  const result = await low;
  await Promise.all(criticals);
  return result;
}

Deno.test("ComputePool ages waiting tasks so a low task runs under endless critical load", async () => {
  // With aging (10 ms per level) the low task is served while critical tasks
  // still arrive; without aging, only once all of them are done.
  const withAging = await starvationRun(10, 400);
  assertLess(withAging.submitted, 400, "the flood was still going");
  assertLess(withAging.criticalDone, withAging.submitted);
  const withoutAging = await starvationRun(Infinity, 250);
  assertEquals(withoutAging, { criticalDone: 250, submitted: 250 });
});

Deno.test("ComputePool removes a task aborted before it starts", async () => {
  await using pool = makePool({ workers: 1 });
  const blocker = await block(pool);
  // A shared counter (a SharedArrayBuffer travels shared) shows what ran.
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const aborted = pool.run("countRun", counter, {
    signal: controller.signal,
    priority: TaskPriority.High,
  });
  const kept = pool.run("countRun", counter, { priority: TaskPriority.High });
  assertEquals(pool.metrics().queueDepth.high, 2);
  controller.abort();
  const reason = await assertRejects(() => aborted);
  assertInstanceOf(reason, DOMException);
  assertEquals(reason.name, "AbortError");
  assertEquals(pool.metrics().queueDepth.high, 1);
  await blocker.release();
  assertEquals(await kept, 1);
  assertEquals(await pool.run("add", [1, 1]), 2); // the queue is empty now
  assertEquals(Atomics.load(counter, 0), 1, "the aborted task never ran");
  const m = pool.metrics();
  assertEquals(m.tasksCancelled, 2); // the blocker and the aborted task
  assertEquals(m.tasksCompleted, 2);
  // A custom reason is what the promise rejects with, like fetch.
  await assertRejects(
    () =>
      pool.run("noop", 1, { signal: AbortSignal.abort(new RangeError("no")) }),
    RangeError,
    "no",
  );
});

Deno.test("ComputePool cancels a running task through the shared cancel flag", async () => {
  await using pool = makePool({ workers: 1 });
  const controller = new AbortController();
  const started = performance.now();
  const spinning = pool.run("spinUntilCancelled", 10_000, {
    signal: controller.signal,
  });
  await until(() => pool.metrics().busyWorkers === 1, "the task to start");
  controller.abort();
  const reason = await assertRejects(() => spinning);
  assertEquals((reason as DOMException).name, "AbortError");
  // The single worker is free again long before the task's 10 s were up.
  assertEquals(await pool.run("add", [1, 2]), 3);
  assertLess(performance.now() - started, 10_000);
  // An awaiting task sees ctx.signal abort.
  const controller2 = new AbortController();
  const waiting = pool.run("waitForAbort", null, {
    signal: controller2.signal,
  });
  await until(() => pool.metrics().busyWorkers === 1, "the task to start");
  controller2.abort();
  await assertRejects(() => waiting);
  assertEquals(await pool.run("add", [2, 2]), 4);
  assertLess(performance.now() - started, 10_000);
  assertEquals(pool.metrics().tasksCancelled, 2);
});

Deno.test("ComputePool times tasks out with a TimeoutError (running and queued)", async () => {
  await using pool = makePool({ workers: 1, taskTimeoutMs: 100 });
  const running = pool.run("spinUntilCancelled", 10_000);
  // Times out first, while the worker is still busy: it never runs.
  const queued = pool.run("noop", 1, { timeoutMs: 50 });
  const longer = pool.run("noop", 2, { timeoutMs: Infinity });
  for (const p of [queued, running]) {
    const reason = await assertRejects(() => p);
    assertInstanceOf(reason, DOMException);
    assertEquals(reason.name, "TimeoutError");
  }
  assertEquals(await longer, 2);
  assertEquals(pool.metrics().tasksCancelled, 2);
});

Deno.test("ComputePool rejects beyond maxQueue and lets callers await capacity", async () => {
  await using pool = makePool({ workers: 1, maxQueue: 2 });
  const blocker = await block(pool);
  const a = pool.run("noop", 1);
  const b = pool.run("noop", 2);
  await assertRejects(
    () => pool.run("noop", 3),
    RangeError,
    "Cannot run task 'noop' as the queue is full: 2 tasks are waiting ('maxQueue')",
  );
  const capacity = pool.whenCapacity();
  await blocker.release();
  await capacity;
  assertEquals(await pool.run("noop", 4), 4);
  assertEquals(await Promise.all([a, b]), [1, 2]);
  const controller = new AbortController();
  controller.abort(new Error("stop waiting"));
  await pool.whenCapacity({ signal: controller.signal }).then(
    () => {
      throw new Error("should not resolve");
    },
    (e) => assertEquals(e.message, "stop waiting"),
  );
});

Deno.test("ComputePool replaces a worker that dies; only its task fails", async () => {
  await using pool = makePool({ workers: 2 });
  await pool.ready();
  const slow = pool.run("busy", 100);
  await until(() => pool.metrics().busyWorkers === 1, "the slow task to start");
  const crash = await assertRejects(() => pool.run("crash", "boom"));
  assertEquals((crash as Error).message, "boom");
  assertEquals(await slow, 100, "the other worker's task is unaffected");
  const rejection = await assertRejects(() =>
    pool.run("crashRejection", "bad")
  );
  assertEquals((rejection as Error).name, "RangeError");
  assertEquals((rejection as Error).message, "bad");
  const m = pool.metrics();
  assertEquals(m.workersReplaced, 2);
  assertEquals(m.activeWorkers, 2);
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => pool.run("add", [i, 1])),
  );
  assertEquals(results, Array.from({ length: 100 }, (_, i) => i + 1));
});

Deno.test("ComputePool queues again the unstarted rest of a dead worker's batch", async () => {
  await using pool = makePool({ workers: 1 });
  // The worker learns both functions are cheap, so it claims them in one batch.
  for (let i = 0; i < 20; i++) {
    await Promise.all([pool.run("maybeCrash", false), pool.run("add", [0, 0])]);
  }
  const blocker = await block(pool);
  const crash = pool.run("maybeCrash", true).then(
    () => "ran",
    (e) => e.message,
  );
  const adds = [1, 2, 3].map((i) => pool.run("add", [i, 10]));
  await blocker.release();
  assertEquals(await crash, "crashed on purpose");
  assertEquals(await Promise.all(adds), [11, 12, 13]);
  const m = pool.metrics();
  assertEquals(m.workersReplaced, 1);
  assertEquals(m.tasksFailed, 1);
});

Deno.test("ComputePool.close() drains pending tasks, then stops every worker", async () => {
  const pool = makePool({ workers: 2 });
  const runs = Array.from({ length: 50 }, (_, i) => pool.run("busy", i % 3));
  const closed = pool.close();
  await assertRejects(
    () => pool.run("noop", 1),
    Error,
    "Cannot run task 'noop' as the pool is closed",
  );
  await closed;
  assertEquals((await Promise.all(runs)).length, 50);
  assertStopped(pool);
  await pool.close(); // idempotent
  assertEquals(pool.metrics().tasksCompleted, 50);
});

Deno.test("ComputePool.terminate() rejects pending tasks and stops the workers", async () => {
  const pool = makePool({ workers: 1 });
  const running = pool.run("spinUntilCancelled", 200);
  const queued = pool.run("noop", 1);
  await pool.terminate();
  await assertRejects(() => running, Error, "the pool was terminated");
  await assertRejects(() => queued, Error, "the pool was terminated");
  assertStopped(pool);
  assertEquals(pool.metrics().tasksCancelled, 2);
});

Deno.test("ComputePool is AsyncDisposable", async () => {
  let escaped: ComputePool<typeof Tasks>;
  {
    await using pool = makePool({ workers: 1 });
    escaped = pool;
    assertEquals(await pool.run("add", [1, 2]), 3);
  }
  assertStopped(escaped);
});

Deno.test("ComputePool lets the process exit after close()", async () => {
  const script = `
    import { ComputePool } from ${
    JSON.stringify(new URL("./mod.ts", import.meta.url).href)
  };
    const pool = new ComputePool(${JSON.stringify(TASKS.href)}, { workers: 2 });
    const r = await Promise.all([pool.run("add", [1, 2]), pool.run("busy", 5)]);
    await pool.close();
    console.log(JSON.stringify(r), pool.liveWorkers);
  `;
  const { code, stdout, stderr } = await runScript(script);
  assertEquals(stderr.includes("error"), false);
  assertEquals(code, 0, "the process exited by itself");
  assertEquals(stdout, "[3,5] 0");
});

Deno.test("ComputePool lets the process exit after terminate() with a task running", async () => {
  const script = `
    import { ComputePool } from ${
    JSON.stringify(new URL("./mod.ts", import.meta.url).href)
  };
    const pool = new ComputePool(${JSON.stringify(TASKS.href)}, { workers: 2 });
    const long = pool.run("spinUntilCancelled", 60_000).catch((e) => e.message);
    await pool.run("add", [1, 1]);
    while (pool.metrics().busyWorkers === 0) await new Promise((r) => setTimeout(r, 5));
    await pool.terminate();
    console.log(await long, pool.liveWorkers);
  `;
  const { code, stdout } = await runScript(script);
  assertEquals(code, 0, "the process exited by itself");
  assertEquals(stdout, "Cannot finish task as the pool was terminated 0");
});

Deno.test("ComputePool fails tasks (no respawn loop) when workers cannot start", async () => {
  // Without --allow-read the worker script cannot load: every worker dies
  // before it is ready. The pool must reject, not respawn forever.
  const script = `
    import { ComputePool } from ${
    JSON.stringify(new URL("./mod.ts", import.meta.url).href)
  };
    const pool = new ComputePool(${JSON.stringify(TASKS.href)}, { workers: 2 });
    const first = await pool.run("add", [1, 2]).catch((e) => "rejected");
    const ready = await pool.ready().catch((e) => "rejected");
    const again = await pool.run("add", [1, 2]).catch((e) => "rejected");
    console.log(first, ready, again, pool.metrics().workersReplaced, pool.liveWorkers);
    await pool.close();
  `;
  const { code, stdout } = await runScript(script, ["--no-prompt"]);
  assertEquals(stdout, "rejected rejected rejected 0 0");
  assertEquals(code, 0);
});

Deno.test("ComputePool validates its options with std-style errors", async () => {
  assertThrows(
    () => new ComputePool(TASKS, { workers: 0 }),
    RangeError,
    "Cannot create compute pool as 'workers' must be a positive integer: received 0",
  );
  assertThrows(
    () => new ComputePool(TASKS, { maxQueue: -1 }),
    RangeError,
    "'maxQueue' must be a positive integer or Infinity: received -1",
  );
  assertThrows(
    () => new ComputePool(TASKS, { agingMs: 0 }),
    RangeError,
    "'agingMs' must be an integer from 1 to 2147483647 or Infinity: received 0",
  );
  await using pool = makePool({ workers: 1 });
  await assertRejects(
    () => pool.run("noop", 1, { priority: 7 as TaskPriority }),
    RangeError,
    "Cannot run task 'noop' as 'priority' must be a TaskPriority (0 to 3): received 7",
  );
});

Deno.test("ComputePool reports a task module that fails to load", async () => {
  await using pool = new ComputePool(
    new URL("./testdata/missing_module.ts", import.meta.url),
    { workers: 1 },
  );
  await assertRejects(() => pool.ready());
  await assertRejects(() => pool.run("noop", 1));
});

Deno.test("ComputePool.metrics() counts tasks and times them", async () => {
  await using pool = makePool({ workers: 2 });
  const results = await Promise.all(
    Array.from({ length: 20_000 }, (_, i) => pool.run("noop", i)),
  );
  assertEquals(results.reduce((a, b) => a + b, 0), (20_000 * 19_999) / 2);
  await pool.run("busy", 20);
  await assertRejects(() => pool.run("fail", "x"));
  const m = pool.metrics();
  assertEquals(m.tasksSubmitted, 20_002);
  assertEquals(m.tasksCompleted, 20_001);
  assertEquals(m.tasksFailed, 1);
  assertEquals(m.tasksCancelled, 0);
  assertEquals(m.activeWorkers, 2);
  assertEquals(m.busyWorkers, 0);
  assertEquals(m.runTime.count, 20_002);
  assertEquals(m.waitTime.count, 20_002);
  assertGreater(m.runTime.max, 19);
  assert(m.runTime.p50 <= m.runTime.p99 && m.runTime.p99 <= m.runTime.max);
  assertGreater(m.totalExecutionTimeMs, 19);
  assert(m.utilization > 0 && m.utilization <= 1, `${m.utilization}`);
  assertEquals(m.queueDepth, { critical: 0, high: 0, normal: 0, low: 0 });
});
