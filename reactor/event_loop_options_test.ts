// Ranges of EventLoop, BufferPool and Timer options (issue 9): every option
// has a documented range and a std-style error naming option, rule and value.
import { assertEquals, assertThrows } from "@std/assert";
import { BufferPool } from "./buffer_pool.ts";
import { EventLoop } from "./event_loop.ts";
import { loopSettings } from "./_loop_options.ts";
import { Interest } from "./interest.ts";
import { Timer } from "./timer.ts";
import { Waker } from "./waker.ts";

const A = "Cannot create event loop as ";

Deno.test("EventLoop bounds sizes at 1 GiB and counts at sane limits", () => {
  const cases: [ConstructorParameters<typeof EventLoop>[0], string][] = [
    [
      { eventsCapacity: 2 ** 40 },
      `${A}'eventsCapacity' must be an integer from 1 to 2 ** 20: received 1099511627776`,
    ],
    [
      { maxReadBufferSize: 2 ** 30 + 1 },
      `${A}'maxReadBufferSize' must be an integer from 1 to 2 ** 30: received 1073741825`,
    ],
    [
      { minReadBufferSize: 0 },
      `${A}'minReadBufferSize' must be an integer from 1 to 2 ** 30: received 0`,
    ],
    [
      { writeHighWaterMark: 2 ** 40 },
      `${A}'writeHighWaterMark' must be an integer from 2 to 2 ** 30: received 1099511627776`,
    ],
    [
      { maxCoalesceSize: 1.5 },
      `${A}'maxCoalesceSize' must be an integer from 1 to 2 ** 30: received 1.5`,
    ],
    [
      { acceptErrorDelayMs: 1.5 },
      `${A}'acceptErrorDelayMs' must be an integer from 0 to 2147483647: received 1.5`,
    ],
    [
      { writeHighWaterMark: 100, writeLowWaterMark: 100 },
      `${A}'writeLowWaterMark' must be less than 'writeHighWaterMark' (100): received 100`,
    ],
    [
      { minReadBufferSize: 4096, maxReadBufferSize: 1024 },
      `${A}'maxReadBufferSize' must be at least 'minReadBufferSize' (4096): received 1024`,
    ],
  ];
  for (const [options, message] of cases) {
    assertThrows(() => new EventLoop(options), RangeError, message);
  }
  assertThrows(
    () => new EventLoop({ eventsCapacity: "8" as unknown as number }),
    TypeError,
    `${A}'eventsCapacity' must be an integer from 1 to 2 ** 20: received '8'`,
  );
});

Deno.test("EventLoop accepts the ends of its ranges", async () => {
  await using loop = new EventLoop({
    eventsCapacity: 2 ** 20,
    minReadBufferSize: 1,
    maxReadBufferSize: 2 ** 30,
    writeHighWaterMark: 2,
    writeLowWaterMark: 1,
    acceptErrorDelayMs: 0,
  });
  assertEquals(loop.metrics().registeredSources, 0);
});

Deno.test("EventLoop.register() bounds per-connection buffer sizes", async () => {
  await using loop = new EventLoop();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assertThrows(
    () =>
      loop.register(listener, 1, Interest.READABLE, () => {}, {
        maxReadBufferSize: 2 ** 40,
      }),
    RangeError,
    "Cannot register source as 'maxReadBufferSize' must be an integer from 1 to 2 ** 30: received 1099511627776",
  );
});

Deno.test("Timer and EventLoop.addTimer() bound their delays", async () => {
  assertEquals(new Timer(1.5).delayMs, 1.5); // what remains of a deadline
  assertThrows(
    () => new Timer(-1),
    RangeError,
    "Cannot create timer as 'delayMs' must be a number from 0 to 2147483647: received -1",
  );
  assertThrows(
    () => new Timer(2 ** 31),
    RangeError,
    "received 2147483648",
  );
  assertThrows(
    () => new Timer(1, { intervalMs: 0.5 }),
    RangeError,
    "Cannot create timer as 'intervalMs' must be an integer from 1 to 2147483647: received 0.5",
  );
  assertThrows(
    () => new Timer("5" as unknown as number),
    TypeError,
    "received '5'",
  );
  await using loop = new EventLoop();
  assertThrows(
    () => loop.addTimer(2 ** 31, () => {}),
    RangeError,
    "Cannot add timer as 'delayMs' must be a number from 0 to 2147483647: received 2147483648",
  );
});

Deno.test("BufferPool bounds its sizes at 1 GiB", () => {
  assertThrows(
    () => new BufferPool({ maxRetainedBytes: 2 ** 40 }),
    RangeError,
    "Cannot create buffer pool as 'maxRetainedBytes' must be an integer from 0 to 2 ** 30: received 1099511627776",
  );
  assertThrows(
    () => new BufferPool({ maxSize: 2 ** 31 }),
    RangeError,
    "Cannot create buffer pool as 'maxSize' must be a power of two up to 2 ** 30: received 2147483648",
  );
  assertEquals(new BufferPool({ maxRetainedBytes: 0 }).metrics().hits, 0);
});

Deno.test("Waker takes a SharedArrayBuffer of at least 4 bytes", () => {
  assertThrows(
    () =>
      new Waker({ buffer: new ArrayBuffer(8) as unknown as SharedArrayBuffer }),
    TypeError,
    "Cannot create waker as 'buffer' must be a SharedArrayBuffer of at least 4 bytes",
  );
});

Deno.test("EventLoop probes for a turn every 8,192 events by default", () => {
  // eventsCapacity 16,384: at 1,024 the probe cost a saturated server 3–4 %
  // CPU (docs/design.md, "Session 6").
  assertEquals(loopSettings({}).cap, 16_384);
  assertEquals(loopSettings({ eventsCapacity: 64 }).cap, 64);
});
