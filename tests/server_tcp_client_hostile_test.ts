// Hostile servers against TcpClient: a server that floods, one that never
// answers, one that vanishes, one that resets; and a client handler that
// throws. The client must deliver every byte, cut idle links, back off and
// give up as configured, and never take the process down.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { type DisconnectReason, NetError, TcpClient } from "../net/mod.ts";
import {
  firstDifference,
  HOST,
  pattern,
  readExactly,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

interface Recorder {
  chunks: Uint8Array[];
  bytes: number;
  disconnects: DisconnectReason[];
  errors: Error[];
}

function recorder(): Recorder {
  return { chunks: [], bytes: 0, disconnects: [], errors: [] };
}

/** A raw listener whose accepted conns go to `serve`. */
function rawServer(serve: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      tasks.push(
        serve(conn).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* closed */ }
        }),
      );
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      await Promise.all(tasks);
    },
  };
}

Deno.test("hostile client: a server flooding 32 MiB is received byte-exact", async () => {
  const SIZE = 32 * 1024 * 1024;
  const data = pattern(SIZE, 9);
  const server = rawServer(async (conn) => {
    await writeAll(conn, data);
    await readExactly(conn, 2); // wait for the client's "ok"
  });
  const rec = recorder();
  const received = new Uint8Array(SIZE);
  const client = new TcpClient({
    onData(ctx, id, chunk) {
      received.set(chunk, rec.bytes); // throws past SIZE: a failure
      rec.bytes += chunk.length;
      if (rec.bytes === SIZE) ctx.sendTo(id, "ok");
    },
    onDisconnect(_ctx, _id, reason) {
      rec.disconnects.push(reason);
    },
  });
  try {
    await client.connect({ hostname: HOST, port: server.port });
    await waitFor(() => rec.disconnects.length > 0, 30_000, "server done");
    assertEquals(rec.bytes, SIZE);
    assertEquals(firstDifference(received, data), -1);
    assertEquals(rec.disconnects, ["peer closed"]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("hostile client: a server that never answers is cut by the idle timeout", async () => {
  const release = Promise.withResolvers<void>();
  const server = rawServer(() => release.promise);
  const rec = recorder();
  const client = new TcpClient({
    onData() {},
    onDisconnect(_ctx, _id, reason) {
      rec.disconnects.push(reason);
    },
  }, { idleTimeoutMs: 200 });
  try {
    await client.connect({ hostname: HOST, port: server.port });
    await waitFor(() => rec.disconnects.length > 0, 10_000, "idle cut");
    assertEquals(rec.disconnects, ["idle timeout"]);
    assertEquals(client.connected, false);
    assertThrows(() => client.send("x"), NetError);
  } finally {
    release.resolve();
    await client.close();
    await server.close();
  }
});

Deno.test("hostile client: a server that vanishes makes the client back off and give up after maxAttempts", async () => {
  let accepted = 0;
  const server = rawServer(async (conn) => {
    accepted++;
    await conn.write(new TextEncoder().encode("hi"));
  });
  const rec = recorder();
  const MAX = 4;
  const client = new TcpClient({
    onData() {},
    onDisconnect(_ctx, _id, reason) {
      rec.disconnects.push(reason);
    },
    onError(_ctx, error) {
      rec.errors.push(error);
    },
  }, { reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: MAX } });
  try {
    await client.connect({ hostname: HOST, port: server.port });
    await waitFor(() => accepted === 1, 5000, "first accept");
    await server.close(); // the port now refuses
    await waitFor(
      () => rec.errors.some((e) => e.message.includes("maxAttempts")),
      20_000,
      "give up",
    );
    const refused = rec.errors.filter((e) =>
      e instanceof Deno.errors.ConnectionRefused
    );
    assertEquals(refused.length, MAX);
    assertEquals(client.connected, false);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("hostile client: resets from the server and a throwing client handler cost the connection only", async () => {
  const server = rawServer(async (conn) => {
    await conn.write(new TextEncoder().encode("boom"));
    // Then read until the client goes.
    const buf = new Uint8Array(1024);
    while ((await conn.read(buf).catch(() => null)) !== null) { /* drain */ }
  });
  const rec = recorder();
  const client = new TcpClient({
    onData() {
      throw new Error("client handler boom");
    },
    onDisconnect(_ctx, _id, reason) {
      rec.disconnects.push(reason);
    },
    onError(_ctx, error) {
      rec.errors.push(error);
    },
  });
  try {
    await client.connect({ hostname: HOST, port: server.port });
    await waitFor(() => rec.disconnects.length > 0, 10_000, "handler error");
    assertEquals(rec.disconnects, ["handler error"]);
    assertInstanceOf(rec.errors[0], Error);
    assertEquals(rec.errors[0]!.message, "client handler boom");
    assertEquals(client.connected, false);
  } finally {
    await client.close();
    await server.close();
  }
  // A second client against a server that resets at once.
  const resetter = rawServer(async (conn) => {
    // Close with unread data: RST.
    await new Promise((r) => setTimeout(r, 20));
    conn.close();
  });
  const rec2 = recorder();
  const client2 = new TcpClient({
    onData() {},
    onDisconnect(_ctx, _id, reason) {
      rec2.disconnects.push(reason);
    },
  });
  try {
    await client2.connect({ hostname: HOST, port: resetter.port });
    client2.send(new Uint8Array(100_000));
    await waitFor(() => rec2.disconnects.length > 0, 10_000, "reset seen");
    assert(
      ["reset", "peer closed"].includes(rec2.disconnects[0]!),
      rec2.disconnects[0],
    );
  } finally {
    await client2.close();
    await resetter.close();
  }
});

Deno.test("hostile client: connecting to a closed port rejects cleanly and leaves nothing behind", async () => {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = l.addr.port;
  l.close();
  const client = new TcpClient({ onData() {} });
  const error = await assertRejects(
    () => within(client.connect({ hostname: HOST, port }), 10_000, "connect"),
  );
  assertInstanceOf(error, Deno.errors.ConnectionRefused);
  assertEquals(client.connected, false);
  await client.close();
});
