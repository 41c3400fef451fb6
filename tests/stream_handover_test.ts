// Hand-over between the stream API and the reactor (_internal/inflight.ts):
// a TcpStream reads a header, detaches, and an EventLoop reads the rest; then
// the loop deregisters and a TcpStream takes the connection back. No byte is
// lost or reordered either way.
import { assertEquals } from "@std/assert";
import { EventLoop, Interest } from "../reactor/mod.ts";
import { TcpListener } from "../net/stream/tcp_listener.ts";
import { TcpStream } from "../net/stream/tcp_stream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("TcpStream.detach() to an EventLoop and back loses no byte", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  using client = await TcpStream.connect(listener.addr, { timeoutMs: 5_000 });
  const server = await listener.accept({ timeoutMs: 5_000 });
  client.setNoDelay();
  await client.writeAll(encoder.encode("HEADER\nbody-1;"));
  assertEquals(
    decoder.decode(
      (await server.readUntil(encoder.encode("\n"), { timeoutMs: 5_000 }))!,
    ),
    "HEADER",
  );
  // Leave a read in flight too, so that both buffered and in-flight bytes
  // cross over.
  await server.readExact(1_000, { timeoutMs: 10 }).catch(() => {});
  const conn = server.detach();

  await using loop = new EventLoop();
  let received = "";
  const token = 1;
  const enough = Promise.withResolvers<void>();
  loop.register(conn, token, Interest.READABLE, (event) => {
    if (event.data) received += decoder.decode(event.data);
    if (received.includes("body-2;")) enough.resolve();
  });
  const running = loop.run();
  await client.writeAll(encoder.encode("body-2;"));
  await enough.promise;
  assertEquals(received, "body-1;body-2;");
  // And back: the loop lets go; a stream takes over whatever comes next.
  loop.deregister(token);
  loop.stop();
  await running;
  using again = new TcpStream(conn);
  await client.writeAll(encoder.encode("tail"));
  assertEquals(
    decoder.decode(await again.readExact(4, { timeoutMs: 5_000 })),
    "tail",
  );
});
