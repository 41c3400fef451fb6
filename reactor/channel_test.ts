import {
  assert,
  assertEquals,
  assertGreater,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { Channel, EventLoop } from "./mod.ts";

/** Waits until no heartbeat in `beat` moves: every Worker ended. */
async function waitForStoppedHeartbeats(
  beat: SharedArrayBuffer,
): Promise<void> {
  const words = new Int32Array(beat);
  let last = [...words];
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = [...words];
    if (now.every((v, j) => v === last[j])) return;
    last = now;
  }
  throw new Error("a Worker kept running after terminate()");
}

Deno.test("Channel carries bytes, strings and cloned values in order", async () => {
  const channel = new Channel({ capacity: 256 });
  await Channel.loadStructuredClone();
  assert(channel.trySend(new Uint8Array([1, 2, 3])));
  assert(channel.trySend("héllo"));
  assert(channel.trySend({ a: 1, m: new Map([[1, "x"]]), big: 2n }));
  assert(channel.trySend(new Uint8Array(0)));
  assertEquals(channel.receive(), [
    new Uint8Array([1, 2, 3]),
    "héllo",
    { a: 1, m: new Map([[1, "x"]]), big: 2n },
    new Uint8Array(0),
  ]);
  assertEquals(channel.receive(), []);
  assertEquals(channel.queuedBytes, 0);
});

Deno.test("Channel copies sent bytes: later changes to the source do not show", () => {
  const channel = new Channel({ capacity: 64 });
  const bytes = new Uint8Array([7, 7]);
  channel.trySend(bytes);
  bytes[0] = 0;
  assertEquals(channel.receive(), [new Uint8Array([7, 7])]);
});

Deno.test("Channel rejects bad options and oversized messages clearly", () => {
  assertThrows(
    () => new Channel({ capacity: 8 }),
    RangeError,
    "Cannot create channel as 'capacity' must be a number from 64 to 1073741824: received 8",
  );
  assertThrows(
    () => new Channel({ buffer: new SharedArrayBuffer(100) }),
    TypeError,
    "Cannot create channel as 'buffer' must be the SharedArrayBuffer of a channel",
  );
  const channel = new Channel({ capacity: 100 });
  assertEquals(channel.capacity, 128);
  assertEquals(channel.maxMessageBytes, 120);
  assert(channel.trySend(new Uint8Array(120)));
  assertThrows(
    () => channel.trySend(new Uint8Array(121)),
    RangeError,
    "Cannot send message as it does not fit the channel: received 121 bytes, the most is 120",
  );
  channel.close();
  assertThrows(
    () => channel.trySend("x"),
    TypeError,
    "Cannot send message as the channel is closed",
  );
  assertEquals(channel.receive().length, 1, "queued messages survive close");
});

Deno.test("Channel.trySend returns false when full; send waits for room and aborts", async () => {
  const channel = new Channel({ capacity: 64 });
  assert(channel.trySend(new Uint8Array(24))); // 32 bytes with header
  assert(channel.trySend(new Uint8Array(24)));
  assertEquals(channel.trySend(new Uint8Array(1)), false);
  // A waiting send completes once the receiver frees room.
  const sending = channel.send(new Uint8Array([9]));
  await new Promise((r) => setTimeout(r, 5));
  assertEquals(channel.receive(1).length, 1);
  await sending;
  assertEquals(channel.receive(), [new Uint8Array(24), new Uint8Array([9])]);
  // An abort while full rejects and sends nothing.
  channel.trySend(new Uint8Array(24));
  channel.trySend(new Uint8Array(24));
  const controller = new AbortController();
  const waiting = channel.send("late", { signal: controller.signal });
  controller.abort(new DOMException("gave up", "AbortError"));
  await assertRejects(() => waiting, DOMException, "gave up");
  assertEquals(channel.receive().length, 2);
  // A close wakes a waiting sender with an error.
  channel.trySend(new Uint8Array(24));
  channel.trySend(new Uint8Array(24));
  const closing = channel.send("x");
  channel.close();
  await assertRejects(() => closing, TypeError, "closed");
});

