// Integration tests of the reactor's flow control: backpressure through
// interest, write water marks and coalescing, handing a read in flight over
// on deregistration, and fairness between a flooding and a quiet connection.
import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
} from "@std/assert";
import { delay } from "@std/async";
import { type Event, EventLoop, Interest, type Token } from "../reactor/mod.ts";
import {
  concat,
  HOST,
  listenOnLoop,
  pattern,
  readExactly,
  waitFor,
  writeAll,
} from "./_helpers.ts";
import { takeInflightRead } from "../_internal/inflight.ts";
import { peer } from "./_peers.ts";

const node = peer("node");

Deno.test("removing READABLE pauses reads (the peer is held back) and restoring it resumes, in order", async () => {
  await using loop = new EventLoop();
  const parts: Uint8Array[] = [];
  let events = 0;
  let paused = false;
  const port = listenOnLoop(loop, (event, loop) => {
    if (!event.data) return;
    events++;
    parts.push(event.data.slice());
    if (!paused) {
      paused = true;
      loop.reregister(event.token, Interest.NONE);
    }
  });
  const running = loop.run();
  const total = 16 << 20; // more than the kernel buffers hold
  const message = pattern(total);
  using conn = await Deno.connect({ hostname: HOST, port });
  let finished = false;
  const writing = writeAll(conn, message).then(() => finished = true);
  await waitFor(() => paused, 5000, "the pause");
  await delay(100);
  const eventsWhilePaused = events;
  await delay(100);
  assertEquals(events, eventsWhilePaused, "no event while paused");
  assertEquals(events, 1);
  assertFalse(finished, "the writer is held back by the pause");
  loop.reregister(1, Interest.READABLE);
  await writing;
  await waitFor(
    () => parts.reduce((a, p) => a + p.length, 0) === total,
    5000,
    "all bytes",
  );
  assertEquals(concat(parts), message);
  loop.stop();
  await running;
});

Deno.test("write() signals the high-water mark; WRITABLE fires below the low-water mark; flush() waits", async () => {
  await using loop = new EventLoop({
    writeHighWaterMark: 256 * 1024,
    writeLowWaterMark: 64 * 1024,
  });
  const writable: number[] = [];
  const results: boolean[] = [];
  let token = -1;
  const port = listenOnLoop(loop, (event, loop) => {
    if (event.writable) writable.push(loop.pendingWriteBytes(event.token));
    if (event.data && token < 0) {
      token = event.token;
      // 32 MiB in 64 KiB chunks to a peer that is not reading yet.
      const chunk = new Uint8Array(65536).fill(7);
      for (let i = 0; i < 512; i++) results.push(loop.write(token, chunk));
    }
  }, Interest.BOTH);
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port });
  await writeAll(conn, new Uint8Array([1]));
  await waitFor(() => token >= 0, 5000, "the first read");
  // Registered with WRITABLE and an empty queue: one writable event at once.
  assertEquals(writable, [0]);
  assert(results[0], "below the high-water mark at first");
  assertFalse(results.at(-1), "above the high-water mark at the end");
  assertEquals(results.indexOf(false), 3, "false from the 256 KiB mark on");
  assertGreater(loop.pendingWriteBytes(token), 16 << 20);
  const flushed = loop.flush(token);
  let isFlushed = false;
  flushed.then(() => isFlushed = true);
  await delay(50);
  assertFalse(isFlushed, "the peer does not read: the queue stays");
  assertEquals(writable.length, 1);
  // Now read everything: the queue drains, WRITABLE fires below 64 KiB.
  const got = await readExactly(conn, 512 * 65536);
  assert(got.every((b) => b === 7));
  await flushed;
  assertEquals(loop.pendingWriteBytes(token), 0);
  await waitFor(() => writable.length === 2, 5000, "the writable event");
  assert(writable[1]! < 64 * 1024);
  loop.stop();
  await running;
});

