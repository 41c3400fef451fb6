// Workers stuck in synchronous code against ComputePool. Deno cannot stop a
// worker that never returns to its event loop (`terminate()` does not
// interrupt it): the pool must count such a worker as lost once its task was
// cancelled or timed out and `stuckAfterMs` passed, replace it, report it in
// `metrics().workersStuck`, and still let the process exit after `close()`
// or `terminate()`. A stuck worker would keep the test runner alive, so the
// pools that meet `while (true) {}` run in child processes (bounded by a
// timeout).
import { assertEquals } from "@std/assert";
import { HOSTILE_TASKS, runScript } from "./_helpers.ts";

const MOD = new URL("../compute/mod.ts", import.meta.url).href;

for (const end of ["close", "terminate"] as const) {
  Deno.test(`hostile compute stuck: workers stuck in while (true) after a timeout are replaced, and ${end}() lets the process exit`, async () => {
    const script = `
      import { ComputePool } from ${JSON.stringify(MOD)};
      const pool = new ComputePool(${
      JSON.stringify(HOSTILE_TASKS.href)
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
    // In a child of its own: `deno test --parallel` runs every test module in
    // this one process, so counting this process's Worker threads would count
    // the pools of other modules too (the count waited for here was missed
    // whenever another module's pool was alive, and the test timed out).
    const script = `
      import { ComputePool } from ${JSON.stringify(MOD)};
      // Threads of this process that run a Worker (Deno names them worker-N).
      const threads = () => [...Deno.readDirSync("/proc/self/task")].filter((t) => {
        try {
          return Deno.readTextFileSync("/proc/self/task/" + t.name + "/comm").startsWith("worker-");
        } catch {
          return false; // ended meanwhile
        }
      }).length;
      const waitFor = async (done, what) => {
        const end = Date.now() + 10_000;
        while (!done()) {
          if (Date.now() > end) throw new Error("Timed out waiting for " + what);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const pool = new ComputePool(${
      JSON.stringify(HOSTILE_TASKS.href)
    }, { workers: 2, stuckAfterMs: 100 });
      await pool.ready();
      // Ignores its cancel for 1.5 s.
      const hog = await pool.run("busy", 1500, { timeoutMs: 50 }).catch((e) => e.name);
      await waitFor(() => pool.metrics().workersStuck === 1, "stuck");
      const live = pool.liveWorkers;
      // Two workers answer side by side while the hog still burns.
      const two = await Promise.all([pool.run("busy", 50), pool.run("busy", 50)]);
      // The hog returns, sees it was given up on, and its thread ends.
      await waitFor(() => threads() === 2, "hog exit");
      const stuck = pool.metrics().workersStuck;
      const alive = await pool.run("echo", "alive");
      await pool.close();
      await waitFor(() => threads() === 0, "threads end");
      console.log(hog, live, two.join(","), stuck, alive);
    `;
    // Reading /proc/self/task needs --allow-all.
    const { code, stdout, stderr } = await runScript(script, ["-A"]);
    assertEquals(stdout, "TimeoutError 2 50,50 1 alive", stderr);
    assertEquals(code, 0, "the process exited by itself");
  },
});
