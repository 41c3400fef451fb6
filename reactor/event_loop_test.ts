import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertRejects,
  assertThrows,
} from "@std/assert";
import {
  EventLoop,
  Interest,
  RESERVED_TOKEN_BASE,
  Timer,
  type Token,
} from "./mod.ts";
import {
  HOST,
  listenOnLoop,
  readExactly,
  waitFor,
  within,
} from "../tests/_helpers.ts";

Deno.test("EventLoop echoes bytes over TCP", async () => {
  await using loop = new EventLoop();
  const port = listenOnLoop(loop); // an echo server, its listener under token 0
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  for (let i = 0; i < 10; i++) {
    const msg = new TextEncoder().encode(`hello ${i}`);
    await client.write(msg);
    assertEquals(await readExactly(client, msg.length), msg);
  }
  const m = loop.metrics();
  assertEquals(m.registeredSources, 2);
  assertGreater(m.eventsDispatched, 10);
  assertGreater(m.bytesRead, 0);
  assertEquals(m.bytesRead, m.bytesWritten);
  loop.stop();
  await running;
});

Deno.test("EventLoop rejects bad tokens, interests, handlers and sources", async () => {
  await using loop = new EventLoop();
  const timer = new Timer(1000);
  const noop = () => {};
  loop.register(timer, 1, Interest.READABLE, noop);
  assertThrows(
    () => loop.register(new Timer(1), 1, Interest.READABLE, noop),
    TypeError,
    "Cannot register source as 'token' is already registered: received '1'",
  );
  assertThrows(
    () => loop.register(timer, 2, Interest.READABLE, noop),
    TypeError,
    "already registered under token '1'",
  );
  assertThrows(
    () => loop.register(new Timer(1), -1, Interest.READABLE, noop),
    RangeError,
    "'token' must be a non-negative integer: received -1",
  );
  assertThrows(
    () => loop.register(new Timer(1), 1.5, Interest.READABLE, noop),
    RangeError,
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => loop.register(new Timer(1), "3" as any, Interest.READABLE, noop),
    TypeError,
    "received '3'",
  );
  assertThrows(
    () => loop.register(new Timer(1), RESERVED_TOKEN_BASE, 1, noop),
    RangeError,
    "reserved range but was not obtained from allocateToken()",
  );
  const reserved = loop.allocateToken();
  assertEquals(reserved, RESERVED_TOKEN_BASE);
  assertGreater(loop.allocateToken(), reserved);
  loop.register(new Timer(1000), reserved, Interest.READABLE, noop);
  assertThrows(
    () => loop.register(new Timer(1), reserved + 5, Interest.READABLE, noop),
    RangeError,
  );
  for (const bad of [4, -1, 1.5, Number.NaN]) {
    assertThrows(
      () => loop.register(new Timer(1), 10, bad, noop),
      TypeError,
      "'interest' must be an Interest",
    );
  }
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => loop.register(new Timer(1), 10, Interest.READABLE, "x" as any),
    TypeError,
    "'handler' must be a function",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => loop.register({} as any, 10, Interest.READABLE, noop),
    TypeError,
    "'source' must be a listener, a connection, a datagram socket, a Timer or a Waker",
  );
  assertFalse(loop.has(10));
  // Unknown tokens.
  for (
    const call of [
      () => loop.reregister(99, Interest.READABLE),
      () => loop.deregister(99),
      () => loop.write(99, new Uint8Array(1)),
      () => loop.pendingWriteBytes(99),
    ]
  ) {
    assertThrows(call, TypeError, "'token' is not registered: received '99'");
  }
  await assertRejects(() => loop.flush(99), TypeError, "not registered");
  await assertRejects(() => loop.close(99), TypeError, "not registered");
  assertThrows(
    () => loop.reregister(1, 8),
    TypeError,
    "'interest' must be an Interest",
  );
  assertThrows(
    () => loop.write(1, new Uint8Array(1)),
    TypeError,
    "Cannot write as token '1' is not a connection",
  );
  assertEquals(loop.metrics().registeredSources, 2);
});

Deno.test("EventLoop rejects bad options", () => {
  assertThrows(
    () => new EventLoop({ eventsCapacity: 0 }),
    RangeError,
    "Cannot create event loop as 'eventsCapacity' must be an integer from 1 to 2 ** 20: received 0",
  );
  assertThrows(
    () => new EventLoop({ writeHighWaterMark: 100, writeLowWaterMark: 200 }),
    RangeError,
    "'writeLowWaterMark' must be less than 'writeHighWaterMark'",
  );
  assertThrows(
    () => new EventLoop({ minReadBufferSize: 4096, maxReadBufferSize: 1024 }),
    RangeError,
  );
  assertThrows(() => new EventLoop({ acceptErrorDelayMs: -5 }), RangeError);
});

