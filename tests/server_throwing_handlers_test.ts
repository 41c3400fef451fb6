// Hostile handlers: callbacks that throw (in every callback, with every kind
// of thrown value), sends to connections that are gone, zero-byte and huge
// writes. The promise under test: a throwing callback costs one connection,
// never the listener, the process or the other peers.
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import {
  ConnectionNotFoundError,
  type NetworkHandler,
  type ServerContext,
} from "../net/mod.ts";
import {
  closeQuietly,
  connect,
  decoder,
  echoOnce,
  echoOnNewConnection,
  encoder,
  firstDifference,
  pattern,
  readExactly,
  readToEnd,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

type Callback = "onConnect" | "onData" | "onWritable" | "onDisconnect";

/**
 * A server whose connection 1 (the victim) makes `where` throw `thrown`;
 * every other connection is an echo. `onError` itself throws too.
 */
function victimHandler(where: Callback, thrown: () => unknown): NetworkHandler {
  const boom = (id: number) => {
    if (id === 1) throw thrown();
  };
  return {
    onConnect(_ctx, id) {
      if (where === "onConnect") boom(id);
    },
    onData(ctx, id, data) {
      if (id === 1 && where === "onWritable") {
        // Far above the high-water mark: sendTo returns false, onWritable
        // follows once the peer read enough.
        ctx.sendTo(id, new Uint8Array(256 * 1024));
        return;
      }
      if (where === "onData") boom(id);
      ctx.sendTo(id, data);
    },
    onWritable(_ctx, id) {
      if (where === "onWritable") boom(id);
    },
    onDisconnect(_ctx, id) {
      if (where === "onDisconnect") boom(id);
    },
    onError() {
      throw new Error("onError throws as well");
    },
  };
}

/** Drives the victim through the callback under test, then checks everyone. */
async function throwCostsOneConnection(
  where: Callback,
  thrown: () => unknown,
): Promise<void> {
  // maxConnections 2: if a throw left a connection counted, or kept the
  // server from resuming accepts, the later bystanders could not get in.
  await using h = startServer(victimHandler(where, thrown), {
    maxConnections: 2,
    writeHighWaterMark: 4096,
    writeLowWaterMark: 1024,
  });
  const victim = await connect(h.port);
  try {
    await waitFor(() => h.seen.connects.includes(1), 5000, "victim accepted");
    const bystander = await connect(h.port);
    try {
      await echoOnce(bystander, "before");
      if (where === "onData" || where === "onWritable") {
        await writeAll(victim, encoder.encode("trigger"));
      }
      if (where === "onDisconnect") victim.close();
      else {
        // The victim is closed by the server: it reads to end of stream.
        const { bytes } = await within(
          readToEnd(victim),
          10_000,
          "victim cut",
        );
        if (where === "onWritable") assert(bytes.length > 0);
        else assertEquals(bytes.length, 0);
      }
      await waitFor(() => h.reasonOf(1) !== undefined, 5000, "victim gone");
      assertEquals(
        h.reasonOf(1),
        where === "onDisconnect" ? "peer closed" : "handler error",
      );
      assertGreaterOrEqual(h.server.stats().handlerErrors, 1);
      // The listener is alive and a new peer is served next to the bystander.
      await echoOnce(bystander, "after");
      await echoOnNewConnection(h.port, "late", 5000);
    } finally {
      bystander.close();
    }
    await waitFor(
      () => h.server.connectionCount === 0,
      5000,
      "connectionCount back to 0",
    );
    assertEquals(h.server.stats().state, "listening");
  } finally {
    if (where !== "onDisconnect") closeQuietly(victim);
  }
}

for (
  const where of ["onConnect", "onData", "onWritable", "onDisconnect"] as const
) {
  Deno.test(`hostile handler: ${where} that throws costs one connection`, async () => {
    await throwCostsOneConnection(where, () => new Error(`${where} boom`));
  });
}

// Non-Error values that String() can print.
const ODD_VALUES: [string, () => unknown][] = [
  ["a string", () => "boom"],
  ["undefined", () => undefined],
  ["null", () => null],
  ["a number", () => 42],
  ["a symbol", () => Symbol("boom")],
  ["a plain object", () => ({ code: "EBOOM" })],
];

for (const [what, thrown] of ODD_VALUES) {
  Deno.test(`hostile handler: onData throwing ${what} costs one connection`, async () => {
    await throwCostsOneConnection("onData", thrown);
  });
}

Deno.test("hostile handler: onListening and onShutdown that throw do not stop the server", async () => {
  const errors: string[] = [];
  const handler: NetworkHandler = {
    onListening() {
      throw new Error("onListening boom");
    },
    onShutdown() {
      throw new Error("onShutdown boom");
    },
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
    onError(_ctx, error) {
      errors.push(error.message);
    },
  };
  const h = startServer(handler);
  const peer = await connect(h.port);
  try {
    await echoOnce(peer, "still serving");
    // Graceful shutdown with a throwing onShutdown still ends the peer.
    const result = h.server.shutdown({ timeoutMs: 3000 });
    const { bytes } = await within(readToEnd(peer), 10_000, "EOF at shutdown");
    assertEquals(bytes.length, 0);
    peer.close();
    const { closedGracefully, forced } = await within(
      result,
      10_000,
      "shutdown",
    );
    assertEquals(closedGracefully + forced, 1);
  } finally {
    closeQuietly(peer);
    await h[Symbol.asyncDispose]();
  }
  assert(errors.includes("onListening boom"), JSON.stringify(errors));
  assert(errors.includes("onShutdown boom"), JSON.stringify(errors));
});

Deno.test("hostile handler: sendTo and friends on a closed or unknown id throw ConnectionNotFoundError", async () => {
  let ctxRef: ServerContext | undefined;
  const inDisconnect: unknown[] = [];
  await using h = startServer({
    onConnect(ctx) {
      ctxRef = ctx;
    },
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
    onDisconnect(ctx, id) {
      // The departing id is no longer open: sending to it must be a clean
      // error, not a crash or a write to a closed descriptor.
      try {
        ctx.sendTo(id, "bye");
        inDisconnect.push("sent");
      } catch (error) {
        inDisconnect.push(error);
      }
    },
  });
  const peer = await connect(h.port);
  await echoOnce(peer, "x");
  peer.close();
  await waitFor(() => h.server.connectionCount === 0, 5000, "peer gone");
  const ctx = ctxRef!;
  for (const id of [1, 0, -1, 2 ** 53, NaN, 999]) {
    const error = assertThrows(() => ctx.sendTo(id, "x"));
    assertInstanceOf(error, ConnectionNotFoundError);
    assertThrows(() => ctx.setData(id, 1), ConnectionNotFoundError);
    assertThrows(() => ctx.remoteAddr(id), ConnectionNotFoundError);
    assertEquals(ctx.closeConnection(id), false);
    assertEquals(ctx.has(id), false);
    assertEquals(ctx.getData(id), undefined);
  }
  assertEquals(inDisconnect.length, 1);
  assertInstanceOf(inDisconnect[0], ConnectionNotFoundError);
  assertEquals(ctx.broadcast("nobody"), 0);
  // The server is unharmed.
  using again = await connect(h.port);
  await echoOnce(again, "again");
});

Deno.test("hostile handler: zero-byte sendTo and broadcast are no-ops between real bytes", async () => {
  await using h = startServer({
    onData(ctx, id, data) {
      const text = decoder.decode(data);
      for (const ch of text) {
        assertEquals(ctx.sendTo(id, new Uint8Array(0)), true);
        assertEquals(ctx.sendTo(id, ""), true);
        ctx.sendTo(id, ch);
        ctx.sendTo(id, new Uint8Array(new ArrayBuffer(8), 8, 0));
        ctx.broadcast(new Uint8Array(0));
      }
    },
  });
  const peer = await connect(h.port);
  try {
    await writeAll(peer, encoder.encode("abc"));
    assertEquals(decoder.decode(await readExactly(peer, 3)), "abc");
    await writeAll(peer, encoder.encode("de"));
    assertEquals(decoder.decode(await readExactly(peer, 2)), "de");
    // Nothing else arrives: the next bytes are the next echo.
    await writeAll(peer, encoder.encode("f"));
    assertEquals(decoder.decode(await readExactly(peer, 1)), "f");
  } finally {
    peer.close();
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "peer gone");
  assertEquals(h.server.stats().handlerErrors, 0);
});

Deno.test("hostile handler: one 64 MiB sendTo arrives byte-exact; a 16 MiB upload echoes byte-exact", async () => {
  const SIZE = 64 * 1024 * 1024;
  const big = pattern(SIZE, 7);
  await using h = startServer({
    onData(ctx, id, data) {
      if (decoder.decode(data) === "GO") ctx.sendTo(id, big);
      else ctx.sendTo(id, data);
    },
  }, { maxWriteBuffer: 128 * 1024 * 1024 });
  const down = await connect(h.port);
  try {
    await writeAll(down, encoder.encode("GO"));
    const got = await within(
      readExactly(down, SIZE),
      60_000,
      "64 MiB download",
    );
    assertEquals(firstDifference(got, big), -1);
  } finally {
    down.close();
  }
  // Echo of a big upload with the default 1 MiB maxWriteBuffer: the server
  // paces the sender (read backpressure) instead of cutting it as a slow
  // consumer.
  await using e = startServer({
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
  });
  const UP = 16 * 1024 * 1024;
  const upload = pattern(UP, 3);
  const up = await connect(e.port);
  try {
    const [, echoed] = await within(
      Promise.all([writeAll(up, upload), readExactly(up, UP)]),
      60_000,
      "16 MiB echo",
    );
    assertEquals(firstDifference(echoed, upload), -1);
  } finally {
    up.close();
  }
  await waitFor(() => e.server.connectionCount === 0, 5000, "peer gone");
  assertEquals(e.server.stats().disconnects["slow consumer"], 0);
  assertEquals(e.server.stats().bytesReceived, UP);
});

// ----------------------------------------------- values String() cannot print

// Regression tests (found by the hostile suite, fixed in be21ca2): a callback
// that throws a value String() cannot convert (a null-prototype object, an
// object whose toString throws) once escaped the server's catch blocks, so
// from onConnect it closed the LISTENER (every later peer refused) and from
// onData it left the connection counted forever. It must cost one
// connection, like any other throw.
const UNPRINTABLE: [string, () => unknown][] = [
  ["a null-prototype object", () => Object.create(null)],
  ["an object whose toString throws", () => ({
    toString() {
      throw new Error("no");
    },
  })],
  ["a revoked proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  }],
];

for (const [what, thrown] of UNPRINTABLE) {
  Deno.test(`hostile handler: onConnect throwing ${what} costs one connection, not the listener`, async () => {
    await using h = startServer({
      onConnect(_ctx, id) {
        if (id === 1) throw thrown();
      },
      onData(ctx, id, data) {
        ctx.sendTo(id, data);
      },
    });
    const victim = await connect(h.port);
    try {
      await within(readToEnd(victim), 5000, "victim cut");
    } finally {
      victim.close();
    }
    await waitFor(() => h.seen.connects.includes(1), 5000, "victim accepted");
    const next = await connect(h.port);
    try {
      await within(echoOnce(next, "next"), 5000, "next peer served");
    } finally {
      next.close();
    }
    await waitFor(() => h.server.connectionCount === 0, 5000, "count 0");
  });

  Deno.test(`hostile handler: onData throwing ${what} removes the connection`, async () => {
    await using h = startServer({
      onData(ctx, id, data) {
        if (id === 1) throw thrown();
        ctx.sendTo(id, data);
      },
    }, { maxConnections: 1 });
    const victim = await connect(h.port);
    try {
      await writeAll(victim, encoder.encode("x"));
      await within(readToEnd(victim), 5000, "victim cut");
    } finally {
      victim.close();
    }
    // onDisconnect("handler error") and the slot freed (maxConnections 1).
    await waitFor(() => h.server.connectionCount === 0, 3000, "count 0");
    assertEquals(h.reasonOf(1), "handler error");
    using next = await connect(h.port);
    await within(echoOnce(next, "next"), 5000, "next peer served");
  });
}
