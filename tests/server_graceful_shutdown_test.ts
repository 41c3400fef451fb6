// Hostile peers during a graceful TcpServer shutdown: a peer that never
// reads with a full queue, a peer that keeps sending, a peer that never
// closes, and a connect flood while the server shuts down. The shutdown
// must finish by its deadline, everyone must be closed, the polite peer must
// get its goodbye and every byte queued for it, and nothing may leak.
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertStringIncludes,
} from "@std/assert";
import {
  closeQuietly,
  connect,
  decoder,
  echoOnce,
  encoder,
  readExactly,
  readToEnd,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

Deno.test("hostile shutdown: a graceful shutdown finishes by its deadline despite peers that never read, never stop sending, never close", async () => {
  const h = startServer({
    onData(ctx, id, data) {
      const text = decoder.decode(data);
      if (text === "FILL") ctx.sendTo(id, new Uint8Array(16 * 1024 * 1024));
      else if (!text.startsWith("spam")) ctx.sendTo(id, data);
    },
    onShutdown(ctx) {
      ctx.broadcast("goodbye\n");
    },
  }, { maxWriteBuffer: 64 * 1024 * 1024 });
  const polite = await connect(h.port);
  const stuck = await connect(h.port);
  const spammer = await connect(h.port);
  const lingerer = await connect(h.port);
  let spamming = true;
  const spam = (async () => {
    const chunk = encoder.encode("spam".repeat(1024));
    while (spamming) {
      try {
        await spammer.write(chunk);
      } catch {
        return;
      }
    }
  })();
  try {
    await echoOnce(polite, "hi");
    await echoOnce(lingerer, "hi");
    await writeAll(stuck, encoder.encode("FILL"));
    await waitFor(() => h.server.stats().bytesPending > 0, 5000, "stuck queue");
    const politeReads = within(readToEnd(polite), 15_000, "polite EOF");
    const started = performance.now();
    const result = await within(
      h.server.shutdown({ timeoutMs: 300 }),
      15_000,
      "graceful shutdown",
    );
    const took = performance.now() - started;
    // The polite peer got its goodbye then end of stream.
    const { bytes } = await politeReads;
    assertEquals(decoder.decode(bytes), "goodbye\n");
    polite.close();
    assertEquals(result.closedGracefully + result.forced, 4);
    assertGreaterOrEqual(result.forced, 2); // stuck, and lingerer or spammer
    assertEquals(h.server.connectionCount, 0);
    assertEquals(h.server.stats().state, "closed");
    // Generous: ten times the deadline plus the linger bound, not a speed test.
    assert(took < 300 * 10 + 5000, `shutdown took ${took} ms`);
    // The others are closed: reads end (EOF or reset).
    for (const c of [stuck, lingerer]) {
      await within(readToEnd(c, 64 * 1024 * 1024), 10_000, "closed by server");
    }
  } finally {
    spamming = false;
    closeQuietly(spammer);
    await spam;
    for (const c of [polite, stuck, lingerer]) closeQuietly(c);
    await h[Symbol.asyncDispose]();
  }
});

Deno.test("hostile shutdown: a connect flood during shutdown is refused or closed; nothing leaks", async () => {
  const h = startServer({
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
  });
  const early = await connect(h.port);
  const flood: Deno.Conn[] = [];
  try {
    await echoOnce(early, "x");
    const shutting = h.server.shutdown({ timeoutMs: 500 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 50 }, () => connect(h.port)),
    );
    for (const a of attempts) if (a.status === "fulfilled") flood.push(a.value);
    early.close();
    await within(shutting, 15_000, "shutdown");
    // Every connection that got through is closed by the server.
    await Promise.all(flood.map(async (c) => {
      const { bytes } = await within(readToEnd(c), 10_000, "flood conn closed");
      assertEquals(bytes.length, 0);
    }));
    assertEquals(h.server.connectionCount, 0);
    // And the port no longer accepts.
    const late = await connect(h.port).then(
      (c) => {
        c.close();
        return "connected";
      },
      (e: Error) => e.name,
    );
    assertStringIncludes(late, "ConnectionRefused");
  } finally {
    closeQuietly(early);
    for (const c of flood) closeQuietly(c);
    await h[Symbol.asyncDispose]();
  }
});

Deno.test("hostile shutdown: bytes queued for a slow but reading peer are all delivered before its end of stream", async () => {
  const SIZE = 8 * 1024 * 1024;
  const h = startServer({
    onData(ctx, id) {
      ctx.sendTo(id, new Uint8Array(SIZE).fill(0x5a));
    },
  }, { maxWriteBuffer: 2 * SIZE });
  const slow = await connect(h.port);
  try {
    await writeAll(slow, encoder.encode("go"));
    await readExactly(slow, 1);
    const shutting = h.server.shutdown({ timeoutMs: 10_000 });
    // Everything queued before the shutdown arrives, then end of stream.
    const { bytes, reset } = await within(readToEnd(slow), 20_000, "all bytes");
    assertEquals(reset, false);
    assertEquals(bytes.length, SIZE - 1);
    assert(bytes.every((b) => b === 0x5a));
    slow.close();
    const result = await within(shutting, 15_000, "shutdown");
    assertEquals(result, { closedGracefully: 1, forced: 0 });
  } finally {
    closeQuietly(slow);
    await h[Symbol.asyncDispose]();
  }
});
