// ComputePool's pool options: elastic size (minWorkers, maxWorkers,
// idleTimeoutMs), concurrentTasksPerWorker, close({ timeoutMs, force }) with
// the `drain` event and `needsDrain`, workerData, and progress reports.
// Workers are invisible to the sanitizers: each test counts the worker
// threads of the process (Deno names them worker-N) before and after.
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { ComputePool, TaskPriority } from "../compute/mod.ts";
import type * as Tasks from "../compute/testdata/tasks.ts";
import { waitFor, within, workerThreadIds } from "./_helpers.ts";

const TASKS = new URL("../compute/testdata/tasks.ts", import.meta.url);

/**
 * Runs `fn` and checks that no worker thread started meanwhile outlives it.
 * Thread ids, not a count: under `deno test --parallel` other files' Workers
 * run in this process too, so a count could hide a leak (one of theirs
 * ended) or blame one (one of theirs started; the stuck-worker test keeps
 * one busy for ~10 s, hence the generous wait).
 */
async function noWorkerLeft(fn: () => Promise<void>): Promise<void> {
  const before = workerThreadIds();
  await fn();
  const started = [...workerThreadIds()].filter((id) => !before.has(id));
  await waitFor(
    () => {
      const now = workerThreadIds();
      return started.every((id) => !now.has(id));
    },
    30_000,
    "workers to end",
  );
}

Deno.test("ComputePool grows to maxWorkers under load and retires idle workers down to minWorkers", async () => {
  await noWorkerLeft(async () => {
    await using pool = new ComputePool<typeof Tasks>(TASKS, {
      minWorkers: 1,
      maxWorkers: 3,
      idleTimeoutMs: 100,
    });
    assertEquals(pool.size, 1);
    await pool.ready();
    assertEquals(pool.liveWorkers, 1);
    // Up to 6 s of work: the pool grows long before it is done.
    const stop = new AbortController();
    const load = Array.from(
      { length: 600 },
      () => pool.run("busy", 10, { signal: stop.signal }).catch(() => 0),
    );
    await waitFor(() => pool.liveWorkers === 3, 10_000, "growth to 3");
    stop.abort();
    await within(Promise.all(load), 20_000, "load");
    assertEquals(pool.metrics().workersSpawned, 2);
    await waitFor(() => pool.liveWorkers === 1, 10_000, "idle workers retired");
    assertEquals(pool.metrics().workersRetired, 2);
    // It still works, and grows again.
    assertEquals(await pool.run("add", [1, 2]), 3);
  });
});

Deno.test("ComputePool validates its sizing options", () => {
  assertThrows(
    () => new ComputePool(TASKS, { minWorkers: 3, maxWorkers: 2 }),
    RangeError,
    "Cannot create compute pool as 'minWorkers' must be an integer from 1 to 2: received 3",
  );
  assertThrows(
    () => new ComputePool(TASKS, { concurrentTasksPerWorker: 0 }),
    RangeError,
    "'concurrentTasksPerWorker' must be an integer from 1 to 64: received 0",
  );
  assertThrows(
    () => new ComputePool(TASKS, { idleTimeoutMs: -1 }),
    RangeError,
    "'idleTimeoutMs' must be",
  );
  assertThrows(
    () => new ComputePool(TASKS, { workerData: () => 1 }),
    TypeError,
    "'workerData' must be structured-cloneable",
  );
});

Deno.test("ComputePool runs concurrentTasksPerWorker async tasks at once on one worker", async () => {
  await noWorkerLeft(async () => {
    await using pool = new ComputePool<typeof Tasks>(TASKS, {
      workers: 1,
      concurrentTasksPerWorker: 4,
    });
    const state = new Int32Array(new SharedArrayBuffer(16));
    state[2] = 4; // each waits until 4 are in flight together
    const probes = Array.from(
      { length: 4 },
      () => pool.run("concurrencyProbe", state),
    );
    assertEquals(await within(Promise.all(probes), 10_000, "probes"), [
      4,
      4,
      4,
      4,
    ]);
    // Sync tasks still run meanwhile, one at a time, and in-flight tasks can
    // be cancelled one by one.
    const controller = new AbortController();
    const waiting = pool.run("waitForAbort", null, {
      signal: controller.signal,
    });
    const sleeping = pool.run("sleep", 50);
    assertEquals(await pool.run("add", [2, 2]), 4);
    await waitFor(() => pool.metrics().busyWorkers === 1, 5000, "in flight");
    controller.abort();
    const reason = await assertRejects(() => waiting);
    assertInstanceOf(reason, DOMException);
    assertEquals(await sleeping, "slept");
    assertEquals(pool.metrics().workersReplaced, 0);
  });
});

