// ComputePool as the EventLoop's ComputeRunner (mill-io's spawn on the loop).

import { assertEquals, assertRejects } from "@std/assert";
import { EventLoop, Timer } from "../reactor/mod.ts";
import { ComputePool, TaskPriority } from "../compute/mod.ts";
import type * as Tasks from "../compute/testdata/tasks.ts";

const TASKS = new URL("../compute/testdata/tasks.ts", import.meta.url);

Deno.test("EventLoop.spawnCompute() runs tasks on an attached ComputePool", async () => {
  await using pool = new ComputePool<typeof Tasks>(TASKS, { workers: 2 });
  const loop = new EventLoop();
  loop.attachCompute(pool);
  const results: unknown[] = [];
  // Spawn from inside a loop callback, as a handler would.
  loop.register(new Timer(1), 1, 1, (_event, l) => {
    l.deregister(1);
    Promise.all([
      l.spawnCompute("add", [40, 2], { priority: TaskPriority.Critical }),
      l.spawnCompute("echo", { deep: [1, "x"] }),
    ]).then((r) => {
      results.push(...r);
      l.stop();
    });
  });
  await loop.run();
  assertEquals(results, [42, { deep: [1, "x"] }]);
  await loop[Symbol.asyncDispose]();
  assertEquals(pool.metrics().tasksCompleted, 2);
});

Deno.test("Disposing the EventLoop cancels its compute tasks in the pool", async () => {
  await using pool = new ComputePool<typeof Tasks>(TASKS, { workers: 1 });
  const loop = new EventLoop();
  loop.attachCompute(pool);
  const running = loop.spawnCompute("spinUntilCancelled", 10_000);
  const queued = loop.spawnCompute("noop", 1, { priority: TaskPriority.Low });
  for (let i = 0; i < 400 && pool.metrics().busyWorkers === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await loop[Symbol.asyncDispose]();
  for (const task of [running, queued]) {
    const reason = await assertRejects(() => task);
    assertEquals((reason as DOMException).name, "AbortError");
  }
  // The worker stopped the cancelled task cooperatively and is free again.
  assertEquals(await pool.run("add", [1, 1]), 2);
  assertEquals(pool.metrics().tasksCancelled, 2);
});
