// Hostile peers against TcpServer: slowloris and silent peers, connect floods
// beyond maxConnections, resets in the middle of writes and broadcasts,
// half-closing peers, a peer that never reads while others get broadcasts,
// and connect/close churn. Every peer is a raw Deno.Conn no server code
// touches; every loop is bounded in count and time.
import {
  assert,
  assertEquals,
  assertGreater,
  assertGreaterOrEqual,
  assertLessOrEqual,
} from "@std/assert";
import {
  assertHalfClosedEcho,
  closeQuietly,
  connect,
  decoder,
  echoHandler,
  echoOnce,
  encoder,
  firstDifference,
  pattern,
  readExactly,
  readToEnd,
  sleep,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

Deno.test("hostile peers: silent and byte-dribbling peers are cut by the idle timeout, a busy peer is not", async () => {
  const IDLE = 300;
  await using h = startServer(echoHandler, { idleTimeoutMs: IDLE });
  const silent = await connect(h.port);
  const dribbler = await connect(h.port);
  const busy = await connect(h.port);
  try {
    // The dribbler sends one byte per 2 × IDLE: too slow to stay.
    const dribbling = (async () => {
      for (let i = 0; i < 5; i++) {
        try {
          await dribbler.write(encoder.encode("x"));
        } catch {
          return;
        }
        await sleep(2 * IDLE);
      }
    })();
    // The busy peer does round trips well within the timeout meanwhile.
    const start = performance.now();
    let trips = 0;
    while (performance.now() - start < 4 * IDLE) {
      await echoOnce(busy, `trip ${trips++}`);
      await sleep(IDLE / 6);
    }
    await waitFor(
      () => h.seen.disconnects.length >= 2,
      10 * IDLE + 5000,
      "silent peer and dribbler cut",
    );
    await dribbling;
    assertEquals(h.reasonOf(1), "idle timeout");
    assertEquals(h.reasonOf(2), "idle timeout");
    assertEquals(h.reasonOf(3), undefined);
    assertEquals(
      (await within(readToEnd(silent), 5000, "EOF")).bytes.length,
      0,
    );
    await echoOnce(busy, "still here");
    assertGreater(trips, 3);
  } finally {
    silent.close();
    dribbler.close();
    busy.close();
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
});

Deno.test("hostile peers: a connect flood beyond maxConnections never exceeds the limit and everyone is served in turn", async () => {
  const MAX = 4;
  const FLOOD = 40;
  let maxSeen = 0;
  await using h = startServer({
    onConnect(ctx) {
      maxSeen = Math.max(maxSeen, ctx.connectionCount);
    },
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
  }, { maxConnections: MAX, tcpBacklog: 128 });
  const first: Deno.Conn[] = [];
  for (let i = 0; i < MAX; i++) first.push(await connect(h.port));
  await waitFor(() => h.server.connectionCount === MAX, 5000, "first accepted");
  // The flood: connects complete in the kernel backlog, not in the server.
  const flood = await Promise.all(
    Array.from({ length: FLOOD }, () => connect(h.port)),
  );
  try {
    await sleep(100);
    assertEquals(h.server.stats().state, "paused");
    assertEquals(h.server.connectionCount, MAX);
    // Existing peers stay responsive while the server is paused.
    for (const [i, c] of first.entries()) await echoOnce(c, `first ${i}`);
    // Release them and let the flood through, MAX at a time: each flooder
    // sends its line now and gets its echo once accepted.
    for (const [i, c] of flood.entries()) {
      await writeAll(c, encoder.encode(`flood ${i};`));
    }
    for (const c of first) c.close();
    const want = flood.map((_, i) => `flood ${i};`);
    // Serve in waves: read one echo, then close that flooder to free a slot.
    const pending = new Set(flood.keys());
    const deadline = performance.now() + 30_000;
    while (pending.size > 0 && performance.now() < deadline) {
      const wave = [...pending].slice(0, MAX * 2);
      await Promise.all(wave.map(async (i) => {
        const c = flood[i]!;
        const n = encoder.encode(want[i]!).length;
        const got = await within(readExactly(c, n), 15_000, `flooder ${i}`);
        assertEquals(decoder.decode(got), want[i]);
        c.close();
        pending.delete(i);
      }));
    }
    assertEquals(pending.size, 0);
  } finally {
    for (const c of first) closeQuietly(c);
    for (const c of flood) closeQuietly(c);
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  const stats = h.server.stats();
  assertLessOrEqual(maxSeen, MAX);
  assertLessOrEqual(stats.peakConnections, MAX);
  assertEquals(stats.accepted, MAX + FLOOD);
  assertEquals(stats.closed, MAX + FLOOD);
  assertGreaterOrEqual(stats.acceptPauses, 1);
  assertEquals(stats.state, "listening");
});

Deno.test("hostile peers: a reset in the middle of a large write costs that peer only", async () => {
  const BIG = 8 * 1024 * 1024;
  await using h = startServer({
    onData(ctx, id, data) {
      if (decoder.decode(data) === "BIG") ctx.sendTo(id, new Uint8Array(BIG));
      else ctx.sendTo(id, data);
    },
  }, { maxWriteBuffer: 2 * BIG });
  const bystander = await connect(h.port);
  try {
    for (let round = 0; round < 5; round++) {
      const victim = await connect(h.port);
      await writeAll(victim, encoder.encode("BIG"));
      // Read a little so the write is really under way, then vanish with
      // unread bytes: closing with a non-empty receive queue sends RST.
      await readExactly(victim, 1000 + round * 100_000);
      victim.close();
      await echoOnce(bystander, `round ${round}`);
    }
    await waitFor(
      () => h.seen.disconnects.length === 5,
      10_000,
      "5 victims gone",
    );
    for (const [, reason] of h.seen.disconnects) {
      assert(
        reason === "reset" || reason === "peer closed",
        `unexpected reason ${reason}`,
      );
    }
    await echoOnce(bystander, "after");
  } finally {
    bystander.close();
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  assertEquals(h.server.stats().handlerErrors, 0);
});

Deno.test("hostile peers: peers resetting mid-broadcast do not disturb the others' byte stream", async () => {
  const READERS = 4;
  const LEAVERS = 6;
  const ROUNDS = 40;
  const MSG = 8192;
  await using h = startServer({
    onData(ctx, _id, data) {
      ctx.broadcast(data);
    },
  }, { maxWriteBuffer: 64 * 1024 * 1024 });
  const readers: Deno.Conn[] = [];
  const leavers: Deno.Conn[] = [];
  for (let i = 0; i < READERS; i++) readers.push(await connect(h.port));
  for (let i = 0; i < LEAVERS; i++) leavers.push(await connect(h.port));
  const sender = await connect(h.port);
  try {
    await waitFor(
      () => h.server.connectionCount === READERS + LEAVERS + 1,
      5000,
      "everyone accepted",
    );
    const expected = new Uint8Array(ROUNDS * MSG);
    const reading = readers.map((r) =>
      within(readExactly(r, ROUNDS * MSG), 30_000, "reader's bytes")
    );
    const draining = readExactly(sender, ROUNDS * MSG);
    for (let round = 0; round < ROUNDS; round++) {
      const msg = pattern(MSG, round);
      expected.set(msg, round * MSG);
      await writeAll(sender, msg);
      // One leaver resets every few rounds, with broadcasts unread.
      if (round % 6 === 5 && leavers.length > 0) leavers.pop()!.close();
    }
    const got = await Promise.all(reading);
    for (const g of got) assertEquals(firstDifference(g, expected), -1);
    assertEquals(firstDifference(await draining, expected), -1);
  } finally {
    for (const c of [...readers, ...leavers, sender]) closeQuietly(c);
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  assertEquals(h.server.stats().handlerErrors, 0);
});

Deno.test("hostile peers: a peer that half-closes still reads everything queued for it", async () => {
  await using h = startServer(echoHandler);
  for (const size of [1, 70_000, 4 * 1024 * 1024]) {
    await assertHalfClosedEcho(h.port, pattern(size, size));
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  assertEquals(h.seen.disconnects.map(([, r]) => r), [
    "peer closed",
    "peer closed",
    "peer closed",
  ]);
});

Deno.test("hostile peers: connect/close churn leaks no connection", async () => {
  const ROUNDS = 60;
  const PER_ROUND = 5;
  await using h = startServer({
    onConnect(ctx, id) {
      ctx.sendTo(id, "hello\n");
    },
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
  });
  const survivor = await connect(h.port);
  try {
    await readExactly(survivor, 6);
    const deadline = performance.now() + 20_000;
    for (
      let round = 0;
      round < ROUNDS && performance.now() < deadline;
      round++
    ) {
      const conns = await Promise.all(
        Array.from({ length: PER_ROUND }, () => connect(h.port)),
      );
      for (const [i, c] of conns.entries()) {
        switch ((round + i) % 5) {
          case 0: // close at once, greeting unread (RST)
            c.close();
            break;
          case 1: // send and close without reading
            await c.write(encoder.encode("x")).catch(() => 0);
            c.close();
            break;
          case 2: // half-close, then close
            await c.closeWrite().catch(() => {});
            c.close();
            break;
          case 3: // read the greeting, then close
            await readExactly(c, 6).catch(() => undefined);
            c.close();
            break;
          default: // a full echo, then close
            await readExactly(c, 6);
            await echoOnce(c, "churn");
            c.close();
        }
      }
    }
    await waitFor(
      () => h.server.connectionCount === 1,
      10_000,
      "only the survivor left",
    );
    await echoOnce(survivor, "survived");
  } finally {
    survivor.close();
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  const stats = h.server.stats();
  assertEquals(stats.accepted, stats.closed);
  assertGreaterOrEqual(stats.accepted, 1 + PER_ROUND * 10);
  assertEquals(stats.handlerErrors, 0);
  assertEquals(stats.bytesPending, 0);
});

Deno.test("hostile peers: flooders that give up while waiting in the backlog do not wedge a paused server", async () => {
  const MAX = 2;
  await using h = startServer(echoHandler, { maxConnections: MAX });
  const holders = [await connect(h.port), await connect(h.port)];
  await waitFor(() => h.server.stats().state === "paused", 5000, "paused");
  const waiting = await Promise.all(
    Array.from({ length: 30 }, () => connect(h.port)),
  );
  const quitters = waiting.filter((_, i) => i % 2 === 0);
  const stayers = waiting.filter((_, i) => i % 2 === 1);
  try {
    // Half give up before they were ever accepted; some with data sent.
    for (const [i, c] of quitters.entries()) {
      if (i % 3 === 0) {
        await c.write(encoder.encode("never read")).catch(() => 0);
      }
      c.close();
    }
    for (const c of holders) c.close();
    await Promise.all(stayers.map(async (c, i) => {
      await within(echoOnce(c, `stayer ${i}`), 20_000, `stayer ${i}`);
      c.close();
    }));
  } finally {
    for (const c of [...holders, ...waiting]) closeQuietly(c);
  }
  await waitFor(() => h.server.connectionCount === 0, 10_000, "all gone");
  const stats = h.server.stats();
  assertLessOrEqual(stats.peakConnections, MAX);
  assertEquals(stats.accepted, stats.closed);
  assertEquals(stats.state, "listening");
});
