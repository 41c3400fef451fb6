// Hand-over between owners of one connection: a TcpStream adopting what the
// reactor left in flight, and detach() handing its own over.
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { bytes, pair, sleep, text } from "../../tests/_helpers.ts";
import { CancelledError, NetError, TimedOutError } from "../errors.ts";
import {
  type InflightOutcome,
  stashInflightRead,
  stashPendingWrites,
} from "../../_internal/inflight.ts";
import { TcpStream } from "./tcp_stream.ts";

Deno.test("TcpStream adopts a read left in flight and writes left queued by the reactor", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await listener.accept();
  listener.close();
  // What EventLoop.deregister() leaves behind: a read in flight on `conn`
  // (whose bytes must come first) and a write still completing.
  const chunk = new Uint8Array(64);
  stashInflightRead(
    conn,
    conn.read(chunk).then(
      (n): InflightOutcome =>
        n === null ? { eof: true } : { data: chunk.slice(0, n), eof: false },
      (error): InflightOutcome => ({ eof: false, error }),
    ),
  );
  let releaseWrites: () => void = () => {};
  stashPendingWrites(
    conn,
    new Promise<void>((resolve) => releaseWrites = resolve).then(async () => {
      await conn.write(bytes("queued-"));
    }),
  );
  using stream = new TcpStream(conn);
  await client.write(bytes("first"));
  await sleep(10);
  await client.write(bytes(" second"));
  assertEquals(
    text(await stream.readExact(12, { timeoutMs: 5_000 })),
    "first second",
  );
  const written = stream.writeAll(bytes("mine"));
  releaseWrites();
  await written;
  const received = new Uint8Array(11);
  let offset = 0;
  while (offset < 11) offset += (await client.read(received.subarray(offset)))!;
  assertEquals(text(received), "queued-mine");
  client.close();
});

Deno.test("TcpStream.detach() hands buffered bytes, the read in flight and pending writes to the next owner", async () => {
  using p = await pair();
  p.server.setNoDelay();
  await p.server.writeAll(bytes("line\nleft"));
  assertEquals(
    text(await p.client.readUntil(bytes("\n"), { timeoutMs: 5_000 })),
    "line",
  );
  // "left" is buffered; wait for it, then leave a read in flight.
  while (p.client.bufferedBytes < 4) await sleep(1);
  await assertRejects(
    () => p.client.readExact(10, { timeoutMs: 20 }),
    TimedOutError,
  );
  // A write that cannot finish yet: the peer does not read.
  const big = new Uint8Array(32 * 1024 * 1024).fill(3);
  const stuck = p.client.writeAll(big, { timeoutMs: 100 });
  await assertRejects(() => stuck, TimedOutError);
  // A read call still pending blocks detaching.
  const pending = p.client.readUntil(bytes("#"), {
    signal: AbortSignal.timeout(30),
  });
  assertThrows(() => p.client.detach(), NetError, "a read is pending");
  await assertRejects(() => pending, CancelledError);

  const conn = p.client.detach();
  await assertRejects(
    () => p.client.read(new Uint8Array(1)),
    NetError,
    "Cannot read as the stream is detached",
  );
  p.client.close(); // a no-op: the connection belongs to the next owner
  using next = new TcpStream(conn);
  await p.server.writeAll(bytes("over"));
  assertEquals(text(await next.readExact(8, { timeoutMs: 5_000 })), "leftover");
  // The new owner's write goes after the whole stuck write.
  const tail = next.writeAll(bytes("END"));
  const received = await p.server.readExact(big.length + 3, {
    timeoutMs: 30_000,
  });
  await tail;
  assertEquals(received.subarray(0, big.length).every((b) => b === 3), true);
  assertEquals(text(received.subarray(big.length)), "END");
});