Deno.test("Channel.trySend of a non-byte value before clone support loads throws", () => {
  // In a fresh process the codec is not loaded; here another test may have
  // loaded it already, so check the message shape only when it throws.
  const channel = new Channel({ capacity: 64 });
  try {
    channel.trySend({ a: 1 });
  } catch (error) {
    assert(error instanceof TypeError);
    assert(error.message.includes("structured clone support is not loaded"));
  }
});

Deno.test("Channel stress: random sizes wrap the ring; every message arrives once, intact, in order", () => {
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (const capacity of [64, 128, 1024]) {
    const channel = new Channel({ capacity });
    const sent: Uint8Array[] = [];
    let received = 0;
    for (let round = 0; round < 3000; round++) {
      // Send a random burst until full, then receive a random number.
      const burst = Math.floor(random() * 6);
      for (let i = 0; i < burst; i++) {
        const size = Math.floor(random() * (channel.maxMessageBytes + 1));
        const message = new Uint8Array(size);
        for (let j = 0; j < size; j++) {
          message[j] = (sent.length * 31 + j) & 255;
        }
        if (!channel.trySend(message)) break;
        sent.push(message);
      }
      const take = Math.floor(random() * 5);
      for (const message of channel.receive(take)) {
        assertEquals(message, sent[received], `message ${received}`);
        received++;
      }
    }
    for (const message of channel.receive()) {
      assertEquals(message, sent[received]);
      received++;
    }
    assertEquals(received, sent.length);
    assertGreater(
      sent.length * 8,
      capacity * 20,
      "the ring wrapped many times",
    );
  }
});

Deno.test("Channel on a loop: 4 Workers send concurrently; every message once, in order per sender", async () => {
  const senders = 4;
  const count = 5000;
  await using loop = new EventLoop();
  const channel = new Channel({ capacity: 4096 }); // small: senders hit full
  const next = new Array<number>(senders).fill(0);
  let total = 0;
  let events = 0;
  channel.register(loop, 7, (message, loop) => {
    const bytes = message as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const sender = view.getUint32(0, true);
    const seq = view.getUint32(4, true);
    assertEquals(seq, next[sender], `sender ${sender} out of order`);
    for (let i = 8; i < bytes.length; i++) {
      if (bytes[i] !== ((seq + i - 8) & 255)) throw new Error("corrupt bytes");
    }
    next[sender]!++;
    if (++total === senders * count) loop.stop();
  }, 256);
  const workers: Worker[] = [];
  const beat = new SharedArrayBuffer(4 * senders);
  const done: Promise<{ full: number }>[] = [];
  try {
    for (let s = 0; s < senders; s++) {
      const worker = new Worker(
        new URL("../tests/testdata/channel_sender_worker.ts", import.meta.url),
        { type: "module" },
      );
      workers.push(worker);
      done.push(
        new Promise((resolve) => {
          worker.onmessage = (e) => resolve(e.data);
        }),
      );
      worker.postMessage({
        buffer: channel.buffer,
        sender: s,
        count,
        maxFill: 200,
        seed: s + 1,
        beat,
      });
    }
    const counting = loop.metrics();
    await loop.run();
    events = loop.metrics().eventsDispatched - counting.eventsDispatched;
    const results = await Promise.all(done);
    assertEquals(next, new Array(senders).fill(count));
    assertEquals(channel.receive(), [], "nothing left over or duplicated");
    assert(events > 0);
    // With a 4 KiB ring and ~100 B messages the senders must have waited.
    assertGreater(results.reduce((n, r) => n + r.full, 0), 0);
  } finally {
    for (const worker of workers) worker.terminate();
  }
  assert(new Int32Array(beat).every((v) => v > 0), "every Worker ran");
  await waitForStoppedHeartbeats(beat);
});
