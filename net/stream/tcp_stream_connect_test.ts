// TcpStream.connect(): deadlines against a full backlog, Deno's errors, and
// 'host:port' addresses.
import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { text } from "../../tests/_helpers.ts";
import { CancelledError, TimedOutError } from "../errors.ts";
import { TcpListener } from "./tcp_listener.ts";
import { TcpStream } from "./tcp_stream.ts";

Deno.test("TcpStream.connect() times out against a full backlog", async () => {
  // Linux drops a SYN while the accept queue of a listener that never accepts
  // is full (backlog 0 holds one connection), so the next connect hangs.
  const listener = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
    tcpBacklog: 0,
  });
  const filler: TcpStream[] = [];
  try {
    // Fill the queue (connections that complete are queued, not accepted).
    for (let i = 0; i < 8; i++) {
      try {
        filler.push(await TcpStream.connect(listener.addr, { timeoutMs: 200 }));
      } catch (error) {
        assertInstanceOf(error, TimedOutError);
        break;
      }
    }
    const error = await assertRejects(
      () => TcpStream.connect(listener.addr, { timeoutMs: 100 }),
      TimedOutError,
      "Cannot connect as the deadline passed: 'timeoutMs' was 100",
    );
    assertEquals(error.kind, "timed-out");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await assertRejects(
      () => TcpStream.connect(listener.addr, { signal: controller.signal }),
      CancelledError,
      "Cannot connect as the operation was cancelled",
    );
  } finally {
    for (const stream of filler) stream.close();
    listener.close();
  }
});

Deno.test("TcpStream.connect() passes Deno's errors through", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assertRejects(
    () =>
      TcpStream.connect({ hostname: "127.0.0.1", port }, { timeoutMs: 5_000 }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("TcpStream.connect() and TcpListener.bind() take 'host:port' strings", async () => {
  using listener = TcpListener.bind("127.0.0.1:0");
  const { port } = listener.addr as Deno.NetAddr;
  using client = await TcpStream.connect(`127.0.0.1:${port}`, {
    timeoutMs: 1_000,
  });
  using server = await listener.accept({ timeoutMs: 1_000 });
  await client.writeAll(new TextEncoder().encode("hi"));
  assertEquals(text(await server.readExact(2)), "hi");
  assertThrows(
    () => TcpListener.bind({ hostname: 5 as unknown as string, port: 0 }),
    TypeError,
    "Cannot bind listener as 'hostname' must be a non-empty hostname or IP address: received 5",
  );
});