Deno.test("a throwing handler costs only its own source", async () => {
  const errors: { error: unknown; token: Token | undefined }[] = [];
  await using loop = new EventLoop({
    onError: (error, token) => errors.push({ error, token }),
  });
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  let next = 1;
  loop.register(listener, 0, Interest.READABLE, (event, loop) => {
    if (!event.conn) return;
    loop.register(event.conn, next++, Interest.READABLE, (event, loop) => {
      if (!event.data) return;
      if (new TextDecoder().decode(event.data).startsWith("boom")) {
        throw new Error("handler failed");
      }
      loop.write(event.token, event.data);
    });
  });
  const running = loop.run();
  using good = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  using bad = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await good.write(new TextEncoder().encode("one"));
  assertEquals(new TextDecoder().decode(await readExactly(good, 3)), "one");
  await bad.write(new TextEncoder().encode("boom"));
  // The failing connection is closed by the loop...
  assertEquals(await bad.read(new Uint8Array(8)), null);
  assertEquals(errors.length, 1);
  assertEquals((errors[0]!.error as Error).message, "handler failed");
  assertEquals(errors[0]!.token, 2);
  assertFalse(loop.has(2));
  // ...and everyone else is still served.
  await good.write(new TextEncoder().encode("two"));
  assertEquals(new TextDecoder().decode(await readExactly(good, 3)), "two");
  assert(loop.has(0) && loop.has(1));
  assertEquals(loop.metrics().handlerErrors, 1);
  loop.stop();
  await running;
});

Deno.test("a throwing timer callback is reported and the loop goes on", async () => {
  const errors: (Token | undefined)[] = [];
  await using loop = new EventLoop({
    onError: (_error, token) => errors.push(token),
  });
  let after = false;
  loop.addTimer(1, () => {
    throw new Error("timer failed");
  });
  loop.addTimer(5, () => {
    after = true;
    loop.stop();
  });
  await loop.run();
  assert(after);
  assertEquals(errors, [undefined]);
});

