// Integration tests of the lingering close: `close(token, { flush: true })`
// writes the queue out, half-closes, reads and discards the peer's input
// until its end of stream (or `lingerMs`), and only then closes. Without
// the linger, unread input makes Linux answer the close with RST, and the
// peer loses bytes it had received but not read yet.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { EventLoop, Interest } from "../reactor/mod.ts";
import { TcpServer } from "../net/mod.ts";
import { firstDifference, HOST, pattern, sleep } from "./_helpers.ts";

const MIB = 1024 * 1024;

/** Reads to end of stream in small slow steps; keeps what came and the error. */
async function readSlowly(
  conn: Deno.Conn,
): Promise<{ got: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(16 * 1024);
  let error: unknown;
  try {
    // Let the writer get ahead first: its bytes sit unread in the kernel.
    await sleep(50);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      parts.push(buf.slice(0, n));
      total += n;
      if (parts.length % 8 === 0) await sleep(1);
    }
  } catch (e) {
    error = e;
  }
  const got = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    got.set(p, off);
    off += p.length;
  }
  return { got, error };
}

async function loopbackPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  const peer = await listener.accept();
  return [conn, peer];
}

Deno.test("close({ flush: true }) with unread input: a slow peer still gets every byte, then end of stream", async () => {
  await using loop = new EventLoop();
  const [conn, peer] = await loopbackPair();
  const events: string[] = [];
  // WRITABLE only: the loop never reads what the peer sends.
  loop.register(conn, 1, Interest.WRITABLE, (event) => {
    events.push(event.readable ? "readable" : "writable");
  });
  await peer.write(new Uint8Array(100).fill(7));
  const payload = pattern(MIB, 3);
  loop.write(1, payload);
  const reading = readSlowly(peer);
  const closed = loop.close(1, { flush: true });
  // Deregistered at once: no more events, the token is free.
  assertEquals(loop.has(1), false);
  assertEquals(loop.metrics().closingSources, 1);
  const seen = events.length;
  // Input that arrives during the linger is discarded, not delivered.
  await peer.write(new Uint8Array(10).fill(8));
  const { got, error } = await reading;
  peer.close();
  await closed;
  assertEquals(loop.metrics().closingSources, 0);
  assertEquals(error, undefined);
  assertEquals(got.length, payload.length);
  assertEquals(firstDifference(got, payload), -1);
  assertEquals(events.length, seen);
});

Deno.test("close({ flush: true, lingerMs }) ends the linger after lingerMs when the peer never closes", async () => {
  await using loop = new EventLoop();
  const [conn, peer] = await loopbackPair();
  loop.register(conn, 1, Interest.READABLE, () => {});
  loop.write(1, new Uint8Array(1000).fill(1));
  // The peer never reads nor closes: the close must not wait for it.
  await loop.close(1, { flush: true, lingerMs: 50 });
  const buf = new Uint8Array(2000);
  let total = 0;
  while (true) {
    const n = await peer.read(buf);
    if (n === null) break;
    total += n;
  }
  assertEquals(total, 1000);
  peer.close();
});

Deno.test("close({ flush: true }): its signal and the loop's dispose cut the linger short", async () => {
  const loop = new EventLoop({ lingerMs: 600_000 });
  const [a, peerA] = await loopbackPair();
  const [b, peerB] = await loopbackPair();
  loop.register(a, 1, Interest.READABLE, () => {});
  loop.register(b, 2, Interest.READABLE, () => {});
  const controller = new AbortController();
  const closingA = loop.close(1, { flush: true, signal: controller.signal });
  const closingB = loop.close(2, { flush: true });
  await sleep(20);
  controller.abort();
  await closingA;
  assertEquals(await peerA.read(new Uint8Array(1)), null);
  // Dispose closes what is still lingering (600 s would time the test out).
  await loop[Symbol.asyncDispose]();
  await closingB;
  assertEquals(await peerB.read(new Uint8Array(1)), null);
  peerA.close();
  peerB.close();
});

