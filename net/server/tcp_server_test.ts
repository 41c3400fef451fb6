import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertInstanceOf,
  assertLess,
  assertLessOrEqual,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { EventLoop } from "../../reactor/event_loop.ts";
import { ConnectionNotFoundError, NetError } from "../errors.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";
import {
  connectTo,
  decoder,
  echoHandler as echo,
  encoder,
  readAll,
  readN,
  readUntilText,
  waitFor,
  within,
} from "../../tests/_helpers.ts";
import { peer } from "../../tests/_peers.ts";

function serve<T>(
  handler: NetworkHandler<T>,
  options: TcpServerConfigOptions = {},
): { server: TcpServer<T>; running: Promise<void> } {
  const server = new TcpServer<T>(new TcpServerConfig(options), handler);
  const running = server.run();
  return { server, running };
}

async function stop(
  server: TcpServer<unknown> | TcpServer<never>,
  running: Promise<void>,
) {
  await (server as TcpServer<unknown>).close();
  await running;
}

Deno.test("TcpServer echoes; ids count from 1, are never reused and are not loop tokens", async () => {
  const ids: number[] = [];
  const disconnected: number[] = [];
  const { server, running } = serve({
    ...echo,
    onConnect: (_ctx, id) => void ids.push(id),
    onDisconnect: (_ctx, id) => void disconnected.push(id),
  });
  for (let round = 0; round < 3; round++) {
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode(`round ${round}`));
    assertEquals(decoder.decode(await readN(conn, 7)), `round ${round}`);
    conn.close();
    await waitFor(() => disconnected.length === round + 1, 2000, "disconnect");
  }
  assertEquals(ids, [1, 2, 3]);
  assertEquals(disconnected, [1, 2, 3]);
  assertEquals(server.connectionCount, 0);
  const stats = server.stats();
  assertEquals(stats.accepted, 3);
  assertEquals(stats.disconnects["peer closed"], 3);
  assertEquals(stats.bytesReceived, 21);
  await stop(server, running);
  assertEquals(server.stats().state, "closed");
});

Deno.test("TcpServer keeps many concurrent sendTo calls ordered and intact per connection", async () => {
  const CLIENTS = 8;
  const FRAMES = 300;
  // Sizes from 1 byte to 48 KiB so that writes are partial and coalesced.
  const sizeOf = (seq: number) => 1 + ((seq * 7919) % 49152);
  const fill = (id: number, seq: number) => (id * 31 + seq) & 0xff;
  const { server, running } = serve({
    onData(ctx, _id, _data) {
      // The last client's "go" starts the storm: frames to every connection,
      // interleaved across connections, from one callback.
      if (ctx.connectionCount < CLIENTS) return;
      for (let seq = 0; seq < FRAMES; seq++) {
        for (const id of ctx.connectionIds()) {
          const size = sizeOf(seq);
          const frame = new Uint8Array(8 + size);
          const view = new DataView(frame.buffer);
          view.setUint32(0, seq);
          view.setUint32(4, size);
          frame.fill(fill(id, seq), 8);
          ctx.sendTo(id, frame);
          // sendTo copies: scribbling on the frame afterwards must not leak.
          frame.fill(0xee);
        }
      }
    },
  }, { maxWriteBuffer: Infinity });
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < CLIENTS; i++) conns.push(await connectTo(server.addr));
  await waitFor(() => server.connectionCount === CLIENTS, 2000, "connections");
  for (const conn of conns) await conn.write(new Uint8Array([1]));
  const ids = server.context.connectionIds();
  await within(
    Promise.all(conns.map(async (conn, index) => {
      const id = ids[index]!;
      for (let seq = 0; seq < FRAMES; seq++) {
        const header = await readN(conn, 8);
        const view = new DataView(header.buffer);
        assertEquals(view.getUint32(0), seq);
        const size = view.getUint32(4);
        assertEquals(size, sizeOf(seq));
        const body = await readN(conn, size);
        assertEquals(body.length, size);
        const expected = fill(id, seq);
        assert(
          body.every((b) => b === expected),
          `frame ${seq} of ${id} corrupt`,
        );
      }
    })),
    30_000,
    "all frames",
  );
  for (const conn of conns) conn.close();
  await stop(server, running);
});

