// TcpServer's limits: idle timeout, maxConnections, maxReadBufferSize.
import {
  assertEquals,
  assertGreater,
  assertLess,
  assertLessOrEqual,
} from "@std/assert";
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
  stopTcp as stop,
  waitFor,
  within,
} from "../../tests/_helpers.ts";

Deno.test("TcpServer closes idle connections and keeps busy ones", async () => {
  const reasons = new Map<number, DisconnectReason>();
  const { server, running } = serve({
    ...echo,
    onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
  }, { idleTimeoutMs: 150 });
  const idle = await connectTo(server.addr);
  const busy = await connectTo(server.addr);
  const one = new Uint8Array(1);
  // The busy one talks every 30 ms for ~3 idle periods.
  for (let i = 0; i < 15; i++) {
    await busy.write(one);
    await readN(busy, 1);
    await new Promise((r) => setTimeout(r, 30));
  }
  await waitFor(() => reasons.size >= 1, 2000, "idle disconnect");
  assertEquals([...reasons.values()], ["idle timeout"]);
  assertEquals(reasons.has(1), true); // the idle one was accepted first
  assertEquals(await readAll(idle), new Uint8Array(0)); // it saw EOF
  assertEquals(server.connectionCount, 1);
  await waitFor(() => reasons.size === 2, 2000, "busy goes idle too");
  assertEquals(reasons.get(2), "idle timeout");
  idle.close();
  busy.close();
  await stop(server, running);
});

Deno.test("TcpServer idle timers re-arm lazily: no timer per byte", async () => {
  const loop = new EventLoop();
  let timers = 0;
  const addTimer = loop.addTimer.bind(loop);
  loop.addTimer = (delayMs, callback, options) => {
    timers++;
    return addTimer(delayMs, callback, options);
  };
  const server = new TcpServer(
    new TcpServerConfig({ idleTimeoutMs: 100 }),
    echo,
  );
  const running = runOnLoop(server, loop);
  const conn = await connectTo(server.addr);
  const start = performance.now();
  const messages = 300;
  for (let i = 0; i < messages; i++) {
    await conn.write(new Uint8Array([i & 0xff]));
    await readN(conn, 1);
  }
  const elapsedPeriods = Math.ceil((performance.now() - start) / 100);
  // One timer at accept, then at most one re-arm per elapsed idle period,
  // however fast or slow the machine: never one per message.
  assertLessOrEqual(timers, 2 + elapsedPeriods);
  assertLess(timers, messages);
  assertEquals(server.connectionCount, 1);
  conn.close();
  await stopOnLoop(server, loop, running);
});

Deno.test("TcpServer stops accepting at maxConnections and resumes below it", async () => {
  let connects = 0;
  const { server, running } = serve({
    ...echo,
    onConnect: () => void connects++,
  }, { maxConnections: 2 });
  const a = await connectTo(server.addr);
  const b = await connectTo(server.addr);
  await waitFor(() => connects === 2, 2000, "two accepted");
  // The kernel completes the handshake of the third (backlog); the server
  // must not accept it: no onConnect, no echo.
  const c = await connectTo(server.addr);
  await c.write(encoder.encode("third"));
  await new Promise((r) => setTimeout(r, 200));
  assertEquals(connects, 2);
  assertEquals(server.stats().state, "paused");
  assertEquals(server.stats().peakConnections, 2);
  a.close();
  assertEquals(
    decoder.decode(await within(readN(c, 5), 5000, "resume")),
    "third",
  );
  assertEquals(connects, 3);
  assertEquals(server.stats().peakConnections, 2);
  assertGreater(server.stats().acceptPauses, 0);
  b.close();
  c.close();
  await stop(server, running);
});

Deno.test("TcpServer never hands onData more than maxReadBufferSize bytes", async () => {
  let largest = 0;
  let total = 0;
  const loop = new EventLoop(); // the loop's own maximum is 64 KiB
  const server = new TcpServer(
    new TcpServerConfig({ maxReadBufferSize: 1024 }),
    {
      onData(_ctx, _id, data) {
        largest = Math.max(largest, data.length);
        total += data.length;
      },
    },
  );
  const running = runOnLoop(server, loop);
  const conn = await connectTo(server.addr);
  await conn.write(new Uint8Array(200_000));
  await waitFor(() => total === 200_000, 5000, "all bytes");
  assertLessOrEqual(largest, 1024);
  conn.close();
  await stopOnLoop(server, loop, running);
});

Deno.test("TcpServer.run() honours a tiny maxReadBufferSize too", async () => {
  let largest = 0;
  let total = 0;
  const { server, running } = serve({
    onData(_ctx, _id, data) {
      largest = Math.max(largest, data.length);
      total += data.length;
    },
  }, { maxReadBufferSize: 64 });
  const conn = await connectTo(server.addr);
  await conn.write(new Uint8Array(10_000));
  await waitFor(() => total === 10_000, 5000, "all bytes");
  assertLessOrEqual(largest, 64);
  conn.close();
  await stop(server, running);
});
