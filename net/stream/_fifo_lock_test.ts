import { assert, assertEquals, assertFalse } from "@std/assert";
import { FifoLock } from "./_fifo_lock.ts";

Deno.test("FifoLock hands the lock over in call order", async () => {
  const lock = new FifoLock();
  assert(lock.tryAcquire());
  assertFalse(lock.tryAcquire());
  const order: number[] = [];
  const waiters = [1, 2, 3].map((i) =>
    lock.acquire().then(() => {
      order.push(i);
      lock.release();
    })
  );
  await Promise.resolve();
  assertEquals(order, []);
  lock.release();
  await Promise.all(waiters);
  assertEquals(order, [1, 2, 3]);
  assertFalse(lock.busy);
});

Deno.test("FifoLock skips a waiter that gave up", async () => {
  const lock = new FifoLock();
  await lock.acquire();
  const gaveUp = lock.acquire();
  lock.abandon(gaveUp);
  let got = false;
  const next = lock.acquire().then(() => got = true);
  lock.release();
  await next;
  assert(got);
  assert(lock.busy);
  lock.release();
  assertFalse(lock.busy);
});
