// Integration tests of handing a connection over between owners of one
// event loop (`deregister()` then `register()` of the same connection) while
// a read or writes are in flight: the new owner gets every byte once, in
// order, keeps reading, writes after the previous owner's writes, and the
// loop's buffers and counters stay right.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { type Event, EventLoop, Interest, type Token } from "../reactor/mod.ts";
import { TcpStream, TimedOutError } from "../net/mod.ts";
import {
  concat,
  HOST,
  pattern,
  readExactly,
  waitFor,
  writeAll,
} from "./_helpers.ts";

interface Accepted {
  conn: Deno.Conn;
  peer: Deno.TcpConn;
  [Symbol.dispose](): void;
}

/** A loopback connection (`conn`, for the loop) and its peer. */
async function connected(): Promise<Accepted> {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepting = listener.accept();
  const peer = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  const conn = await accepting;
  listener.close();
  return {
    conn,
    peer,
    [Symbol.dispose]() {
      try {
        peer.close();
      } catch { /* closed by the test */ }
    },
  };
}

/**
 * Reads exactly `n` bytes from `peer`; closes it (the read fails) if they
 * have not all come within 10 s, so that a stall fails instead of hanging.
 */
async function readBounded(peer: Deno.Conn, n: number): Promise<Uint8Array> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    peer.close();
  }, 10_000);
  try {
    return await readExactly(peer, n);
  } catch (error) {
    if (timedOut) throw new Error(`Timed out reading ${n} bytes`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Records what a handler is given: bytes, end of stream, writable events. */
class Seen {
  readonly chunks: Uint8Array[] = [];
  eof = false;
  writable = 0;
  errors: unknown[] = [];
  get length(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }
  record(event: Event): void {
    if (event.data) this.chunks.push(event.data.slice());
    if (event.readClosed) this.eof = true;
    if (event.writable) this.writable++;
    if (event.error) this.errors.push(event.error);
  }
}

Deno.test("a handler echoing the event's own data after a hand-over keeps the loop up and the bytes right", async () => {
  const errors: unknown[] = [];
  await using loop = new EventLoop({ onError: (error) => errors.push(error) });
  using pair = await connected();
  const seen = new Seen();
  const echo = (event: Event, l: EventLoop): void => {
    seen.record(event);
    // The event's own buffer: the loop takes it over instead of copying.
    if (event.data) l.write(event.token, event.data);
  };
  loop.register(pair.conn, 1, Interest.READABLE, echo);
  const running = loop.run();
  // The read issued on registration is in flight: token 2 adopts it.
  const source = loop.deregister(1);
  loop.register(source, 2, Interest.READABLE, echo);
  await writeAll(pair.peer, pattern(1, 1));
  assertEquals(await readExactly(pair.peer, 1), pattern(1, 1));
  // Reads into the loop's own buffers go on, echoed and recycled.
  for (let i = 2; i < 6; i++) {
    await writeAll(pair.peer, pattern(100 * i, i));
    assertEquals(await readExactly(pair.peer, 100 * i), pattern(100 * i, i));
  }
  await pair.peer.closeWrite();
  await waitFor(() => seen.eof, 5000, "the end of stream");
  assertEquals(errors, []);
  await loop.close(2, { flush: true });
  loop.stop();
  await running;
});

Deno.test("a connection handed over while a write is queued keeps reading to the end of stream", async () => {
  await using loop = new EventLoop();
  using pair = await connected();
  const seen = new Seen();
  const record = (event: Event): void => seen.record(event);
  loop.register(pair.conn, 1, Interest.READABLE, record);
  const running = loop.run();
  // Larger than the socket buffers: in flight until the peer reads.
  const big = pattern(8 << 20, 9);
  loop.write(1, big);
  const source = loop.deregister(1);
  loop.register(source, 2, Interest.READABLE, record);
  await writeAll(pair.peer, pattern(1, 1));
  await waitFor(() => seen.length === 1, 5000, "the first byte");
  // The handler returned while the previous owner's write was in flight:
  // the next read was deferred behind it, and must be issued when it ends.
  assertEquals(await readBounded(pair.peer, big.length), big);
  await writeAll(pair.peer, pattern(2, 2));
  await pair.peer.closeWrite();
  await waitFor(() => seen.eof, 5000, "the end of stream");
  assertEquals(concat(seen.chunks), concat([pattern(1, 1), pattern(2, 2)]));
  await loop.close(2);
  loop.stop();
  await running;
});

Deno.test("a hand-over during a hand-over's held writes: every owner's writes go out, in order", async () => {
  await using loop = new EventLoop();
  using pair = await connected();
  const ignore = (): void => {};
  loop.register(pair.conn, 1, Interest.NONE, ignore);
  const running = loop.run();
  // Larger than the socket buffers: pending until the peer reads.
  const big = pattern(8 << 20, 1);
  loop.write(1, big);
  await new Promise((r) => setTimeout(r, 20));
  assert(loop.pendingWriteBytes(1) > 0, "the first owner's write is pending");
  let source = loop.deregister(1);
  loop.register(source, 2, Interest.NONE, ignore);
  loop.write(2, pattern(10, 2));
  source = loop.deregister(2);
  loop.register(source, 3, Interest.NONE, ignore);
  loop.write(3, pattern(10, 3));
  const expected = concat([big, pattern(10, 2), pattern(10, 3)]);
  const got = await readBounded(pair.peer, expected.length);
  assert(got.every((b, i) => b === expected[i]), "the bytes in order");
  await loop.close(3, { flush: true });
  loop.stop();
  await running;
});

Deno.test("a flushed close or shutdownWrite() of a new owner waits for the previous owner's writes", async (t) => {
  for (const how of ["close", "shutdownWrite"] as const) {
    await t.step(how, async () => {
      await using loop = new EventLoop();
      using pair = await connected();
      loop.register(pair.conn, 1, Interest.NONE, () => {});
      const running = loop.run();
      const big = pattern(8 << 20, 1);
      loop.write(1, big);
      const source = loop.deregister(1);
      loop.register(source, 2, Interest.NONE, () => {});
      // Nothing queued by the new owner: only the previous owner's write.
      const done = how === "close"
        ? loop.close(2, { flush: true })
        : loop.shutdownWrite(2);
      const got = await readBounded(pair.peer, big.length);
      assert(got.every((b, i) => b === big[i]), "the bytes in order");
      assertEquals(await pair.peer.read(new Uint8Array(1)), null);
      await pair.peer.closeWrite();
      await done;
      if (how === "shutdownWrite") await loop.close(2);
      loop.stop();
      await running;
    });
  }
});

Deno.test("a new owner registered WRITABLE during held writes gets its writable event once they are out", async () => {
  await using loop = new EventLoop();
  using pair = await connected();
  const seen = new Seen();
  loop.register(pair.conn, 1, Interest.NONE, () => {});
  const running = loop.run();
  loop.write(1, pattern(1000, 1));
  const source = loop.deregister(1);
  loop.register(
    source,
    2,
    Interest.WRITABLE,
    (event: Event) => seen.record(event),
  );
  assertEquals(await readBounded(pair.peer, 1000), pattern(1000, 1));
  await waitFor(() => seen.writable > 0, 5000, "a writable event");
  assertEquals(seen.writable, 1);
  await loop.close(2);
  loop.stop();
  await running;
});

Deno.test("metrics() counts a handed-over read once", async (t) => {
  for (const held of [false, true]) {
    await t.step(
      held ? "a completed read held undelivered" : "a read in flight",
      async () => {
        await using loop = new EventLoop();
        using pair = await connected();
        const seen = new Seen();
        const record = (event: Event): void => seen.record(event);
        loop.register(pair.conn, 1, Interest.READABLE, record);
        const running = loop.run();
        if (held) {
          // The read completes with READABLE off: held, undelivered.
          loop.reregister(1, Interest.NONE);
          await writeAll(pair.peer, pattern(50, 1));
          await waitFor(
            () => loop.metrics().bytesRead === 50,
            5000,
            "the held read",
          );
        }
        const source = loop.deregister(1);
        const token: Token = 2;
        loop.register(source, token, Interest.READABLE, record);
        if (!held) await writeAll(pair.peer, pattern(50, 1));
        await waitFor(() => seen.length === 50, 5000, "the 50 bytes");
        const { bytesRead, reads } = loop.metrics();
        assertEquals(
          { bytesRead, reads },
          { bytesRead: 50, reads: seen.chunks.length },
        );
        await loop.close(token);
        loop.stop();
        await running;
      },
    );
  }
});

Deno.test("pendingWriteBytes() of a new owner counts the previous owner's writes still going out", async (t) => {
  const vias = ["loop", "TcpStream adopting", "TcpStream writing"] as const;
  for (const via of vias) {
    await t.step(`handed over by a ${via}`, async () => {
      await using loop = new EventLoop();
      using pair = await connected();
      const running = loop.run();
      // Larger than the socket buffers: pending until the peer reads.
      const big = pattern(8 << 20, 1);
      let source: Deno.Conn = pair.conn;
      if (via === "TcpStream writing") {
        // A write that timed out finishes in the background.
        const stream = new TcpStream(source);
        await assertRejects(
          () => stream.writeAll(big, { timeoutMs: 20 }),
          TimedOutError,
        );
        source = stream.detach();
      } else {
        loop.register(source, 1, Interest.NONE, () => {});
        loop.write(1, big);
        source = loop.deregister(1) as Deno.Conn;
      }
      if (via === "TcpStream adopting") {
        // The stream adopts the loop's writes and hands them on again.
        source = new TcpStream(source).detach();
      }
      loop.register(source, 2, Interest.NONE, () => {});
      const before = loop.pendingWriteBytes(2);
      assert(before > 0, `the previous owner's bytes count: ${before}`);
      assert(before <= big.length, `at most what was written: ${before}`);
      loop.write(2, pattern(10, 2));
      assertEquals(loop.pendingWriteBytes(2), before + 10);
      const expected = concat([big, pattern(10, 2)]);
      const got = await readBounded(pair.peer, expected.length);
      assert(got.every((b, i) => b === expected[i]), "the bytes in order");
      await loop.flush(2, { signal: AbortSignal.timeout(10_000) });
      assertEquals(loop.pendingWriteBytes(2), 0);
      await loop.close(2);
      loop.stop();
      await running;
    });
  }
});