Deno.test("ComputePool with one task per worker does not start a second async task meanwhile", async () => {
  await noWorkerLeft(async () => {
    await using pool = new ComputePool<typeof Tasks>(TASKS, { workers: 1 });
    const state = new Int32Array(new SharedArrayBuffer(16));
    state[2] = 2; // would need two at once: each gives up after 300 ms
    state[3] = 300;
    const first = pool.run("concurrencyProbe", state);
    await waitFor(() => Atomics.load(state, 0) === 1, 5000, "first probe");
    const second = pool.run("concurrencyProbe", state);
    assertEquals(await within(Promise.all([first, second]), 20_000, "probes"), [
      1,
      1,
    ]);
  });
});

Deno.test("ComputePool.close({ timeoutMs }) cancels what is left after the deadline; close({ force }) at once", async () => {
  await noWorkerLeft(async () => {
    const pool = new ComputePool<typeof Tasks>(TASKS, { workers: 1 });
    await pool.ready(); // a cold worker may take longer than the deadline
    const quick = pool.run("add", [1, 1]);
    const slow = pool.run("spinUntilCancelled", 60_000).catch((e) => e);
    const queued = pool.run("add", [2, 2], { priority: TaskPriority.Low })
      .catch((e) => e);
    await pool.close({ timeoutMs: 200 });
    assertEquals(await quick, 2);
    assertEquals((await slow as DOMException).name, "TimeoutError");
    assertEquals((await queued as DOMException).name, "TimeoutError");
    assertEquals(pool.liveWorkers, 0);
    await assertRejects(() => pool.run("add", [1, 1]), Error, "closed");

    const forced = new ComputePool<typeof Tasks>(TASKS, { workers: 1 });
    const running = forced.run("spinUntilCancelled", 60_000).catch((e) => e);
    await forced.close({ force: true });
    assertEquals(
      (await running as Error).message,
      "Cannot finish task as the pool was terminated",
    );
    assertEquals(forced.liveWorkers, 0);
  });
});

Deno.test("ComputePool fires drain when its queue empties and tells needsDrain at maxQueue", async () => {
  await noWorkerLeft(async () => {
    await using pool = new ComputePool<typeof Tasks>(TASKS, {
      workers: 1,
      maxQueue: 3,
    });
    let drains = 0;
    pool.addEventListener("drain", () => drains++);
    const controller = new AbortController();
    const blocker = pool.run("spinUntilCancelled", 60_000, {
      signal: controller.signal,
    }).catch(() => {});
    await waitFor(() => pool.metrics().busyWorkers === 1, 5000, "blocker");
    assertEquals(pool.needsDrain, false);
    const queued = [1, 2, 3].map((i) => pool.run("add", [i, 0]));
    assertEquals(pool.needsDrain, true);
    await assertRejects(() => pool.run("add", [4, 0]), RangeError, "maxQueue");
    const drained = new Promise((resolve) =>
      pool.addEventListener("drain", resolve, { once: true })
    );
    controller.abort();
    await within(drained, 5000, "drain event");
    assertEquals(pool.needsDrain, false);
    assertEquals(await Promise.all(queued), [1, 2, 3]);
    await blocker;
    assertGreater(drains, 0);
  });
});

Deno.test("ComputePool gives workerData to the task module (ctx.workerData and workerData())", async () => {
  await noWorkerLeft(async () => {
    const data = { scale: 3, names: ["a"], when: new Date(0) };
    await using pool = new ComputePool<typeof Tasks>(TASKS, {
      workers: 2,
      workerData: data,
      name: "scaler",
    });
    const [fromCtx, fromGetter] = await pool.run("readWorkerData", null);
    assertEquals(fromCtx, data);
    assertEquals(fromGetter, data);
  });
});

Deno.test("ComputePool.run() reports ctx.progress() values to onProgress, in order, before the result", async () => {
  await noWorkerLeft(async () => {
    await using pool = new ComputePool<typeof Tasks>(TASKS, { workers: 2 });
    for (let round = 0; round < 20; round++) {
      const seen: unknown[] = [];
      let settledFirst = false;
      const n = await pool.run("countTo", 50, {
        onProgress: (value) => {
          if (settledFirst) throw new Error("progress after the result");
          seen.push(value);
        },
      }).finally(() => (settledFirst = true));
      assertEquals(n, 50);
      assertEquals(seen, Array.from({ length: 50 }, (_, i) => i + 1));
    }
    // A throwing callback costs its report only.
    const value = await pool.run("countTo", 3, {
      onProgress: () => {
        throw new Error("callback fails");
      },
    });
    assertEquals(value, 3);
    await assertRejects(
      () =>
        pool.run("countTo", 1, {
          onProgress: 42 as unknown as (value: unknown) => void,
        }),
      TypeError,
      "'onProgress' must be a function: received 42",
    );
    assert(pool.metrics().workersReplaced === 0);
  });
});
