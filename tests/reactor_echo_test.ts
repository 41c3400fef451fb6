// Integration tests of the reactor over real sockets: large and partial
// transfers, EOF and half-close, peer reset, Unix and TLS listeners.
import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertInstanceOf,
  assertLessOrEqual,
} from "@std/assert";
import { EventLoop } from "../reactor/mod.ts";
import {
  echoEvent,
  HOST,
  readExactly,
  readUntilClosed,
  serveOnLoop,
  writeAll,
} from "./_helpers.ts";
import { peer } from "./_peers.ts";

const node = peer("node");

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

Deno.test("reactor echoes a 16 MiB message byte-exact", async () => {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const sizes: number[] = [];
  serveOnLoop(loop, listener, (event, loop) => {
    if (event.data) sizes.push(event.data.length);
    echoEvent(event, loop);
  });
  const running = loop.run();
  const message = randomBytes(16 << 20);
  const conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  try {
    const [, echoed] = await Promise.all([
      writeAll(conn, message).then(() => conn.closeWrite()),
      readUntilClosed(conn),
    ]);
    assertEquals(echoed.length, message.length);
    assert(
      echoed.every((b, i) => b === message[i]),
      "echoed bytes differ",
    );
  } finally {
    conn.close();
  }
  const m = loop.metrics();
  assertEquals(m.bytesRead, 16 << 20);
  assertEquals(m.bytesWritten, 16 << 20);
  // Adaptive receive buffers: reads grew past the small idle buffer, never
  // past the maximum.
  assertGreater(Math.max(...sizes), 256);
  assertLessOrEqual(Math.max(...sizes), 65536);
  loop.stop();
  await running;
});

Deno.test("reactor delivers partial reads that reassemble in order", async () => {
  await using loop = new EventLoop({
    minReadBufferSize: 64,
    maxReadBufferSize: 128,
  });
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const received: Uint8Array[] = [];
  let reads = 0;
  const done = Promise.withResolvers<void>();
  const total = 10_000;
  serveOnLoop(loop, listener, (event) => {
    if (event.data) {
      reads++;
      assertLessOrEqual(event.data.length, 128);
      received.push(event.data.slice());
      if (received.reduce((a, p) => a + p.length, 0) === total) done.resolve();
    }
  });
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  const message = randomBytes(total);
  // Fragments of odd sizes, some sent together, some apart.
  for (let off = 0; off < total;) {
    const n = Math.min(total - off, 1 + ((off * 7) % 1500));
    await writeAll(conn, message.subarray(off, off + n));
    off += n;
  }
  await done.promise;
  const joined = new Uint8Array(total);
  let off = 0;
  for (const p of received) {
    joined.set(p, off);
    off += p.length;
  }
  assertEquals(joined, message);
  assertGreater(reads, total / 128 - 1);
  loop.stop();
  await running;
});

Deno.test("reactor reports EOF as readClosed and supports half-close", async () => {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  let got = "";
  let serverToken = -1;
  const closedSeen = Promise.withResolvers<void>();
  serveOnLoop(loop, listener, (event, loop) => {
    if (event.data) got += new TextDecoder().decode(event.data);
    if (event.readClosed) {
      serverToken = event.token;
      assertFalse(event.closed);
      assert(loop.has(event.token), "half-closed source stays registered");
      // The write side still works after the peer's EOF.
      loop.write(event.token, new TextEncoder().encode(`got ${got}`));
      loop.shutdownWrite(event.token).then(() => closedSeen.resolve());
    }
  });
  const running = loop.run();
  using conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await writeAll(conn, new TextEncoder().encode("hello"));
  await conn.closeWrite();
  const reply = new TextDecoder().decode(await readUntilClosed(conn));
  assertEquals(reply, "got hello");
  await closedSeen.promise;
  assert(loop.has(serverToken));
  await loop.close(serverToken);
  assertFalse(loop.has(serverToken));
  loop.stop();
  await running;
});

