import { assertEquals, assertGreater } from "@std/assert";
import { type Event, EventLoop, Interest, type Token } from "./mod.ts";

const HOST = "127.0.0.1";

/** Registers an echo server on `loop`; returns the listener's port. */
function echoServer(loop: EventLoop, listenerToken: Token = 0): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  let next = listenerToken + 1;
  loop.register(listener, listenerToken, Interest.READABLE, (event, loop) => {
    if (!event.conn) return;
    loop.register(event.conn, next++, Interest.READABLE, echoHandler);
  });
  return listener.addr.port;
}

function echoHandler(event: Event, loop: EventLoop): void {
  if (event.data) loop.write(event.token, event.data);
  if (event.readClosed) void loop.close(event.token, { flush: true });
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

Deno.test("EventLoop echoes bytes over TCP", async () => {
  await using loop = new EventLoop();
  const port = echoServer(loop);
  const running = loop.run();
  using client = await Deno.connect({ hostname: HOST, port });
  for (let i = 0; i < 10; i++) {
    const msg = new TextEncoder().encode(`hello ${i}`);
    await client.write(msg);
    assertEquals(await readExactly(client, msg.length), msg);
  }
  const m = loop.metrics();
  assertEquals(m.registeredSources, 2);
  assertGreater(m.eventsDispatched, 10);
  assertGreater(m.bytesRead, 0);
  assertEquals(m.bytesRead, m.bytesWritten);
  loop.stop();
  await running;
});