Deno.test("stop() and dispose with live connections leave nothing open", async () => {
  const loop = new EventLoop();
  const port = listenOnLoop(loop); // an echo server, its listener under token 0
  const running = loop.run();
  const clients = await Promise.all(
    Array.from({ length: 5 }, () => Deno.connect({ hostname: HOST, port })),
  );
  try {
    for (const c of clients) {
      await c.write(new Uint8Array([1, 2, 3]));
      assertEquals(await readExactly(c, 3), new Uint8Array([1, 2, 3]));
    }
    assertEquals(loop.metrics().registeredSources, 6);
    loop.stop();
    loop.stop(); // idempotent
    await running;
    // Stopped, not closed: sources stay registered until dispose.
    assertEquals(loop.metrics().registeredSources, 6);
    await loop[Symbol.asyncDispose]();
    assertEquals(loop.metrics().registeredSources, 0);
    for (const c of clients) {
      const r = await c.read(new Uint8Array(8)).catch((e) => e);
      assert(r === null || r instanceof Deno.errors.ConnectionReset);
    }
    await assertRejects(() => loop.run(), TypeError, "disposed");
    assertThrows(
      () => loop.register(new Timer(1), 1, Interest.READABLE, () => {}),
      TypeError,
      "disposed",
    );
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("run() rejects while running and stops on its signal", async () => {
  await using loop = new EventLoop();
  const controller = new AbortController();
  const running = loop.run({ signal: controller.signal });
  assert(loop.running);
  await assertRejects(() => loop.run(), TypeError, "already running");
  loop.addTimer(2, () => controller.abort());
  await running;
  assertFalse(loop.running);
  // An aborted signal returns at once.
  await loop.run({ signal: controller.signal });
});

Deno.test("listener sources: pause accepting with Interest.NONE, resume with READABLE", async () => {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted: Deno.Conn[] = [];
  loop.register(listener, 0, Interest.READABLE, (event) => {
    if (event.conn) accepted.push(event.conn);
  });
  const running = loop.run();
  using a = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await waitFor(() => accepted.length === 1, 5000, "the first accept");
  loop.reregister(0, Interest.NONE);
  using b = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await new Promise((r) => setTimeout(r, 30));
  // An accept already in flight completes but is held until READABLE.
  assertEquals(accepted.length, 1);
  loop.reregister(0, Interest.READABLE);
  await waitFor(() => accepted.length === 2, 5000, "the resumed accept");
  for (const c of accepted) c.close();
  assert(a && b);
  loop.stop();
  await running;
});

Deno.test("listener sources: accept errors back off, resets are retried, closing ends it", async () => {
  // A stand-in listener scripted with the errors Deno's accept() throws.
  const emfile = Object.assign(new Error("Too many open files"), {
    code: "EMFILE",
  });
  const conn = {
    read: () => new Promise<number | null>(() => {}),
    write: () => Promise.resolve(0),
    close: () => {},
  } as unknown as Deno.Conn;
  const script: (() => Promise<Deno.Conn>)[] = [
    () => Promise.reject(new Deno.errors.ConnectionReset("reset")),
    () => Promise.reject(emfile),
    () => Promise.resolve(conn),
    () =>
      Promise.reject(new Deno.errors.BadResource("Listener has been closed")),
  ];
  const times: number[] = [];
  const fake = {
    accept: () => {
      times.push(performance.now());
      return script.shift()?.() ?? new Promise<Deno.Conn>(() => {});
    },
    close: () => {},
    addr: { transport: "tcp", hostname: HOST, port: 1 },
  } as unknown as Deno.Listener;
  await using loop = new EventLoop({ acceptErrorDelayMs: 30 });
  const events: {
    error: string | undefined;
    closed: boolean;
    conn: boolean;
  }[] = [];
  loop.register(fake, 0, Interest.READABLE, (event, loop) => {
    events.push({
      error: event.error?.name,
      closed: event.closed,
      conn: event.conn === conn,
    });
    if (event.closed) loop.stop();
  });
  await loop.run();
  assertEquals(events, [
    { error: "Error", closed: false, conn: false },
    { error: undefined, closed: false, conn: true },
    { error: "BadResource", closed: true, conn: false },
  ]);
  assertEquals(times.length, 4);
  // The reset was retried at once; the EMFILE waited acceptErrorDelayMs.
  assertGreaterOrEqual(times[2]! - times[1]!, 25);
  assertFalse(loop.has(0));
  assertEquals(loop.metrics().acceptErrors, 3);
});

Deno.test("spawnCompute hands tasks to the attached runner and aborts them on dispose", async () => {
  const loop = new EventLoop();
  await assertRejects(
    () => loop.spawnCompute("sum", [1, 2]),
    TypeError,
    "no compute runner is attached",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => loop.attachCompute({} as any),
    TypeError,
    "must have a run() method",
  );
  const calls: { name: string; input: unknown; priority: unknown }[] = [];
  let signal: AbortSignal | undefined;
  loop.attachCompute({
    run(name, input, options) {
      calls.push({ name, input, priority: options?.priority });
      if (name === "sum") {
        return Promise.resolve((input as number[]).reduce((a, b) => a + b));
      }
      signal = options?.signal;
      return new Promise((_, reject) => {
        options?.signal?.addEventListener(
          "abort",
          () => reject(signal!.reason),
        );
      });
    },
  });
  assertEquals(await loop.spawnCompute("sum", [1, 2, 3], { priority: 2 }), 6);
  const hanging = loop.spawnCompute("forever", null);
  assertEquals(loop.metrics().pendingCompute, 1);
  await loop[Symbol.asyncDispose]();
  await assertRejects(() => hanging, DOMException, "disposed");
  assert(signal?.aborted);
  assertEquals(loop.metrics().pendingCompute, 0);
  assertEquals(calls.map((c) => c.name), ["sum", "forever"]);
  assertEquals(calls[0]!.priority, 2);
});

Deno.test("idle connections pin small pooled buffers that return to the pool on close", async () => {
  await using loop = new EventLoop();
  const pool = loop.bufferPool;
  const port = listenOnLoop(loop); // an echo server, its listener under token 0
  const running = loop.run();
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => Deno.connect({ hostname: HOST, port })),
  );
  try {
    for (const c of clients) {
      await c.write(new Uint8Array([5]));
      assertEquals(await readExactly(c, 1), new Uint8Array([5]));
    }
    const before = pool.metrics();
    // Every idle connection has a read pending into a 64-byte buffer.
    for (let token = 1; token <= 20; token++) await loop.close(token);
    const after = pool.metrics();
    assertGreaterOrEqual(after.buffersRetained - before.buffersRetained, 20);
    assertEquals(
      after.bytesRetained - before.bytesRetained,
      (after.buffersRetained - before.buffersRetained) * 64,
    );
  } finally {
    for (const c of clients) c.close();
  }
  loop.stop();
  await running;
});

Deno.test("write() from a handler after closing its own source is a TypeError", async () => {
  await using loop = new EventLoop();
  const port = listenOnLoop(loop); // an echo server, its listener under token 0
  const listener = 0;
  let error: unknown;
  loop.reregister(listener, Interest.READABLE, (event, loop) => {
    if (!event.conn) return;
    loop.register(event.conn, 7, Interest.READABLE, (event, loop) => {
      if (!event.data) return;
      void loop.close(event.token);
      try {
        loop.write(event.token, event.data);
      } catch (e) {
        error = e;
      }
    });
  });
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port });
  await conn.write(new Uint8Array([1]));
  assertEquals(await conn.read(new Uint8Array(4)), null);
  assert(error instanceof TypeError, String(error));
  loop.stop();
  await running;
});