Deno.test("writes queued in one handler call are coalesced into one write", async () => {
  await using loop = new EventLoop();
  let writesBefore = -1;
  let writesAfterQueue = -1;
  const port = listenOnLoop(loop, (event, loop) => {
    if (!event.data) return;
    writesBefore = loop.metrics().writes;
    for (let i = 0; i < 10; i++) {
      loop.write(event.token, new TextEncoder().encode(`part ${i};`));
    }
    writesAfterQueue = loop.metrics().writes;
  });
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port });
  await writeAll(conn, new Uint8Array([1]));
  const expected = Array.from({ length: 10 }, (_, i) => `part ${i};`).join("");
  const got = new TextDecoder().decode(
    await readExactly(conn, expected.length),
  );
  assertEquals(got, expected);
  await waitFor(() => loop.metrics().writes > writesBefore, 5000, "the write");
  assertEquals(writesAfterQueue, writesBefore, "nothing written mid-handler");
  assertEquals(loop.metrics().writes - writesBefore, 1, "one write for all");
  loop.stop();
  await running;
});

Deno.test("deregistering mid-read loses no byte: the loop adopts the read on re-registration", async () => {
  await using loop = new EventLoop();
  const parts: Uint8Array[] = [];
  const handler = (event: Event) => {
    if (event.data) parts.push(event.data.slice());
  };
  const port = listenOnLoop(loop, handler);
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  // Less than the smallest receive buffer: one read.
  await writeAll(client, pattern(50, 1));
  await waitFor(() => parts.length === 1, 5000, "the first read");
  // A read is in flight now; take the conn off the loop.
  const conn = loop.deregister(1) as Deno.Conn;
  assertFalse(loop.has(1));
  await writeAll(client, pattern(5000, 2)); // lands in the read in flight
  await delay(20);
  assertEquals(parts.length, 1, "nothing delivered while deregistered");
  loop.register(conn, 9, Interest.READABLE, handler);
  await writeAll(client, pattern(3000, 3));
  await waitFor(
    () => parts.reduce((a, p) => a + p.length, 0) === 8050,
    5000,
    "all bytes",
  );
  assertEquals(
    concat(parts),
    concat([pattern(50, 1), pattern(5000, 2), pattern(3000, 3)]),
  );
  loop.stop();
  await running;
});

Deno.test("deregistering mid-read hands the read in flight to the next reader", async () => {
  await using loop = new EventLoop();
  let first: Uint8Array | undefined;
  const port = listenOnLoop(loop, (event) => {
    if (event.data) first = event.data.slice();
  });
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  await writeAll(client, pattern(10, 1));
  await waitFor(() => first !== undefined, 5000, "the first read");
  const conn = loop.deregister(1) as Deno.Conn;
  await writeAll(client, pattern(300, 2));
  // What net/TcpStream does: take the loop's read first, then read itself.
  const inflight = takeInflightRead(conn);
  assert(inflight, "a read was in flight");
  assertEquals(takeInflightRead(conn), undefined, "taken once");
  const outcome = await inflight;
  assert(outcome.data, "the in-flight read got bytes");
  const rest = await readExactly(conn, 300 - outcome.data.length);
  assertEquals(
    concat([first!, outcome.data, rest]),
    concat([
      pattern(10, 1),
      pattern(300, 2),
    ]),
  );
  conn.close();
  loop.stop();
  await running;
});

Deno.test("a read completed while READABLE was off is handed over on deregistration", async () => {
  await using loop = new EventLoop();
  let first = false;
  const port = listenOnLoop(loop, (event) => {
    if (event.data) first = true;
  });
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  await writeAll(client, new Uint8Array([1]));
  await waitFor(() => first, 5000, "the first read");
  // Outside the handler: the next read is in flight; it completes held.
  loop.reregister(1, Interest.NONE);
  await writeAll(client, pattern(50, 4));
  await waitFor(() => loop.metrics().bytesRead === 51, 5000, "the held read");
  const conn = loop.deregister(1) as Deno.Conn;
  const outcome = await takeInflightRead(conn)!;
  assertEquals(outcome.data, pattern(50, 4));
  conn.close();
  loop.stop();
  await running;
});

