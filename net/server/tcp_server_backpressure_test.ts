// TcpServer's write side under load: ordered concurrent sends, broadcast,
// slow consumers cut at maxWriteBuffer, the high-water mark and onWritable,
// and pacing a peer that sends faster than it reads.
import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertLessOrEqual,
} from "@std/assert";
import { EventLoop } from "../../reactor/event_loop.ts";
import type { DisconnectReason } from "./network_handler.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import {
  connectTo,
  decoder,
  encoder,
  readN,
  runOnLoop,
  serveTcp as serve,
  stopOnLoop,
  stopTcp as stop,
  waitFor,
  within,
} from "../../tests/_helpers.ts";

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
  const running = runOnLoop(server, loop);
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
  assertEquals((await stopOnLoop(server, loop, running)).forced <= N, true);
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