Deno.test("EventLoop options follow the shared rules: sizes up to 1 GiB, whole milliseconds, a TypeError for a wrong type", () => {
  assertThrows(
    () => new EventLoop({ maxReadBufferSize: 2 ** 40 }),
    RangeError,
    "Cannot create event loop as 'maxReadBufferSize' must be an integer from 1 to 2 ** 30: received 1099511627776",
  );
  assertThrows(
    () => new EventLoop({ acceptErrorDelayMs: 1.5 }),
    RangeError,
    "'acceptErrorDelayMs' must be an integer from 0 to",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => new EventLoop({ eventsCapacity: "8" as any }),
    TypeError,
    "'eventsCapacity' must be an integer from 1 to 2 ** 20: received '8'",
  );
  assertThrows(
    () => new EventLoop({ minReadBufferSize: 4096, maxReadBufferSize: 1024 }),
    RangeError,
    "'maxReadBufferSize' must be at least 'minReadBufferSize' (4096): received 1024",
  );
});

Deno.test("the first read of a connection is twice minReadBufferSize, so a message of the minimum size is a partial read", async () => {
  // A read that fills its buffer leaves the socket marked readable in Deno
  // (tokio), and the next read is then a wasted EAGAIN syscall: with 64-byte
  // first reads, every 64-byte first message cost one (docs/design.md,
  // "Closing the last gaps").
  await using loop = new EventLoop({ minReadBufferSize: 64 });
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  using client = await Deno.connect({
    hostname: HOST,
    port: listener.addr.port,
  });
  const server = await listener.accept();
  // On loopback the bytes are in the server's receive queue once written.
  await client.write(new Uint8Array(300).fill(7));
  const sizes: number[] = [];
  loop.register(server, 1, Interest.READABLE, (event) => {
    if (event.data) sizes.push(event.data.length);
  });
  const running = loop.run();
  await waitFor(
    () => sizes.reduce((a, b) => a + b, 0) === 300,
    10_000,
    "the 300 bytes",
  );
  assertEquals(sizes[0], 128);
  await loop.close(1);
  loop.stop();
  await running;
});

Deno.test("each read's bytes arrive whole when message sizes repeat and change", async () => {
  // Reads of one size into the buffer the echo gave back reuse one view of
  // it (_conn_reader.ts viewOf): a view kept from an earlier size, or from
  // another buffer, must never be handed out.
  await using loop = new EventLoop();
  const seen: number[] = [];
  const port = listenOnLoop(loop, (event, loop) => {
    if (event.data) {
      seen.push(event.data.length);
      loop.write(event.token, event.data);
    } else if (event.readClosed) void loop.close(event.token);
  });
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  client.setNoDelay(true);
  // All under minReadBufferSize (64): each message is one read.
  const sizes = [3, 3, 3, 3, 5, 5, 5, 3, 3, 1, 1, 1, 60, 3, 3, 3];
  for (const [i, size] of sizes.entries()) {
    const msg = new Uint8Array(size).map((_, j) => (i * 31 + j) & 255);
    await client.write(msg);
    // A wrong view echoes the wrong number of bytes: fail, do not hang.
    const echoed = await within(
      readExactly(client, size),
      5_000,
      `the echo of message ${i}`,
    );
    assertEquals(echoed, msg, `message ${i}`);
  }
  assertEquals(seen, sizes);
  loop.stop();
  await running;
});