Deno.test("close({ flush: true }) rejects a bad lingerMs or signal; EventLoop rejects a bad lingerMs", async () => {
  assertThrowsRange(() => new EventLoop({ lingerMs: -1 }));
  await using loop = new EventLoop();
  const [conn, peer] = await loopbackPair();
  loop.register(conn, 1, Interest.READABLE, () => {});
  await assertRejects(
    () => loop.close(1, { flush: true, lingerMs: 1.5 }),
    RangeError,
    "lingerMs",
  );
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => loop.close(1, { flush: true, signal: "x" as any }),
    TypeError,
    "signal",
  );
  await loop.close(1, { flush: true, lingerMs: 0 });
  peer.close();
});

Deno.test("close() reports bad arguments as a rejection, never a synchronous throw", async () => {
  await using loop = new EventLoop();
  const [conn, peer] = await loopbackPair();
  loop.register(conn, 1, Interest.READABLE, () => {});
  // close() is not an async function (the churn path): its argument errors
  // must still arrive as rejections, as callers chain .catch() on them.
  const calls: [() => Promise<void>, ErrorConstructor][] = [
    [() => loop.close(99), TypeError],
    [() => loop.close(1, { flush: true, lingerMs: -1 }), RangeError],
    // deno-lint-ignore no-explicit-any
    [() => loop.close(1, null as any), TypeError],
  ];
  for (const [call, ErrorClass] of calls) {
    let promise: Promise<void> | undefined;
    try {
      promise = call();
    } catch (error) {
      throw new Error(`close() threw synchronously: ${error}`);
    }
    await assertRejects(() => promise!, ErrorClass);
  }
  assert(loop.has(1));
  await loop.close(1);
  peer.close();
});

function assertThrowsRange(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert(error instanceof RangeError, String(error));
    return;
  }
  throw new Error("Expected a RangeError");
}

Deno.test("TcpServer closeConnection() (flush) with input still arriving: the slow client gets every byte", async () => {
  const payload = pattern(MIB, 5);
  const server = new TcpServer({ hostname: HOST, port: 0 }, {
    onData(ctx, id) {
      // The first bytes trigger the reply and the close; the client keeps
      // sending meanwhile (input the server never reads).
      ctx.sendTo(id, payload);
      ctx.closeConnection(id);
    },
  });
  const serving = server.run();
  const client = await Deno.connect({
    hostname: HOST,
    port: (server.addr as Deno.NetAddr).port,
  });
  try {
    await client.write(new Uint8Array([1]));
    const reading = readSlowly(client);
    for (let i = 0; i < 20; i++) {
      await sleep(2);
      try {
        await client.write(new Uint8Array(64).fill(2));
      } catch {
        break; // closed by the server: fine
      }
    }
    const { got, error } = await reading;
    assertEquals(error, undefined);
    assertEquals(got.length, payload.length);
    assertEquals(firstDifference(got, payload), -1);
  } finally {
    client.close();
    await server.shutdown();
    await serving;
  }
});

Deno.test("close({ flush: true }) on a TLS connection: the peer gets every byte, then end of stream", async () => {
  const cert = await Deno.readTextFile(
    new URL("./testdata/tls_cert.pem", import.meta.url),
  );
  const key = await Deno.readTextFile(
    new URL("./testdata/tls_key.pem", import.meta.url),
  );
  await using loop = new EventLoop();
  using listener = Deno.listenTls({ hostname: HOST, port: 0, cert, key });
  const connecting = Deno.connectTls({
    hostname: HOST,
    port: listener.addr.port,
    caCerts: [cert],
  });
  const conn = await listener.accept();
  const peer = await connecting;
  loop.register(conn, 1, Interest.WRITABLE, () => {});
  await peer.write(new Uint8Array(100).fill(7)); // never read by the loop
  const payload = pattern(MIB, 9);
  loop.write(1, payload);
  const reading = readSlowly(peer);
  const closed = loop.close(1, { flush: true });
  const { got, error } = await reading;
  peer.close();
  await closed;
  assertEquals(error, undefined);
  assertEquals(got.length, payload.length);
  assertEquals(firstDifference(got, payload), -1);
});
