// Cancel flags against ComputePool: a flag belongs to exactly one claimed
// task, is cleared when that task settles, and neither an id that wraps nor
// another task's cancel can touch it. Workers are invisible to the
// sanitizers: each test checks that its pool stopped them.
import { assertEquals } from "@std/assert";
import { testing } from "../compute/_testing.ts";
import { sleep, waitFor, within, withTasksPool } from "./_helpers.ts";

Deno.test("hostile compute cancel: a task whose id wrapped onto a cancelled task's id still runs", async () => {
  const saved = testing.idWrap;
  testing.idWrap = 100; // ids 1..100, then 1 again
  try {
    await withTasksPool({ workers: 1 }, async (pool) => {
      // Task 1 is cancelled while it runs: its cancel flag goes up.
      const controller = new AbortController();
      const hanging = pool.run("hangUntilAborted", undefined, {
        signal: controller.signal,
      }).catch((e) => e);
      await waitFor(() => pool.metrics().busyWorkers === 1, 5000, "task 1");
      controller.abort();
      await hanging;
      // Ids 2..100, then the id counter wraps to 1 and 2.
      const rest = [];
      for (let id = 2; id <= 100; id++) rest.push(pool.run("echo", id));
      await within(Promise.all(rest), 10_000, "ids 2..100");
      assertEquals(
        await within(pool.run("echo", "id 1"), 5000, "id 1 after the wrap"),
        "id 1",
      );
      assertEquals(
        await within(pool.run("echo", "id 2"), 5000, "id 2"),
        "id 2",
      );
      assertEquals(pool.metrics().tasksSubmitted, 102);
    });
  } finally {
    testing.idWrap = saved;
  }
});

Deno.test("hostile compute cancel: cancelling another task never lowers a running task's cancel flag", async () => {
  await withTasksPool({ workers: 2 }, async (pool) => {
    // state: [0] id of X, [1] 1 = X saw its cancel, 2 = the flag went back
    // down, [2] main: stop watching, [3] id of Y, [4] X returned.
    const state = new Int32Array(new SharedArrayBuffer(20));
    const cancelX = new AbortController();
    const x = pool.run("watchCancelFlag", state, { signal: cancelX.signal })
      .catch((e) => e);
    await waitFor(() => Atomics.load(state, 0) !== 0, 5000, "X running");
    const xId = Atomics.load(state, 0);
    cancelX.abort();
    await x;
    await waitFor(() => Atomics.load(state, 1) !== 0, 5000, "X sees cancel");
    // Y gets the id X + 16,384 (the old cancel table's size) and runs on the
    // other worker; then Y is cancelled too.
    const fill = xId + 16_384 - 1 - pool.metrics().tasksSubmitted;
    const echoes = [];
    for (let i = 0; i < fill; i++) echoes.push(pool.run("echo", i));
    await within(Promise.all(echoes), 20_000, "fill");
    const cancelY = new AbortController();
    const y = pool.run("recordIdAndHang", state, { signal: cancelY.signal })
      .catch((e) => e);
    await waitFor(() => Atomics.load(state, 3) !== 0, 5000, "Y running");
    assertEquals(Atomics.load(state, 3), xId + 16_384);
    cancelY.abort();
    await y;
    await sleep(100); // X keeps watching its flag meanwhile
    Atomics.store(state, 2, 1);
    await waitFor(() => Atomics.load(state, 4) === 1, 5000, "X returned");
    assertEquals(Atomics.load(state, 1), 1, "X's ctx.cancelled() turned false");
  });
});
