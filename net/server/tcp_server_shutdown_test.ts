// TcpServer's shutdown: graceful and forced, disposal and run() signals,
// closing with flush, and peers that never read.
import { assert, assertEquals, assertLess, assertThrows } from "@std/assert";
import { EventLoop } from "../../reactor/event_loop.ts";
import type { DisconnectReason } from "./network_handler.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import {
  connectTo,
  decoder,
  echoHandler as echo,
  encoder,
  readAll,
  readN,
  runOnLoop,
  serveTcp as serve,
  stopOnLoop,
  waitFor,
  within,
} from "../../tests/_helpers.ts";

Deno.test("TcpServer graceful shutdown flushes, tells handlers and forces the stragglers", async () => {
  const BIG = 2 * 1024 * 1024;
  const reasons: DisconnectReason[] = [];
  let shutdownCalls = 0;
  const { server, running } = serve({
    onData() {},
    onShutdown(ctx) {
      shutdownCalls++;
      ctx.broadcast("bye\n");
    },
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
  }, { maxWriteBuffer: Infinity });
  const polite = await connectTo(server.addr); // reads everything, then closes
  const stubborn = await connectTo(server.addr); // never closes
  await waitFor(() => server.connectionCount === 2, 2000, "accepted");
  // A big queued write must be flushed before end of stream.
  server.context.sendTo(1, new Uint8Array(BIG).fill(1));
  const result = server.shutdown({ timeoutMs: 300 });
  const politeBytes = await within(readAll(polite), 10_000, "polite EOF");
  polite.close();
  assertEquals(politeBytes.length, BIG + 4);
  assertEquals(decoder.decode(politeBytes.subarray(BIG)), "bye\n");
  // The server no longer accepts.
  let refused = false;
  try {
    (await connectTo(server.addr)).close();
  } catch (error) {
    refused = error instanceof Deno.errors.ConnectionRefused;
  }
  assert(refused);
  assertEquals(await result, { closedGracefully: 1, forced: 1 });
  await running;
  assertEquals(shutdownCalls, 1);
  assertEquals(reasons, ["shutdown", "shutdown"]);
  // The stubborn one saw "bye", then EOF (half-close), then the close.
  assertEquals(decoder.decode(await readAll(stubborn)), "bye\n");
  stubborn.close();
  assertEquals(server.stats().state, "closed");
  // Idempotent.
  assertEquals(await server.shutdown(), { closedGracefully: 1, forced: 1 });
});

Deno.test("TcpServer forced shutdown closes live clients at once", async () => {
  const reasons: DisconnectReason[] = [];
  const { server, running } = serve({
    ...echo,
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
  });
  const conns = [
    await connectTo(server.addr),
    await connectTo(server.addr),
    await connectTo(server.addr),
  ];
  await waitFor(() => server.connectionCount === 3, 2000, "accepted");
  const result = await server.shutdown({ force: true, timeoutMs: 60_000 });
  assertEquals(result, { closedGracefully: 0, forced: 3 });
  assertEquals(reasons, ["shutdown", "shutdown", "shutdown"]);
  await running;
  for (const conn of conns) {
    assertEquals((await readAll(conn)).length, 0);
    conn.close();
  }
});

Deno.test("TcpServer: a second forcing shutdown cuts the graceful wait short", async () => {
  const { server, running } = serve(echo);
  const conn = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 1, 2000, "accepted");
  const start = performance.now();
  const graceful = server.shutdown({ timeoutMs: 60_000 });
  const forced = server.shutdown({ force: true });
  assertEquals(await graceful, { closedGracefully: 0, forced: 1 });
  assertEquals(await forced, { closedGracefully: 0, forced: 1 });
  assertLess(performance.now() - start, 60_000);
  await running;
  conn.close();
});