Deno.test("TcpServer broadcast reaches 1,000 connections through one shared buffer", async () => {
  const N = 1000;
  const loop = new EventLoop();
  const written = new Set<Uint8Array>();
  const write = loop.write.bind(loop);
  loop.write = (token, bytes) => {
    written.add(bytes);
    return write(token, bytes);
  };
  let delivered = -1;
  const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
    onData(ctx, _id, data) {
      if (decoder.decode(data) === "go") {
        const message = encoder.encode("x".repeat(1023) + "\n");
        delivered = ctx.broadcast(message);
        message.fill(0); // broadcast copied it once
      }
    },
  });
  server.start(loop);
  const running = loop.run();
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < N; i++) conns.push(await connectTo(server.addr));
  await waitFor(() => server.connectionCount === N, 10_000, "1000 accepted");
  await conns[0]!.write(encoder.encode("go"));
  const got = await within(
    Promise.all(conns.map((c) => readN(c, 1024))),
    20_000,
    "broadcast",
  );
  assertEquals(delivered, N);
  assertEquals(written.size, 1);
  for (const bytes of got) {
    assertEquals(decoder.decode(bytes), "x".repeat(1023) + "\n");
  }
  for (const conn of conns) conn.close();
  assertEquals((await server.close()).forced <= N, true);
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
});

Deno.test("TcpServer cuts off a slow consumer at maxWriteBuffer while fast ones keep receiving", async () => {
  const CHUNK = 64 * 1024;
  const reasons = new Map<number, DisconnectReason>();
  let sent = 0;
  const { server, running } = serve({
    onData() {},
    onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
  }, { maxWriteBuffer: 256 * 1024, writeHighWaterMark: 64 * 1024 });
  const slow = await connectTo(server.addr); // never reads
  const fast = [await connectTo(server.addr), await connectTo(server.addr)];
  await waitFor(() => server.connectionCount === 3, 2000, "accepted");
  const ctx = server.context;
  const [slowId, ...fastIds] = ctx.connectionIds();
  const received = fast.map(() => 0);
  const readers = fast.map(async (conn, i) => {
    const buf = new Uint8Array(65536);
    while (true) {
      const r = await conn.read(buf);
      if (r === null) return;
      received[i]! += r;
    }
  });
  // Keep sending until the slow peer is cut; bounded: the kernel buffers
  // only a few MiB for a peer that does not read.
  const chunk = new Uint8Array(CHUNK).fill(7);
  for (let i = 0; i < 2000 && !reasons.has(slowId!); i++) {
    ctx.broadcast(chunk);
    sent += CHUNK;
    // Lockstep with the fast readers, however loaded the machine is: they
    // are never more than one chunk behind.
    await waitFor(() => received.every((n) => n === sent), 10_000, "fast");
  }
  assertEquals(reasons.get(slowId!), "slow consumer");
  assertFalse(ctx.has(slowId!));
  // The fast ones are still connected and get everything sent to them.
  for (const id of fastIds) assert(ctx.has(id!));
  ctx.broadcast(chunk);
  sent += CHUNK;
  await waitFor(
    () => received.every((n) => n === sent),
    10_000,
    "fast readers",
  );
  assertEquals(server.stats().disconnects["slow consumer"], 1);
  assertGreater(sent, 256 * 1024);
  await stop(server, running);
  await Promise.all(readers); // the readers see end of stream
  slow.close();
  for (const conn of fast) conn.close();
});

