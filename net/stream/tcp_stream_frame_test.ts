// TcpStream.readFrame: frames through any codec with the deadline and
// cancellation of the other reads; a call that ends without a frame consumes
// nothing.

import { assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { FrameTooLargeError } from "../codec/frame_too_large_error.ts";
import { LengthPrefixedCodec } from "../codec/length_prefixed_codec.ts";
import { LineCodec } from "../codec/line_codec.ts";
import { CancelledError, IncompleteError, TimedOutError } from "../errors.ts";
import { TcpListener } from "./tcp_listener.ts";
import { TcpStream } from "./tcp_stream.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function pair(): Promise<
  { client: TcpStream; server: TcpStream; [Symbol.dispose](): void }
> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const client = await TcpStream.connect(listener.addr);
  const server = await listener.accept();
  listener.close();
  return {
    client,
    server,
    [Symbol.dispose]() {
      client.close();
      server.close();
    },
  };
}

Deno.test("TcpStream.readFrame reads frames and leaves the rest for other reads", async () => {
  using p = await pair();
  const codec = new LineCodec({ decodeUtf8: true });
  await p.client.writeAll(enc("one\r\ntwo\nrest"));
  assertEquals(await p.server.readFrame(codec, { timeoutMs: 1000 }), "one");
  assertEquals(await p.server.readFrame(codec, { timeoutMs: 1000 }), "two");
  assertEquals(
    new TextDecoder().decode(await p.server.readExact(4, { timeoutMs: 1000 })),
    "rest",
  );
});

Deno.test("TcpStream.readFrame returns a copy the caller keeps", async () => {
  using p = await pair();
  const codec = new LengthPrefixedCodec({ lengthFieldLength: 1 });
  await p.client.writeAll(new Uint8Array([2, 1, 2, 2, 3, 4]));
  const first = await p.server.readFrame(codec, { timeoutMs: 1000 });
  const second = await p.server.readFrame(codec, { timeoutMs: 1000 });
  assertEquals([first, second], [
    new Uint8Array([1, 2]),
    new Uint8Array([3, 4]),
  ]);
});

Deno.test("TcpStream.readFrame times out mid-frame without consuming it", async () => {
  using p = await pair();
  const codec = new LengthPrefixedCodec({ lengthFieldLength: 1 });
  await p.client.writeAll(new Uint8Array([3, 7]));
  await assertRejects(
    () => p.server.readFrame(codec, { timeoutMs: 30 }),
    TimedOutError,
  );
  await p.client.writeAll(new Uint8Array([8, 9]));
  assertEquals(
    await p.server.readFrame(codec, { timeoutMs: 1000 }),
    new Uint8Array([7, 8, 9]),
  );
});

Deno.test("TcpStream.readFrame is cancelled by its signal", async () => {
  using p = await pair();
  const controller = new AbortController();
  const reading = p.server.readFrame(new LineCodec(), {
    signal: controller.signal,
  });
  controller.abort();
  await assertRejects(() => reading, CancelledError);
});

Deno.test("TcpStream.readFrame: null at end of stream, IncompleteError inside a frame", async () => {
  {
    using p = await pair();
    await p.client.writeAll(enc("a\n"));
    await p.client.closeWrite();
    const codec = new LineCodec();
    assertEquals(await p.server.readFrame(codec), enc("a"));
    assertEquals(await p.server.readFrame(codec), null);
  }
  {
    using p = await pair();
    await p.client.writeAll(enc("a\npart"));
    await p.client.closeWrite();
    const codec = new LineCodec();
    assertEquals(await p.server.readFrame(codec), enc("a"));
    const error = await assertRejects(
      () => p.server.readFrame(codec),
      IncompleteError,
    );
    assertEquals(error.partial, enc("part"));
  }
});

Deno.test("TcpStream.readFrame rejects an oversize frame before its body arrives", async () => {
  using p = await pair();
  const codec = new LengthPrefixedCodec({ maxFrameSize: 100 });
  await p.client.writeAll(new Uint8Array([0, 0, 1, 0]));
  const error = await assertRejects(
    () => p.server.readFrame(codec, { timeoutMs: 1000 }),
    FrameTooLargeError,
  );
  assertEquals([error.size, error.limit], [256, 100]);
});

Deno.test("TcpStream.readFrame rejects a non-codec", async () => {
  using p = await pair();
  const error = await assertRejects(
    () => p.server.readFrame(null as unknown as LineCodec),
    TypeError,
  );
  assertInstanceOf(error, TypeError);
  assertEquals(
    error.message,
    "Cannot read frame as 'codec' must be a Codec: received null",
  );
});
