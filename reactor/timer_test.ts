import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { FakeTime } from "@std/testing/time";
import { EventLoop, Interest, Timer } from "./mod.ts";

Deno.test("EventLoop.addTimer fires in deadline order, FIFO on ties, and cancels", async () => {
  await using loop = new EventLoop();
  const order: string[] = [];
  loop.addTimer(30, () => order.push("30"));
  loop.addTimer(10, () => order.push("10a"));
  const cancelled = loop.addTimer(15, () => order.push("15"));
  loop.addTimer(10, () => order.push("10b"));
  loop.addTimer(20, () => order.push("20"));
  loop.addTimer(40, () => loop.stop());
  assertEquals(loop.metrics().pendingTimers, 6);
  assert(cancelled.active);
  cancelled.cancel();
  cancelled.cancel(); // idempotent
  assertFalse(cancelled.active);
  assertEquals(loop.metrics().pendingTimers, 5);
  await loop.run();
  assertEquals(order, ["10a", "10b", "20", "30"]);
  assertEquals(loop.metrics().pendingTimers, 0);
});

Deno.test("EventLoop.addTimer repeats with intervalMs until cancelled", async () => {
  await using loop = new EventLoop();
  let count = 0;
  const handle = loop.addTimer(1, () => {
    if (++count === 5) {
      handle.cancel();
      loop.stop();
    }
  }, { intervalMs: 1 });
  await loop.run();
  assertEquals(count, 5);
  assertFalse(handle.active);
});

Deno.test("EventLoop timers follow FakeTime", async () => {
  using time = new FakeTime();
  await using loop = new EventLoop();
  const fired: number[] = [];
  loop.addTimer(1000, () => fired.push(1000));
  loop.addTimer(500, () => fired.push(500));
  {
    using _h = loop.addTimer(700, () => fired.push(700));
  } // disposed: cancelled
  const running = loop.run();
  await time.tickAsync(499);
  assertEquals(fired, []);
  await time.tickAsync(1);
  assertEquals(fired, [500]);
  await time.tickAsync(600);
  assertEquals(fired, [500, 1000]);
  loop.stop();
  await running;
});

Deno.test("Timer sources deliver readable events; one-shot ones deregister", async () => {
  await using loop = new EventLoop();
  const events: { token: number; closed: boolean }[] = [];
  let repeats = 0;
  loop.register(new Timer(5), 1, Interest.READABLE, (event) => {
    events.push({ token: event.token, closed: event.closed });
  });
  loop.register(
    new Timer(1, { intervalMs: 2 }),
    2,
    Interest.READABLE,
    (event, loop) => {
      assert(event.readable);
      if (++repeats === 6) {
        loop.deregister(2);
        loop.stop();
      }
    },
  );
  await loop.run();
  assertEquals(repeats, 6);
  assertEquals(events, [{ token: 1, closed: true }]);
  assertFalse(loop.has(1));
  assertFalse(loop.has(2));
  assertEquals(loop.metrics().pendingTimers, 0);
});

Deno.test("Timer source expiries wait while READABLE is removed", async () => {
  await using loop = new EventLoop();
  let fired = 0;
  let firedBeforeResume = -1;
  loop.register(new Timer(1), 1, Interest.NONE, () => {
    fired++;
    loop.stop();
  });
  loop.addTimer(20, () => {
    firedBeforeResume = fired;
    loop.reregister(1, Interest.READABLE);
  });
  // A guard only: the held expiry stops the loop as soon as it is delivered
  // (a fixed stop time raced the delivery on a loaded machine).
  const guard = loop.addTimer(10_000, () => loop.stop());
  await loop.run();
  guard.cancel();
  assertEquals(firedBeforeResume, 0);
  assertEquals(fired, 1);
});

Deno.test("EventLoop holds 100,000 pending timers and cancels them all", async () => {
  await using loop = new EventLoop();
  const handles = [];
  let fired = 0;
  for (let i = 0; i < 100_000; i++) {
    handles.push(loop.addTimer(60_000 + (i % 977), () => fired++));
  }
  assertEquals(loop.metrics().pendingTimers, 100_000);
  // Cancel every other one, then the rest in reverse.
  for (let i = 0; i < handles.length; i += 2) handles[i]!.cancel();
  assertEquals(loop.metrics().pendingTimers, 50_000);
  for (let i = handles.length - 1; i >= 0; i--) handles[i]!.cancel();
  assertEquals(loop.metrics().pendingTimers, 0);
  // A short run proves nothing fires and no native timer is left behind.
  loop.addTimer(1, () => loop.stop());
  await loop.run();
  assertEquals(fired, 0);
});

Deno.test("Timer and addTimer reject bad delays", async () => {
  await using loop = new EventLoop();
  assertThrows(() => new Timer(-1), RangeError, "'delayMs'");
  assertThrows(() => new Timer(Infinity), RangeError, "'delayMs'");
  assertThrows(
    () => new Timer(1, { intervalMs: 0 }),
    RangeError,
    "'intervalMs' must be an integer from 1 to 2147483647: received 0",
  );
  assertThrows(() => loop.addTimer(Number.NaN, () => {}), RangeError);
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => loop.addTimer(1, "nope" as any),
    TypeError,
    "'callback' must be a function",
  );
});
