// Hostile task lifecycles against ComputePool: async tasks that never settle
// (or settle late) after a timeout or an abort, tasks that end their own
// worker with `self.close()` or `Deno.exit()`, and task names that a plain
// property lookup would find on Object.prototype. The pool must give every
// worker back (or replace it), settle every promise once, and keep running;
// nothing may be left running (workers are invisible to the sanitizers:
// checked here).
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
} from "@std/assert";
import type { ComputePool } from "../compute/mod.ts";
import type * as Tasks from "./testdata/compute_hostile_tasks.ts";
import { sleep, waitFor, within, withTasksPool } from "./_helpers.ts";

const WORKERS = 2;

/** Runs `fn` on a pool of WORKERS; every worker must be there after it. */
function withPool(
  fn: (pool: ComputePool<typeof Tasks>) => Promise<void>,
): Promise<void> {
  return withTasksPool({ workers: WORKERS }, async (pool) => {
    await fn(pool);
    assertEquals(pool.liveWorkers, WORKERS);
  });
}

/** How a promise settled, within 5 s. */
async function outcome(
  promise: Promise<unknown>,
  what: string,
): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  return await within(
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error) => ({ ok: false as const, error }),
    ),
    5000,
    what,
  );
}

Deno.test("hostile compute: timed-out tasks that never settle give their workers back", async () => {
  await withPool(async (pool) => {
    // More such tasks than workers, one after the other and all at once.
    for (let i = 0; i < 2 * WORKERS; i++) {
      const error = await pool.run("hang", undefined, { timeoutMs: 50 })
        .catch((e) => e);
      assertEquals((error as Error).name, "TimeoutError");
    }
    const all = await Promise.allSettled(
      Array.from(
        { length: 3 * WORKERS },
        () => pool.run("hang", undefined, { timeoutMs: 50 }),
      ),
    );
    for (const o of all) {
      assertEquals(o.status, "rejected");
      assertEquals((o as PromiseRejectedResult).reason.name, "TimeoutError");
    }
    assertEquals(
      await within(pool.run("echo", "alive"), 5000, "echo after hangs"),
      "alive",
    );
    // Both workers are free: two tasks of 100 ms run side by side.
    await waitFor(() => pool.metrics().busyWorkers === 0, 5000, "idle");
    const pair = await within(
      Promise.all([pool.run("busy", 100), pool.run("busy", 100)]),
      5000,
      "two busy tasks",
    );
    assertEquals(pair, [100, 100]);
    assertEquals(pool.metrics().activeWorkers, WORKERS);
    assertEquals(pool.metrics().workersReplaced, 0);
  });
});

Deno.test("hostile compute: aborted tasks that never settle give their workers back", async () => {
  await withPool(async (pool) => {
    for (let i = 0; i < 2 * WORKERS; i++) {
      const controller = new AbortController();
      const task = pool.run("hang", undefined, { signal: controller.signal });
      // Let a worker claim it, so that it is running, not queued.
      await waitFor(() => pool.metrics().busyWorkers > 0, 5000, "claimed");
      controller.abort(new Error(`stop ${i}`));
      const o = await outcome(task, "aborted hang");
      assert(!o.ok);
      assertEquals((o.error as Error).message, `stop ${i}`);
    }
    assertEquals(
      await within(pool.run("echo", "alive"), 5000, "echo after aborts"),
      "alive",
    );
    assertEquals(pool.metrics().workersReplaced, 0);
  });
});

Deno.test("hostile compute: an abandoned task that settles later changes nothing", async () => {
  await withPool(async (pool) => {
    const late = [
      pool.run("resolveLater", 200, { timeoutMs: 20 }),
      pool.run("rejectLater", 200, { timeoutMs: 20 }),
    ];
    for (const p of late) {
      const o = await outcome(p, "late task");
      assert(!o.ok);
      assertEquals((o.error as Error).name, "TimeoutError");
    }
    const before = pool.metrics();
    // Meanwhile, and after the late settlements, other tasks get their own
    // results; the late ones are neither counted nor crash their worker.
    const echoes: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      echoes.push(pool.run("echo", i));
      await sleep(10);
    }
    assertEquals(
      await within(Promise.all(echoes), 5000, "echoes"),
      Array.from({ length: 30 }, (_, i) => i),
    );
    const after = pool.metrics();
    assertEquals(after.tasksCompleted - before.tasksCompleted, 30);
    assertEquals(after.tasksFailed, before.tasksFailed);
    assertEquals(after.tasksCancelled, 2);
    assertEquals(after.workersReplaced, 0);
  });
});

for (const task of ["closeWorker", "exitWorker", "closeWorkerLater"] as const) {
  Deno.test(`hostile compute: a task that ends its worker (${task}) rejects and the worker is replaced`, async () => {
    await withPool(async (pool) => {
      for (let i = 0; i < WORKERS + 1; i++) {
        const o = await outcome(pool.run(task, undefined), `${task} settles`);
        assert(!o.ok, `${task} resolved`);
        assertInstanceOf(o.error, Error);
        assertStringIncludes(
          o.error.message,
          `Cannot finish task '${task}' as it ended its worker with `,
        );
      }
      assertEquals(
        await within(pool.run("echo", "alive"), 5000, "echo after exits"),
        "alive",
      );
      assertEquals(pool.metrics().workersReplaced, WORKERS + 1);
    });
  });
}

Deno.test("hostile compute: a worker ended outside any task is replaced", async () => {
  await withPool(async (pool) => {
    assertEquals(await pool.run("exitWorkerSoon", 20), 20);
    await sleep(30);
    // An idle worker blocks in Atomics.wait: its timers fire when it next
    // looks at its event loop, between batches. Keep both busy until then;
    // every task still gets its own result.
    const start = performance.now();
    let round = 0;
    while (pool.metrics().workersReplaced === 0) {
      assert(performance.now() - start < 5000, "no replacement after 5 s");
      const echoes = Array.from({ length: 20 }, (_, i) => pool.run("echo", i));
      assertEquals(
        await within(Promise.all(echoes), 5000, `echoes ${round++}`),
        Array.from({ length: 20 }, (_, i) => i),
      );
      await sleep(5);
    }
    assertEquals(pool.metrics().workersReplaced, 1);
    assertEquals(pool.liveWorkers, WORKERS);
    assertEquals(await pool.run("echo", "alive"), "alive");
  });
});

Deno.test("hostile compute: task names of Object.prototype members are not tasks", async () => {
  await withPool(async (pool) => {
    const run = pool.run as unknown as (
      n: string,
      i: unknown,
    ) => Promise<unknown>;
    for (
      const name of [
        "constructor",
        "toString",
        "__proto__",
        "hasOwnProperty",
        "valueOf",
        "__defineGetter__",
        "then",
      ]
    ) {
      const o = await outcome(run.call(pool, name, 1), name);
      assert(!o.ok, `${name} resolved`);
      assertInstanceOf(o.error, Error);
      assertEquals(o.error.name, "TypeError");
      assertEquals(
        o.error.message,
        `Cannot run task as '${name}' is not a function exported by the task module`,
      );
    }
    assertEquals(await pool.run("echo", "alive"), "alive");
    assertEquals(pool.metrics().workersReplaced, 0);
  });
});
