import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { FakeTime } from "@std/testing/time";
import { Deadline, DeadlineTimer, validateTimeout } from "./_deadline.ts";
import { CancelledError, TimedOutError } from "./errors.ts";

Deno.test("Deadline.race() rejects with TimedOutError at the deadline, not before", async () => {
  using time = new FakeTime();
  using deadline = new Deadline("read", 100, []);
  const never = new Promise<never>(() => {});
  let settled: unknown;
  deadline.race(never).catch((error) => settled = error);
  await time.tickAsync(99);
  assertEquals(settled, undefined);
  await time.tickAsync(1);
  assertInstanceOf(settled, TimedOutError);
  assertEquals(
    (settled as Error).message,
    "Cannot read as the deadline passed: 'timeoutMs' was 100",
  );
  // One total deadline: a later wait has no time left. It still rejects from
  // a timer (the event loop turns first), so something already settled wins.
  let later: unknown;
  deadline.race(new Promise<never>(() => {})).catch((error) => later = error);
  await time.tickAsync(0);
  assertInstanceOf(later, TimedOutError);
  assertEquals(await deadline.race(Promise.resolve(1)), 1);
});

Deno.test("Deadline shares the time left across several waits", async () => {
  using time = new FakeTime();
  using deadline = new Deadline("read exactly", 100, []);
  const first = deadline.race(
    new Promise<number>((resolve) => setTimeout(() => resolve(1), 60)),
  );
  await time.tickAsync(60);
  assertEquals(await first, 1);
  assertEquals(deadline.remainingMs, 40);
  let settled: unknown;
  deadline.race(new Promise<never>(() => {})).catch((error) => settled = error);
  await time.tickAsync(40);
  assertInstanceOf(settled, TimedOutError);
});

Deno.test("Deadline turns an abort into CancelledError with the reason as cause", async () => {
  const controller = new AbortController();
  using deadline = new Deadline("accept", undefined, [
    undefined,
    controller.signal,
  ]);
  deadline.throwIfAborted();
  const pending = deadline.race(new Promise<never>(() => {}));
  const reason = new Error("why");
  controller.abort(reason);
  const error = await assertRejects(() => pending, CancelledError);
  assertStrictEquals(error.cause, reason);
  assertThrows(() => deadline.throwIfAborted(), CancelledError);
});

Deno.test("Deadline without timeout or signal waits for the promise", async () => {
  using deadline = new Deadline("write", Infinity, []);
  assertEquals(deadline.remainingMs, Infinity);
  assertEquals(await deadline.race(Promise.resolve("ok")), "ok");
  await deadline.sleep(1);
});

Deno.test("validateTimeout() accepts undefined, zero, Infinity; rejects the rest", () => {
  for (const value of [undefined, 0, 1.5, 2 ** 31 - 1, Infinity]) {
    validateTimeout("read", "timeoutMs", value);
  }
  assertThrows(
    () => validateTimeout("read", "timeoutMs", 2 ** 31),
    RangeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received 2147483648",
  );
  assertThrows(
    () => validateTimeout("read", "timeoutMs", -1),
    RangeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received -1",
  );
  assertThrows(
    () => validateTimeout("read", "timeoutMs", -Infinity),
    RangeError,
  );
  assertThrows(
    () => validateTimeout("read", "timeoutMs", null),
    TypeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received null",
  );
});

Deno.test("DeadlineTimer re-arms for an earlier deadline and after an early fire", async () => {
  using owner = new DeadlineTimer();
  const never = () => new Promise<never>(() => {});
  {
    // Armed for 10 s by the first call, then a 30 ms deadline needs it earlier.
    using first = new Deadline("read", 10_000, [], owner);
    assertEquals(await first.race(Promise.resolve(1)), 1);
  }
  {
    using second = new Deadline("read", 30, [], owner);
    await assertRejects(() => second.race(never()), TimedOutError);
  }
  {
    // Armed for 20 ms by a call that finished; a later 150 ms deadline is
    // picked up when the timer fires with nothing due.
    using short = new Deadline("read", 20, [], owner);
    assertEquals(await short.race(Promise.resolve(2)), 2);
  }
  {
    using long = new Deadline("read", 150, [], owner);
    await assertRejects(() => long.race(never()), TimedOutError);
  }
});

Deno.test("DeadlineTimer cancels pending waits when its scope signal aborts", async () => {
  const controller = new AbortController();
  using owner = new DeadlineTimer(controller.signal);
  using deadline = new Deadline("read", undefined, [], owner);
  const pending = deadline.race(new Promise<never>(() => {}));
  controller.abort(new Error("scope"));
  const error = await assertRejects(() => pending, CancelledError);
  assertEquals((error.cause as Error).message, "scope");
  // Later calls of the scope fail fast.
  using later = new Deadline("write", 1_000, [], owner);
  assertThrows(() => later.throwIfAborted(), CancelledError);
});
