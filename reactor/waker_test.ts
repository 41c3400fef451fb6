import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async";
import { EventLoop, Interest, Waker } from "./mod.ts";

Deno.test("Waker wakes the loop from a Worker; the worker is gone after terminate", async () => {
  await using loop = new EventLoop();
  const waker = new Waker();
  let wakes = 0;
  loop.register(waker, 3, Interest.READABLE, (event, loop) => {
    assertEquals(event.token, 3);
    assert(event.readable);
    wakes++;
    loop.stop();
  });
  const worker = new Worker(
    new URL("../tests/testdata/reactor_waker_worker.ts", import.meta.url),
    { type: "module" },
  );
  const beat = new SharedArrayBuffer(4);
  const heartbeat = new Int32Array(beat);
  try {
    worker.postMessage({ buffer: waker.buffer, beat, wakes: 50 });
    await loop.run();
    // 50 wakes before the loop could dispatch coalesce into few events.
    assertGreaterOrEqual(wakes, 1);
    assertLessOrEqual(wakes, 50);
    // The heartbeat proves the worker is alive...
    const before = Atomics.load(heartbeat, 0);
    await delay(30);
    assert(Atomics.load(heartbeat, 0) > before, "worker heartbeat is running");
  } finally {
    worker.terminate();
  }
  // ...and stops after terminate().
  await delay(20);
  const stopped = Atomics.load(heartbeat, 0);
  await delay(50);
  assertEquals(Atomics.load(heartbeat, 0), stopped, "worker still running");
});

Deno.test("Waker wakes between dispatches coalesce; later wakes deliver again", async () => {
  await using loop = new EventLoop();
  const waker = new Waker();
  const other = new Waker({ buffer: waker.buffer });
  let wakes = 0;
  loop.register(waker, 1, Interest.READABLE, () => {
    wakes++;
    if (wakes === 1) loop.addTimer(5, () => other.wake());
    else loop.stop();
  });
  other.wake();
  other.wake();
  other.wake();
  await loop.run();
  assertEquals(wakes, 2);
});

Deno.test("Waker deregistered while waiting leaves nothing pending", async () => {
  await using loop = new EventLoop();
  const waker = new Waker();
  loop.register(waker, 1, Interest.READABLE, () => {});
  loop.addTimer(5, () => {
    loop.deregister(1);
    loop.stop();
  });
  await loop.run();
  assertEquals(loop.metrics().registeredSources, 0);
  // A wake that arrives later is kept in the state word for the next loop.
  waker.wake();
  let woken = false;
  loop.register(waker, 2, Interest.READABLE, (_e, loop) => {
    woken = true;
    loop.stop();
  });
  await loop.run();
  assert(woken);
});

Deno.test("Waker rejects a bad buffer", () => {
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => new Waker({ buffer: new ArrayBuffer(8) as any }),
    TypeError,
    "'buffer' must be a SharedArrayBuffer",
  );
});
