// Slow consumers and write backpressure. A peer that never reads while others
// get broadcasts is cut as a "slow consumer" once its queue passes
// maxWriteBuffer, and the readers get every byte. And one busy client: a server that answers every
// received byte with a 100-byte reply through the documented pump pattern
// (`sendTo` returns false → stop; the server stops reading; resume in
// `onWritable`). A read that completes while the connection is write-only
// must still be delivered once the queue drains (issue 9, part 1: it was
// left on the ready list and never dispatched).
import { assertEquals, assertLessOrEqual } from "@std/assert";
import { EventLoop } from "../reactor/event_loop.ts";
import { type Event, Interest } from "../reactor/mod.ts";
import type { NetworkHandler } from "../net/mod.ts";
import {
  closeQuietly,
  connect,
  firstDifference,
  HOST,
  listenOnLoop,
  pattern,
  readExactly,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

const REPLY = 100;

/** The reply to byte `b`: REPLY copies of it. */
function replyTo(b: number): Uint8Array {
  return new Uint8Array(REPLY).fill(b);
}

/** `n` request bytes of a pattern that makes a misplaced reply visible. */
function request(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) % 251;
  return out;
}

/**
 * Sends `req` in one write while reading every reply; checks each byte of
 * the replies. Fails with the count received when nothing arrives for 5 s
 * (the lost wakeup: the server stops for good).
 */
async function exchange(port: number, req: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    const writing = writeAll(conn, req);
    writing.catch(() => {}); // a stall closes the conn under it
    const expected = req.length * REPLY;
    const buf = new Uint8Array(65536);
    let got = 0;
    while (got < expected) {
      const n = await within(
        conn.read(buf),
        5000,
        `more replies after ${got} of ${expected} bytes`,
      ).catch((error) => {
        conn.close(); // settles the pending read for the sanitizer
        throw error;
      });
      if (n === null) {
        throw new Error(`EOF after ${got} of ${expected} bytes`);
      }
      for (let i = 0; i < n; i++) {
        const at = got + i;
        const want = req[Math.floor(at / REPLY)]!;
        if (buf[i] !== want) {
          throw new Error(
            `Wrong byte at ${at}: expected ${want}, received ${buf[i]}`,
          );
        }
      }
      got += n;
    }
    await writing;
    assertEquals(got, expected);
  } finally {
    try {
      conn.close();
    } catch { /* closed on a stall */ }
  }
}

/** The pump pattern on a TcpServer: one reply per received byte. */
function pumpHandler(): NetworkHandler<{ pending: number[]; at: number }> {
  const pump = (
    ctx: Parameters<NonNullable<NetworkHandler["onWritable"]>>[0],
    id: number,
  ): void => {
    const state = ctx.getData(id) as { pending: number[]; at: number };
    while (state.at < state.pending.length) {
      const b = state.pending[state.at++]!;
      if (!ctx.sendTo(id, replyTo(b))) break; // wait for onWritable
    }
    if (state.at === state.pending.length) {
      state.pending.length = 0;
      state.at = 0;
    }
  };
  return {
    onConnect(ctx, id) {
      ctx.setData(id, { pending: [], at: 0 });
    },
    onData(ctx, id, data) {
      const state = ctx.getData(id)!;
      for (const b of data) state.pending.push(b);
      pump(ctx, id);
    },
    onWritable(ctx, id) {
      pump(ctx, id);
    },
  };
}

for (const size of [20_000, 200_000]) {
  Deno.test(`TcpServer pump pattern answers ${size} bytes sent in one write with ${size * REPLY} reply bytes, byte-exact`, async () => {
    await using h = startServer(pumpHandler(), {
      writeHighWaterMark: 65536,
      // Far above what one pump round queues: never a slow consumer here.
      maxWriteBuffer: 1 << 24,
    });
    await exchange(h.port, request(size));
    assertEquals(h.seen.errors, []);
  });
}

Deno.test("EventLoop delivers a read completed while write-only once the queue drains (pump pattern)", async () => {
  await using loop = new EventLoop({ writeHighWaterMark: 65536 });
  const pending = new Map<number, { bytes: number[]; at: number }>();
  const pump = (token: number, loop: EventLoop): void => {
    const state = pending.get(token)!;
    while (state.at < state.bytes.length) {
      const b = state.bytes[state.at++]!;
      if (!loop.write(token, replyTo(b))) {
        // Backpressure: read nothing more until the queue drains.
        loop.reregister(token, Interest.WRITABLE);
        return;
      }
    }
    state.bytes.length = 0;
    state.at = 0;
  };
  const handler = (event: Event, loop: EventLoop): void => {
    const token = event.token;
    if (!pending.has(token)) pending.set(token, { bytes: [], at: 0 });
    if (event.data) {
      for (const b of event.data) pending.get(token)!.bytes.push(b);
      pump(token, loop);
    }
    if (event.writable) {
      loop.reregister(token, Interest.READABLE);
      pump(token, loop);
    }
    if (event.readClosed || event.error) void loop.close(token);
  };
  const port = listenOnLoop(loop, handler);
  const running = loop.run();
  try {
    await exchange(port, request(20_000));
  } finally {
    loop.stop();
    await running;
  }
});

Deno.test("slow consumer: a peer that never reads is cut as a slow consumer; queues stay bounded; readers get every byte", async () => {
  const MAX_WRITE = 256 * 1024;
  const MSG = 32 * 1024;
  const MAX_ROUNDS = 1000; // 32 MiB: far beyond any loopback socket buffers
  let maxPending = 0;
  let serverCtxPending = () => 0;
  const handler: NetworkHandler = {
    onData(ctx, id, data) {
      ctx.broadcast(data, { except: id });
      maxPending = Math.max(maxPending, serverCtxPending());
    },
  };
  await using h = startServer(handler, { maxWriteBuffer: MAX_WRITE });
  serverCtxPending = () => h.server.stats().bytesPending;
  const stuck = await connect(h.port); // id 1: never reads
  const readers = [await connect(h.port), await connect(h.port)];
  const sender = await connect(h.port);
  try {
    await waitFor(() => h.server.connectionCount === 4, 5000, "accepted");
    let rounds = 0;
    while (h.reasonOf(1) === undefined && rounds < MAX_ROUNDS) {
      const msg = pattern(MSG, rounds);
      await writeAll(sender, msg);
      for (const r of readers) {
        const got = await within(readExactly(r, MSG), 10_000, "broadcast");
        assertEquals(firstDifference(got, msg), -1, `round ${rounds}`);
      }
      rounds++;
    }
    assertEquals(h.reasonOf(1), "slow consumer");
    // Bounded: the stuck peer's queue never grew much past maxWriteBuffer
    // (one message may take it over the edge, then it is cut).
    assertLessOrEqual(maxPending, MAX_WRITE + 2 * MSG + 2 * 65536);
    // The others keep going after the cut.
    const after = pattern(MSG, 999);
    await writeAll(sender, after);
    for (const r of readers) {
      assertEquals(firstDifference(await readExactly(r, MSG), after), -1);
    }
    assertEquals(h.server.connectionCount, 3);
  } finally {
    for (const c of [stuck, ...readers, sender]) closeQuietly(c);
  }
  await waitFor(() => h.server.connectionCount === 0, 5000, "all gone");
  assertEquals(h.server.stats().disconnects["slow consumer"], 1);
});