Deno.test("TcpServer: sendTo returns false at the high-water mark and onWritable follows the drain", async () => {
  const CHUNK = 16 * 1024;
  let queued = 0;
  let writable = 0;
  let rounds = 0;
  const fill = (
    ctx: { sendTo(id: number, b: Uint8Array): boolean },
    id: number,
  ) => {
    rounds++;
    // Producer pattern: write until told to stop, resume on onWritable.
    while (rounds <= 3) {
      queued += CHUNK;
      if (!ctx.sendTo(id, new Uint8Array(CHUNK).fill(rounds))) return;
    }
  };
  const { server, running } = serve({
    onData: (ctx, id) => fill(ctx, id),
    onWritable(ctx, id) {
      writable++;
      fill(ctx, id);
    },
  }, { writeHighWaterMark: 64 * 1024, writeLowWaterMark: 16 * 1024 });
  const conn = await connectTo(server.addr);
  await conn.write(new Uint8Array([1]));
  await waitFor(() => queued > 0, 2000, "first burst");
  // Each burst stops at the high-water mark (64 KiB = 4 chunks, plus the one
  // that crossed it), not before.
  assertGreaterOrEqual(queued, 64 * 1024);
  let got = 0;
  const buf = new Uint8Array(65536);
  while (rounds <= 3 || got < queued) {
    const n = await within(conn.read(buf), 5000, "read");
    if (n === null) break;
    got += n;
  }
  assertEquals(got, queued);
  assertEquals(writable, 3); // one drain per stopped burst
  conn.close();
  await stop(server, running);
});