Deno.test({
  name: node.name(
    "reactor reports a peer reset during a read as an error and closes only that source",
  ),
  ignore: node.ignore,
}, async () => {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const errorEvent = Promise.withResolvers<{ error: Error; closed: boolean }>();
  let token = -1;
  serveOnLoop(loop, listener, (event, loop) => {
    if (event.data && token < 0) token = event.token;
    else echoEvent(event, loop);
    if (event.error) {
      errorEvent.resolve({ error: event.error, closed: event.closed });
    }
  });
  const running = loop.run();
  // Node's resetAndDestroy() sends a real RST while our read is pending
  // (Deno cannot set SO_LINGER).
  const child = new Deno.Command("node", {
    args: [
      "-e",
      `const s = require("net").connect(${listener.addr.port}, "127.0.0.1", () => {
         s.write("x");
         setTimeout(() => s.resetAndDestroy(), 50);
       });`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const { error, closed } = await errorEvent.promise;
  assertEquals((await child.status).code, 0);
  assertInstanceOf(error, Deno.errors.ConnectionReset);
  assert(closed);
  assertFalse(loop.has(token));
  assert(loop.has(0), "the listener keeps serving");
  // And the next client is served.
  using conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await writeAll(conn, new Uint8Array([7, 8]));
  assertEquals(await readExactly(conn, 2), new Uint8Array([7, 8]));
  loop.stop();
  await running;
});

Deno.test("reactor reports writes to a peer that closed with unread data as an error", async () => {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const errorEvent = Promise.withResolvers<{ error: Error; closed: boolean }>();
  let token = -1;
  serveOnLoop(loop, listener, (event, loop) => {
    if (event.data) {
      token = event.token;
      loop.write(event.token, new Uint8Array(4096)); // never read by the peer
    }
    if (event.readClosed) {
      // The peer is gone: writing now fails.
      loop.write(event.token, new Uint8Array(100));
    }
    if (event.error) {
      errorEvent.resolve({ error: event.error, closed: event.closed });
    }
  });
  const running = loop.run();
  const conn = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  await writeAll(conn, new Uint8Array([1]));
  while (loop.metrics().bytesWritten < 4096) {
    await new Promise((r) => setTimeout(r, 2));
  }
  conn.close(); // unread data: the kernel sends RST
  const { error, closed } = await errorEvent.promise;
  assert(
    error instanceof Deno.errors.BrokenPipe ||
      error instanceof Deno.errors.ConnectionReset,
    `unexpected ${error.name}`,
  );
  assert(closed);
  assertFalse(loop.has(token));
  loop.stop();
  await running;
});

Deno.test("reactor serves a Unix listener", async () => {
  if (Deno.build.os === "windows") return;
  const dir = await Deno.makeTempDir();
  const path = `${dir}/echo.sock`;
  try {
    await using loop = new EventLoop();
    const listener = Deno.listen({ transport: "unix", path });
    serveOnLoop(loop, listener);
    const running = loop.run();
    using conn = await Deno.connect({ transport: "unix", path });
    const msg = new TextEncoder().encode("over unix");
    await writeAll(conn, msg);
    assertEquals(await readExactly(conn, msg.length), msg);
    loop.stop();
    await running;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reactor serves a TLS listener", async () => {
  const certUrl = new URL("./testdata/tls_cert.pem", import.meta.url);
  const keyUrl = new URL("./testdata/tls_key.pem", import.meta.url);
  const cert = await Deno.readTextFile(certUrl);
  const key = await Deno.readTextFile(keyUrl);
  await using loop = new EventLoop();
  const listener = Deno.listenTls({ hostname: HOST, port: 0, cert, key });
  serveOnLoop(loop, listener);
  const running = loop.run();
  using conn = await Deno.connectTls({
    hostname: HOST,
    port: listener.addr.port,
    caCerts: [cert],
  });
  const msg = randomBytes(100_000);
  const [, echoed] = await Promise.all([
    writeAll(conn, msg),
    readExactly(conn, msg.length),
  ]);
  assertEquals(echoed, msg);
  loop.stop();
  await running;
});
