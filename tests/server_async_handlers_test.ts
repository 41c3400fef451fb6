// Async handlers (issue 9, part 2): a handler that returns a promise which
// rejects is handled exactly like one that throws: only its connection or
// source is closed, the error is reported, everyone else is served, and the
// process lives on (an escaped rejection would end the test run). Events are
// not held back while an async handler is pending.
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { EventLoop, Interest, Timer, Waker } from "../reactor/mod.ts";
import {
  type DisconnectReason,
  type NetworkHandler,
  TcpClient,
  TcpServer,
  TcpServerConfig,
} from "../net/mod.ts";
import {
  decoder,
  echoOnNewConnection,
  encoder,
  HOST,
  listenOnLoop,
  readAll,
  readExactly,
  waitFor,
  within,
} from "./_helpers.ts";

// Resolves a few microtasks later: the rejection comes after the call returned.
const tick = () => Promise.resolve().then(() => {});

class Boom extends Error {}

/** A TcpServer running `handler` that records disconnects and errors. */
function serve(handler: NetworkHandler) {
  const reasons = new Map<number, DisconnectReason>();
  const errors: [Error, number | undefined][] = [];
  const server = new TcpServer(
    new TcpServerConfig({ hostname: HOST, port: 0 }),
    {
      ...handler,
      onDisconnect(ctx, id, reason) {
        reasons.set(id, reason);
        return handler.onDisconnect?.(ctx, id, reason);
      },
      onError(_ctx, error, id) {
        errors.push([error, id]);
      },
    },
  );
  const running = server.run();
  const port = (server.addr as Deno.NetAddr).port;
  return {
    server,
    port,
    reasons,
    errors,
    async [Symbol.asyncDispose]() {
      await server.close();
      await running;
    },
  };
}

Deno.test("TcpServer: an async onData that rejects costs only its connection", async () => {
  await using s = serve({
    async onData(ctx, id, data) {
      const text = decoder.decode(data);
      await tick();
      if (text.includes("boom")) throw new Boom("async boom");
      ctx.sendTo(id, text);
    },
  });
  const bad = await Deno.connect({ hostname: HOST, port: s.port });
  await bad.write(encoder.encode("boom"));
  // The server closes it: end of stream, nothing sent.
  assertEquals((await within(readAll(bad), 5000, "close")).length, 0);
  bad.close();
  await waitFor(() => s.reasons.size === 1, 5000, "disconnect");
  assertEquals([...s.reasons.values()], ["handler error"]);
  assertEquals(s.errors.length, 1);
  assertInstanceOf(s.errors[0]![0], Boom);
  assertEquals(s.errors[0]![1], 1);
  assertEquals(s.server.stats().handlerErrors, 1);
  await echoOnNewConnection(s.port, "still here", 5000);
});

Deno.test("TcpServer: async onConnect, onWritable, onDisconnect and onListening rejections are contained", async () => {
  let listening = 0;
  await using s = serve({
    async onListening() {
      listening++;
      await tick();
      throw new Boom("listening");
    },
    async onConnect(ctx, id) {
      ctx.setData(id, id);
      await tick();
      if (id === 1) throw new Boom("connect");
    },
    onData(ctx, id, data) {
      if (decoder.decode(data) === "flood") {
        // Over the high-water mark: onWritable follows the drain.
        ctx.sendTo(id, new Uint8Array(1 << 20));
      } else ctx.sendTo(id, data);
    },
    async onWritable(_ctx, _id) {
      await tick();
      throw new Boom("writable");
    },
    async onDisconnect(_ctx, id) {
      await tick();
      if (id === 1) throw new Boom("disconnect");
    },
  });
  // onConnect of connection 1 rejects: closed with "handler error", and its
  // onDisconnect rejects too (reported; nothing left to close).
  const first = await Deno.connect({ hostname: HOST, port: s.port });
  assertEquals((await within(readAll(first), 5000, "close")).length, 0);
  first.close();
  await waitFor(() => s.errors.length === 3, 5000, "three errors");
  assertEquals(s.reasons.get(1), "handler error");
  assertEquals(
    s.errors.map(([e, id]) => `${e.message} ${id}`).sort(),
    ["connect 1", "disconnect 1", "listening undefined"],
  );
  assertEquals(listening, 1);
  // onWritable of connection 2 rejects once its 1 MiB reply drained.
  const second = await Deno.connect({ hostname: HOST, port: s.port });
  await second.write(encoder.encode("flood"));
  const got = await within(readAll(second), 5000, "flood and close");
  assertEquals(got.length, 1 << 20);
  second.close();
  await waitFor(() => s.reasons.has(2), 5000, "disconnect of 2");
  assertEquals(s.reasons.get(2), "handler error");
  assertEquals(s.errors.at(-1)![0].message, "writable");
  await echoOnNewConnection(s.port, "alive", 5000);
});