Deno.test("TcpServer paces a peer that sends faster than it reads instead of cutting it", async () => {
  const TOTAL = 8 * 1024 * 1024;
  const reasons: DisconnectReason[] = [];
  let peakPending = 0;
  const { server, running } = serve({
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
      peakPending = Math.max(peakPending, server.stats().bytesPending);
    },
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
  }, { maxWriteBuffer: 1024 * 1024 });
  const conn = await connectTo(server.addr);
  // Write everything before reading anything: 8x maxWriteBuffer.
  const writing = conn.write(new Uint8Array(TOTAL).fill(3)).then(async (n) => {
    let written = n;
    while (written < TOTAL) {
      written += await conn.write(new Uint8Array(TOTAL - written).fill(3));
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  const echoed = await within(readN(conn, TOTAL), 20_000, "echo");
  await writing;
  assertEquals(echoed.length, TOTAL);
  assert(echoed.every((b) => b === 3));
  assertEquals(reasons, []);
  assertLessOrEqual(peakPending, 1024 * 1024);
  conn.close();
  await stop(server, running);
});

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
  server.start(loop);
  const running = loop.run();
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
  await server.close();
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
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
  server.start(loop);
  const running = loop.run();
  const conn = await connectTo(server.addr);
  await conn.write(new Uint8Array(200_000));
  await waitFor(() => total === 200_000, 5000, "all bytes");
  assertLessOrEqual(largest, 1024);
  conn.close();
  await server.close();
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
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

Deno.test("TcpServer: a throwing handler costs one connection only", async () => {
  const errors: [string, number | undefined][] = [];
  const reasons = new Map<number, DisconnectReason>();
  const { server, running } = serve({
    onData(ctx, id, data) {
      if (decoder.decode(data).includes("boom")) throw new Error("kaboom");
      ctx.sendTo(id, data);
    },
    onError: (_ctx, error, id) => void errors.push([error.message, id]),
    onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
  });
  const good = await connectTo(server.addr);
  const bad = await connectTo(server.addr);
  await good.write(encoder.encode("ok1"));
  assertEquals(decoder.decode(await readN(good, 3)), "ok1");
  await bad.write(encoder.encode("boom"));
  assertEquals((await readAll(bad)).length, 0);
  await waitFor(() => reasons.size === 1, 2000, "handler error");
  assertEquals(reasons.get(2), "handler error");
  assertEquals(errors, [["kaboom", 2]]);
  await good.write(encoder.encode("ok2"));
  assertEquals(decoder.decode(await readN(good, 3)), "ok2");
  assertEquals(server.stats().handlerErrors, 1);
  good.close();
  bad.close();
  await stop(server, running);
});

Deno.test("ServerContext reports unknown ids as ConnectionNotFoundError and keeps user data", async () => {
  const { server, running } = serve<{ n: number }>({
    onConnect(ctx, id) {
      ctx.setData(id, { n: 0 });
    },
    onData(ctx, id) {
      ctx.getData(id)!.n++;
    },
  });
  const conn = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 1, 2000, "accepted");
  const ctx = server.context;
  const error = assertThrows(
    () => ctx.sendTo(99, "x"),
    ConnectionNotFoundError,
  );
  assertEquals(error.connectionId, 99);
  assertEquals(error.kind, "connection-not-found");
  assertThrows(() => ctx.remoteAddr(99), ConnectionNotFoundError);
  assertThrows(() => ctx.setData(99, { n: 1 }), ConnectionNotFoundError);
  assertEquals(ctx.closeConnection(99), false);
  assertEquals(ctx.getData(99), undefined);
  assertEquals(ctx.connectionIds(), [1]);
  const local = conn.localAddr as Deno.NetAddr;
  assertEquals((ctx.remoteAddr(1) as Deno.NetAddr).port, local.port);
  await conn.write(encoder.encode("a"));
  await waitFor(() => ctx.getData(1)?.n === 1, 2000, "data counted");
  assert(ctx.closeConnection(1));
  assertEquals((await readAll(conn)).length, 0);
  assertEquals(server.stats().disconnects.closed, 1);
  conn.close();
  await stop(server, running);
});

Deno.test("TcpServer applies noDelay and keepAlive to accepted connections", async () => {
  // Spy on the TcpConn prototype: Deno offers no getsockopt.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await connectTo(probe.addr);
  const accepted = await probe.accept();
  const proto = Object.getPrototypeOf(accepted) as Deno.TcpConn;
  client.close();
  accepted.close();
  probe.close();
  const calls: string[] = [];
  const { setNoDelay, setKeepAlive } = proto;
  proto.setNoDelay = function (this: Deno.TcpConn, v?: boolean) {
    calls.push(`noDelay ${v}`);
    return setNoDelay.call(this, v);
  };
  proto.setKeepAlive = function (this: Deno.TcpConn, v?: boolean) {
    calls.push(`keepAlive ${v}`);
    return setKeepAlive.call(this, v);
  };
  try {
    const { server, running } = serve(echo, {
      noDelay: false,
      keepAlive: true,
    });
    const conn = await connectTo(server.addr);
    await waitFor(() => server.connectionCount === 1, 2000, "accepted");
    conn.close();
    await stop(server, running);
    assertEquals(calls, ["noDelay false", "keepAlive true"]);
  } finally {
    proto.setNoDelay = setNoDelay;
    proto.setKeepAlive = setKeepAlive;
  }
});

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

Deno.test("TcpServer refuses to start twice and reports bind errors", async () => {
  const { server, running } = serve(echo);
  assertThrows(() => server.start(new EventLoop()), Deno.errors.AlreadyExists);
  await assertRejects(() => server.run(), Deno.errors.AlreadyExists);
  const port = (server.addr as Deno.NetAddr).port;
  const other = new TcpServer(new TcpServerConfig({ port }), echo);
  let error: unknown;
  try {
    await other.run();
  } catch (e) {
    error = e;
  }
  assertInstanceOf(error, Deno.errors.AddrInUse);
  await stop(server, running);
  assertThrows(
    () => new TcpServer(new TcpServerConfig(), {} as NetworkHandler),
    TypeError,
    "'handler.onData' must be a function",
  );
});

Deno.test("TcpServer over a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/echo.sock`;
  const { server, running } = serve(echo, { transport: "unix", path });
  assertEquals(server.addr.transport, "unix");
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(encoder.encode("unix!"));
  assertEquals(decoder.decode(await readN(conn, 5)), "unix!");
  conn.close();
  await stop(server, running);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("TcpServer over TLS with ALPN", async () => {
  const cert = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_cert.pem", import.meta.url),
  );
  const key = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_key.pem", import.meta.url),
  );
  const { server, running } = serve(echo, {
    tls: { cert, key, alpnProtocols: ["echo/1", "h2"] },
  });
  const { port } = server.addr as Deno.NetAddr;
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [cert],
    alpnProtocols: ["echo/1"],
  });
  const info = await conn.handshake();
  assertEquals(info.alpnProtocol, "echo/1");
  await conn.write(encoder.encode("secret"));
  assertEquals(decoder.decode(await readN(conn, 6)), "secret");
  conn.close();
  await stop(server, running);
});

