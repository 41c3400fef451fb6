// Priority inversion against ComputePool: a worker that claimed a batch of
// low tasks on a wrong (too small) cost estimate must give the unstarted rest
// back once a more urgent task waits, instead of running the whole batch
// first. Measured in tasks (completion order on one worker), not in time.
import { assertEquals, assertLessOrEqual } from "@std/assert";
import { ComputePool, TaskPriority } from "../compute/mod.ts";
import type * as HostileTasks from "./testdata/compute_hostile_tasks.ts";
import { HOSTILE_TASKS, waitFor, within } from "./_helpers.ts";

/**
 * How many low tasks started after a critical task was submitted and before
 * it started (start times logged by the one worker, so a main thread slowed
 * down by a loaded machine does not count wrong).
 */
async function lowTasksAheadOfCritical(
  pool: ComputePool<typeof HostileTasks>,
): Promise<number> {
  await pool.run("takeStartLog", undefined);
  const lows = new AbortController();
  let lowsDone = 0;
  const low = Array.from(
    { length: 400 },
    () =>
      pool.run("slowEcho", 5, {
        priority: TaskPriority.Low,
        signal: lows.signal,
      }).then(() => lowsDone++, () => {}),
  );
  await waitFor(() => lowsDone > 0, 10_000, "low tasks running");
  const submitted = performance.timeOrigin + performance.now();
  const critical = pool.run("slowEcho", 5, { priority: TaskPriority.Critical });
  const criticalId = pool.metrics().tasksSubmitted; // ids count up from 1
  await within(critical, 20_000, "critical task");
  lows.abort();
  await within(Promise.all(low), 20_000, "low tasks settled");
  const log = await pool.run("takeStartLog", undefined);
  const started = log.find(([id]) => id === criticalId)![1];
  return log.filter(([id, at]) =>
    id !== criticalId && at >= submitted && at < started
  ).length;
}

Deno.test("hostile compute priority: a critical task overtakes a batch claimed on a wrongly trained cost estimate", async () => {
  const pool = new ComputePool<typeof HostileTasks>(HOSTILE_TASKS, {
    workers: 1,
    // No aging: on a loaded machine, low tasks waiting for seconds would
    // climb to critical and rightly run first (oldest first).
    agingMs: Infinity,
  });
  try {
    // Fresh estimate first, then trained wrong: 10,000 slowEcho(0) say the
    // task is tiny, so slowEcho(5) tasks are claimed 256 at a time.
    assertLessOrEqual(await lowTasksAheadOfCritical(pool), 2);
    const training = Array.from(
      { length: 10_000 },
      () => pool.run("slowEcho", 0),
    );
    await within(Promise.all(training), 20_000, "training");
    assertLessOrEqual(await lowTasksAheadOfCritical(pool), 2);
    assertEquals(pool.metrics().workersReplaced, 0);
  } finally {
    await within(pool.terminate(), 10_000, "terminate");
  }
  assertEquals(pool.liveWorkers, 0);
});

Deno.test("hostile compute priority: tasks handed back keep their inputs of every kind, their order and their cancels", async () => {
  const pool = new ComputePool<typeof HostileTasks>(HOSTILE_TASKS, {
    workers: 1,
    agingMs: Infinity,
  });
  try {
    const training = Array.from(
      { length: 5000 },
      () => pool.run("slowEcho", 0),
    );
    await within(Promise.all(training), 20_000, "training");
    await pool.run("takeStartLog", undefined);
    const firstId = pool.metrics().tasksSubmitted + 1; // ids count up
    // Inline, arena and postMessage inputs (one with a transfer list).
    const inputs: unknown[] = [];
    for (let i = 0; i < 120; i++) {
      switch (i % 6) {
        case 0:
          inputs.push(1);
          break;
        case 1:
          inputs.push(new Uint8Array([1, i, 3]));
          break;
        case 2:
          inputs.push(new Uint8Array(300).fill(i).fill(1, 0, 1));
          break;
        case 3:
          inputs.push("1" + "é".repeat(60) + i);
          break;
        case 4:
          inputs.push({ ms: 1, i, list: [i, "x"] });
          break;
        default:
          inputs.push(new Uint8Array(200).fill(i).fill(1, 0, 1));
      }
    }
    const expected = inputs.map((x) => x instanceof Uint8Array ? x.slice() : x);
    const aborts = new AbortController();
    const order: number[] = [];
    const lows = inputs.map((input, i) =>
      pool.run("slowEcho", input, {
        priority: TaskPriority.Low,
        ...(i % 6 === 5
          ? { transfer: [(input as Uint8Array).buffer as ArrayBuffer] }
          : {}),
        ...(i % 10 === 7 ? { signal: aborts.signal } : {}),
      }).then((value) => {
        order.push(i);
        return value;
      })
    );
    const settled = Promise.allSettled(lows);
    await waitFor(() => order.length > 0, 10_000, "low tasks running");
    for (let k = 0; k < 6; k++) {
      const before = order.length;
      assertEquals(
        await within(
          pool.run("slowEcho", k, { priority: TaskPriority.Critical }),
          10_000,
          "critical",
        ),
        k,
      );
      // Counted by completion, which side-channel results reach late: a
      // few more than the tasks that really started meanwhile.
      assertLessOrEqual(order.length - before, 10);
      if (k === 2) aborts.abort();
    }
    const outcomes = await within(settled, 20_000, "lows");
    for (const [i, o] of outcomes.entries()) {
      if (o.status === "fulfilled") {
        assertEquals(o.value, expected[i], `task ${i}`);
      } else {
        assertEquals(i % 10, 7, `task ${i} failed: ${o.reason}`);
        assertEquals((o.reason as Error).name, "AbortError");
      }
    }
    // One worker, one priority: handed back or not, FIFO holds.
    const started = (await pool.run("takeStartLog", undefined))
      .map(([id]) => id)
      .filter((id) => id >= firstId && id < firstId + inputs.length);
    assertEquals(started, [...started].sort((a, b) => a - b));
    assertLessOrEqual(order.length, started.length);
    assertLessOrEqual(started.length, order.length + 1); // aborted running
    assertEquals(pool.metrics().workersReplaced, 0);
  } finally {
    await within(pool.terminate(), 10_000, "terminate");
  }
  assertEquals(pool.liveWorkers, 0);
});