Deno.test("TcpServer: the next onData is not held back while an async one is pending", async () => {
  const gate = Promise.withResolvers<void>();
  const calls: string[] = [];
  await using s = serve({
    async onData(ctx, id, data) {
      const text = decoder.decode(data); // copied before the first await
      calls.push(`start ${text}`);
      if (text === "first") await gate.promise;
      calls.push(`end ${text}`);
      ctx.sendTo(id, text);
    },
  });
  using conn = await Deno.connect({ hostname: HOST, port: s.port });
  await conn.write(encoder.encode("first"));
  await waitFor(() => calls.length === 1, 5000, "first onData");
  await conn.write(encoder.encode("second"));
  assertEquals(
    decoder.decode(await within(readExactly(conn, 6), 5000, "second")),
    "second",
  );
  assertEquals(calls, ["start first", "start second", "end second"]);
  gate.resolve();
  assertEquals(
    decoder.decode(await within(readExactly(conn, 5), 5000, "first")),
    "first",
  );
});

Deno.test("TcpClient: an async onData that rejects closes the connection with 'handler error'", async () => {
  await using s = serve({
    onData: (ctx, id, data) => void ctx.sendTo(id, data),
  });
  const reasons: DisconnectReason[] = [];
  const errors: Error[] = [];
  const client = new TcpClient({
    async onData() {
      await tick();
      throw new Boom("client boom");
    },
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
    onError: (_ctx, error) => void errors.push(error),
  });
  await client.connect(`${HOST}:${s.port}`, { timeoutMs: 5000 });
  client.send("ping");
  await waitFor(() => reasons.length === 1, 5000, "client disconnect");
  assertEquals(reasons, ["handler error"]);
  assertInstanceOf(errors[0], Boom);
  assert(!client.connected);
  await client.close();
});

Deno.test("EventLoop: an async connection handler that rejects closes only its source", async () => {
  const errors: [unknown, number | undefined][] = [];
  await using loop = new EventLoop({
    onError: (error, token) => void errors.push([error, token]),
  });
  const port = listenOnLoop(loop, async (event, loop) => {
    const data = event.data?.slice();
    const token = event.token;
    if (data === undefined) {
      if (event.readClosed || event.error) void loop.close(token);
      return;
    }
    await tick();
    if (decoder.decode(data) === "boom") throw new Boom("loop boom");
    if (loop.has(token)) loop.write(token, data);
  });
  const running = loop.run();
  try {
    const bad = await Deno.connect({ hostname: HOST, port });
    await bad.write(encoder.encode("boom"));
    assertEquals((await within(readAll(bad), 5000, "close")).length, 0);
    bad.close();
    assertEquals(errors.length, 1);
    assertInstanceOf(errors[0]![0], Boom);
    assertEquals(errors[0]![1], 1);
    assertEquals(loop.has(1), false);
    assertEquals(loop.metrics().handlerErrors, 1);
    await echoOnNewConnection(port, "served", 5000);
  } finally {
    loop.stop();
    await running;
  }
});

Deno.test("EventLoop: async listener, Timer, Waker and addTimer rejections are reported; the loop goes on", async () => {
  const errors: [string, number | undefined][] = [];
  await using loop = new EventLoop({
    onError: (error, token) =>
      void errors.push([(error as Error).message, token]),
  });
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  loop.register(listener, 1, Interest.READABLE, async (event) => {
    event.conn?.close();
    await tick();
    throw new Boom("listener");
  });
  loop.register(new Timer(1), 2, Interest.READABLE, async () => {
    await tick();
    throw new Boom("timer source");
  });
  const waker = new Waker();
  loop.register(waker, 3, Interest.READABLE, async () => {
    await tick();
    throw new Boom("waker");
  });
  let ticks = 0;
  using _interval = loop.addTimer(1, async () => {
    ticks++;
    await tick();
    throw new Boom("callback");
  }, { intervalMs: 2 });
  const running = loop.run();
  try {
    waker.wake();
    (await Deno.connect({ hostname: HOST, port: listener.addr.port })).close();
    await waitFor(
      () => !loop.has(1) && !loop.has(2) && !loop.has(3) && ticks >= 3,
      5000,
      "every source closed and the interval ticking",
    );
    const bySource = errors.filter(([, token]) => token !== undefined).sort();
    assertEquals(bySource, [["listener", 1], ["timer source", 2], [
      "waker",
      3,
    ]]);
    // An interval whose callback rejects keeps running, like one that throws.
    assert(errors.filter(([m]) => m === "callback").length >= 2);
    assert(loop.running);
  } finally {
    loop.stop();
    await running;
  }
});