Deno.test("TcpServer is AsyncDisposable and a run() signal shuts it down", async () => {
  const controller = new AbortController();
  {
    await using server = new TcpServer(new TcpServerConfig(), echo);
    const running = server.run({ signal: controller.signal });
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode("z"));
    await readN(conn, 1);
    controller.abort();
    assertEquals((await readAll(conn)).length, 0); // end of stream
    conn.close();
    await running;
    assertEquals(server.stats().state, "closed");
  }
  {
    const server = new TcpServer(new TcpServerConfig(), echo);
    const running = server.run();
    await server[Symbol.asyncDispose]();
    await running;
    assertEquals(server.stats().state, "closed");
  }
});

Deno.test("TcpServer: a peer that never reads cannot pin a closing connection or stall shutdown", async () => {
  for (const force of [true, false]) {
    // closeConnection({ flush: true }) towards a peer that never reads: the
    // flush is bounded, and a shutdown does not wait for it past its deadline.
    const reasons: DisconnectReason[] = [];
    const { server, running } = serve({
      onData(ctx, id) {
        ctx.sendTo(id, new Uint8Array(8 * 1024 * 1024)); // more than socket buffers hold
        ctx.closeConnection(id, { flush: true });
      },
      onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
    }, { maxWriteBuffer: Infinity });
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode("give"));
    await waitFor(() => reasons.length === 1, 2000, "closed");
    assertEquals(reasons, ["closed"]);
    assertEquals(server.connectionCount, 0);
    const result = await within(
      server.shutdown({ force, timeoutMs: 100 }),
      4500, // below the 5 s bound of a closing connection's flush
      `${force ? "forced" : "graceful"} shutdown`,
    );
    assertEquals(result, { closedGracefully: 0, forced: 0 });
    await running;
    conn.close();
  }
  for (const force of [true, false]) {
    // A peer that half-closes without reading its replies: reads are paused
    // by backpressure, so the server keeps the connection (bounded queue)
    // until the shutdown deadline forces it.
    const { server, running } = serve({
      onData(ctx, id) {
        ctx.sendTo(id, new Uint8Array(8 * 1024 * 1024));
      },
    }, { maxWriteBuffer: Infinity });
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode("give"));
    await waitFor(() => server.stats().bytesQueued > 0, 2000, "queued");
    await conn.closeWrite();
    const result = await within(
      server.shutdown({ force, timeoutMs: 100 }),
      4500,
      `${force ? "forced" : "graceful"} shutdown`,
    );
    assertEquals(result, { closedGracefully: 0, forced: 1 });
    await running;
    conn.close();
  }
});

Deno.test("TcpServer: closing with flush gives up on a peer that never reads after 5 s", async () => {
  const loop = new EventLoop();
  const server = new TcpServer(
    new TcpServerConfig({ maxWriteBuffer: Infinity }),
    {
      onData(ctx, id) {
        ctx.sendTo(id, new Uint8Array(8 * 1024 * 1024));
        ctx.closeConnection(id, { flush: true });
      },
    },
  );
  const running = runOnLoop(server, loop);
  const conn = await connectTo(server.addr);
  await conn.write(encoder.encode("give"));
  await waitFor(() => server.stats().closed === 1, 2000, "closed");
  // The lingering connection, deregistered at once, keeps trying to write
  // its queue for a while...
  assertEquals(loop.metrics().registeredSources, 1);
  assertEquals(loop.metrics().closingSources, 1);
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(loop.metrics().closingSources, 1);
  // ...and is then closed although the peer never read.
  await waitFor(
    () => loop.metrics().closingSources === 0,
    15_000,
    "linger bound",
  );
  conn.close();
  await stopOnLoop(server, loop, running);
});

Deno.test("TcpServer.shutdown() bounds timeoutMs (Infinity would fire at once)", async () => {
  const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
    onData() {},
  });
  const running = server.run();
  assertThrows(
    () => server.shutdown({ timeoutMs: Infinity }),
    RangeError,
    "Cannot shut down server as 'timeoutMs' must be a number from 0 to 2147483647: received Infinity",
  );
  assertThrows(
    () => server.shutdown({ timeoutMs: -1 }),
    RangeError,
    "received -1",
  );
  await server.shutdown({ timeoutMs: 100 });
  await running;
});
