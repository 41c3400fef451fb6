// Workers stuck in synchronous code against ComputePool. Deno cannot stop a
// worker that never returns to its event loop (`terminate()` does not
// interrupt it): the pool must count such a worker as lost once its task was
// cancelled or timed out and `stuckAfterMs` passed, replace it, report it in
// `metrics().workersStuck`, and still let the process exit after `close()`
// or `terminate()`. A stuck worker would keep the test runner alive, so the
// pools that meet `while (true) {}` run in child processes (bounded by a
// timeout).
import { assertEquals } from "@std/assert";
import { ComputePool } from "../compute/mod.ts";
import type * as Tasks from "./testdata/compute_hostile_tasks.ts";
import { runScript, waitFor, within, workerThreads } from "./_helpers.ts";

const MOD = new URL("../compute/mod.ts", import.meta.url).href;
const TASKS = new URL("./testdata/compute_hostile_tasks.ts", import.meta.url);

for (const end of ["close", "terminate"] as const) {
  Deno.test(`hostile compute stuck: workers stuck in while (true) after a timeout are replaced, and ${end}() lets the process exit`, async () => {
    const script = `
      import { ComputePool } from ${JSON.stringify(MOD)};
      const pool = new ComputePool(${
      JSON.stringify(TASKS.href)
    }, { workers: 2, stuckAfterMs: 200 });
      const stuck = await Promise.all([
        pool.run("spinForever", undefined, { timeoutMs: 100 }).catch((e) => e.name),
        pool.run("spinForever", undefined, { timeoutMs: 100 }).catch((e) => e.name),
      ]);
      // Both workers are lost: only replacements can answer.
      const echoes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => pool.run("echo", i)),
      );
      const m = pool.metrics();
      console.log(stuck.join(","), echoes.length, m.workersStuck, m.activeWorkers);
      await pool.${end}();
      console.log("done", pool.liveWorkers);
    `;
    const { code, stdout, stderr } = await runScript(script);
    assertEquals(stdout, "TimeoutError,TimeoutError 10 2 2\ndone 0", stderr);
    assertEquals(code, 0, "the process exited by itself");
  });
}

Deno.test({
  name:
    "hostile compute stuck: a worker busy past its timeout is replaced at once and exits when its task returns",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const before = workerThreads();
    const pool = new ComputePool<typeof Tasks>(TASKS, {
      workers: 2,
      stuckAfterMs: 100,
    });
    try {
      await within(pool.ready(), 30_000, "ready");
      // Ignores its cancel for 1.5 s.
      const hog = await pool.run("busy", 1500, { timeoutMs: 50 })
        .catch((e) => e.name);
      assertEquals(hog, "TimeoutError");
      await waitFor(() => pool.metrics().workersStuck === 1, 5000, "stuck");
      assertEquals(pool.liveWorkers, 2);
      // Two workers answer side by side while the hog still burns.
      assertEquals(
        await within(
          Promise.all([pool.run("busy", 50), pool.run("busy", 50)]),
          5000,
          "two tasks",
        ),
        [50, 50],
      );
      // The hog returns, sees it was given up on, and its thread ends.
      await waitFor(() => workerThreads() === before + 2, 10_000, "hog exit");
      assertEquals(pool.metrics().workersStuck, 1);
      assertEquals(await pool.run("echo", "alive"), "alive");
    } finally {
      await within(pool.close(), 10_000, "close");
    }
    await waitFor(() => workerThreads() === before, 10_000, "threads end");
  },
});