Deno.test("ServerContext refuses sends after the write side is shut", async () => {
  let sendError: unknown;
  const { server, running } = serve({
    onData() {},
    onShutdown(ctx) {
      ctx.sendTo(1, "last words\n");
    },
  });
  const conn = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 1, 2000, "accepted");
  const result = server.shutdown({ timeoutMs: 200 });
  try {
    server.context.sendTo(1, "too late");
  } catch (error) {
    sendError = error;
  }
  assertInstanceOf(sendError, NetError);
  assertEquals((sendError as NetError).kind, "closed");
  assertEquals(await readUntilText(conn, "last words\n"), "last words\n");
  conn.close();
  assertEquals(await result, { closedGracefully: 1, forced: 0 });
  await running;
});

Deno.test("TcpServer calls onListening and passes backlog to the listener; broadcast honours except", async () => {
  const listened: Deno.Addr[] = [];
  const seen: Deno.ListenOptions[] = [];
  const listen = Deno.listen;
  // deno-lint-ignore no-explicit-any
  (Deno as any).listen = (options: Deno.ListenOptions) => {
    seen.push(options);
    return listen(options as Deno.TcpListenOptions);
  };
  let server: TcpServer;
  let running: Promise<void>;
  try {
    ({ server, running } = serve({
      onData(ctx, id, data) {
        const text = decoder.decode(data);
        if (text === "one") ctx.broadcast("x", { except: id });
        if (text === "many") ctx.broadcast("y", { except: [1, 2] });
      },
      onListening: (_ctx, addr) => void listened.push(addr),
    }, { tcpBacklog: 7 }));
  } finally {
    // deno-lint-ignore no-explicit-any
    (Deno as any).listen = listen;
  }
  assertEquals(seen.map((o) => o.tcpBacklog), [7]);
  assertEquals(listened, [server.addr]);
  const conns = [
    await connectTo(server.addr),
    await connectTo(server.addr),
    await connectTo(server.addr),
  ];
  await waitFor(() => server.connectionCount === 3, 2000, "accepted");
  await conns[0]!.write(encoder.encode("one"));
  assertEquals(decoder.decode(await readN(conns[1]!, 1)), "x");
  assertEquals(decoder.decode(await readN(conns[2]!, 1)), "x");
  await conns[1]!.write(encoder.encode("many"));
  assertEquals(decoder.decode(await readN(conns[2]!, 1)), "y");
  await stop(server, running);
  // Connection 1 (the sender of "one", left out of "many") got nothing.
  assertEquals((await readAll(conns[0]!)).length, 0);
  assertEquals((await readAll(conns[1]!)).length, 0);
  assertEquals((await readAll(conns[2]!)).length, 0);
  for (const conn of conns) conn.close();
});

const python = peer("python3");

Deno.test({
  name: python.name(
    "TcpServer reports a peer reset as reason 'reset' and a throwing onConnect as 'handler error'",
  ),
  ignore: python.ignore,
  async fn() {
    const reasons = new Map<number, DisconnectReason>();
    const errors: string[] = [];
    const { server, running } = serve({
      onConnect(_ctx, id) {
        if (id === 2) throw new Error("no thanks");
      },
      onData() {},
      onError: (_ctx, error) => void errors.push(error.message),
      onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
    });
    // Deno cannot set SO_LINGER; a Python peer closes with linger 0 (RST).
    const { port } = server.addr as Deno.NetAddr;
    const rude = await new Deno.Command("python3", {
      args: [
        "-c",
        "import socket, struct, time\n" +
        `s = socket.create_connection(("127.0.0.1", ${port}))\n` +
        "time.sleep(0.2)\n" +
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n" +
        "s.close()\n",
      ],
    }).output();
    assert(rude.success);
    await waitFor(() => reasons.has(1), 5000, "reset");
    assertEquals(reasons.get(1), "reset");
    const refused = await connectTo(server.addr);
    await waitFor(() => reasons.has(2), 2000, "handler error");
    assertEquals(reasons.get(2), "handler error");
    assertEquals(errors, ["no thanks"]);
    assertEquals((await readAll(refused)).length, 0);
    refused.close();
    assertEquals(server.stats().disconnects.reset, 1);
    await stop(server, running);
  },
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
  server.start(loop);
  const running = loop.run();
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
  await server.close();
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
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