Deno.test({
  name: node.name(
    "fairness: a flooding peer does not starve a quiet connection or the timers",
  ),
  ignore: node.ignore,
}, async () => {
  await using loop = new EventLoop({ eventsCapacity: 64 });
  let timerTicks = 0;
  const ticker = loop.addTimer(5, () => timerTicks++, { intervalMs: 5 });
  const events = new Map<Token, number>();
  let floodToken = -1;
  let floodDone = false;
  const port = listenOnLoop(loop, (event, loop) => {
    events.set(event.token, (events.get(event.token) ?? 0) + 1);
    // An echo that respects backpressure: stop reading while the queue is
    // above the high-water mark.
    if (event.data && !loop.write(event.token, event.data)) {
      loop.reregister(event.token, Interest.WRITABLE);
    }
    if (event.writable) loop.reregister(event.token, Interest.READABLE);
    if (event.readClosed) {
      if (event.token === floodToken) floodDone = true;
      void loop.close(event.token, { flush: true });
    }
  });
  const running = loop.run();
  // The flooding peer is another process (Node), so that only the server
  // shares this thread with the quiet client.
  const flooder = new Deno.Command("node", {
    args: [
      "-e",
      `const s = require("net").connect(${port}, "127.0.0.1", () => {
         const chunk = Buffer.alloc(65536, 1);
         const end = Date.now() + 1500;
         s.on("data", () => {});
         const pump = () => {
           while (Date.now() < end) {
             if (!s.write(chunk)) { s.once("drain", pump); return; }
           }
           s.end();
         };
         pump();
         s.on("end", () => s.destroy());
       });`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitFor(() => loop.metrics().bytesRead > 1 << 20, 5000, "the flood");
    floodToken = 1;
    using quiet = await Deno.connect({ hostname: HOST, port });
    const ping = new Uint8Array(64).fill(9);
    let roundTrips = 0;
    const ticksAtStart = timerTicks;
    const floodEventsAtStart = events.get(floodToken) ?? 0;
    while (!floodDone && roundTrips < 100_000) {
      await writeAll(quiet, ping);
      await readExactly(quiet, 64);
      if (!floodDone) roundTrips++;
    }
    const floodEvents = (events.get(floodToken) ?? 0) - floodEventsAtStart;
    const ticks = timerTicks - ticksAtStart;
    assertGreater(floodEvents, 20, "the flood kept going");
    // Starved, both would stay at 0 for the whole flood; the bounds are low
    // because this machine may be shared (timing is never asserted).
    assertGreaterOrEqual(roundTrips, 5, "the quiet connection was served");
    assertGreaterOrEqual(ticks, 3, "the timer kept firing");
  } finally {
    await flooder.status;
    ticker.cancel();
  }
  loop.stop();
  await running;
});

Deno.test("events are dispatched in batches of at most eventsCapacity", async () => {
  await using loop = new EventLoop({ eventsCapacity: 4 });
  const { Timer } = await import("../reactor/mod.ts");
  let seen = 0;
  for (let i = 0; i < 20; i++) {
    loop.register(new Timer(1), i, Interest.READABLE, () => {
      if (++seen === 20) loop.stop();
    });
  }
  const ticksBefore = loop.metrics().ticks;
  await loop.run();
  assertEquals(seen, 20);
  assertGreaterOrEqual(loop.metrics().ticks - ticksBefore, 5);
});

Deno.test("flush() stops waiting when its signal aborts; the queue is kept", async () => {
  await using loop = new EventLoop();
  let token = -1;
  const port = listenOnLoop(loop, (event, loop) => {
    if (event.data && token < 0) {
      token = event.token;
      loop.write(token, new Uint8Array(32 << 20)); // the peer does not read
    }
  });
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port });
  await writeAll(conn, new Uint8Array([1]));
  await waitFor(() => token >= 0, 5000, "the first read");
  const already = AbortSignal.abort(new Error("already"));
  let rejected: unknown;
  await loop.flush(token, { signal: already }).catch((e) => rejected = e);
  assertEquals((rejected as Error).message, "already");
  const controller = new AbortController();
  const flushing = loop.flush(token, { signal: controller.signal });
  let settled = false;
  flushing.catch(() => {}).finally(() => settled = true);
  await delay(20);
  assertFalse(settled);
  controller.abort(new Error("gave up"));
  rejected = undefined;
  await flushing.catch((e) => rejected = e);
  assertEquals((rejected as Error).message, "gave up");
  assertGreater(loop.pendingWriteBytes(token), 0);
  await loop.close(token);
  loop.stop();
  await running;
});
