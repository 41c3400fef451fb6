// TcpServer and TcpClient with a `codec`: whole frames in `onFrame`,
// `sendFrame`/`broadcastFrame` encode, an over-limit frame costs only its
// connection (reason "frame too large").

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { FrameTooLargeError } from "../codec/frame_too_large_error.ts";
import { LengthPrefixedCodec } from "../codec/length_prefixed_codec.ts";
import { LineCodec } from "../codec/line_codec.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import { TcpClient } from "./tcp_client.ts";
import { TcpServer } from "./tcp_server.ts";
import type { TcpServerOptions } from "./tcp_server_options.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import {
  connectTo,
  decoder,
  encoder,
  readAll,
  readUntilText,
  waitFor,
  within,
} from "../../tests/_helpers.ts";

function serve<F, E>(
  handler: NetworkHandler<unknown, F, E>,
  options: TcpServerOptions<F, E>,
): { server: TcpServer<unknown, F, E>; running: Promise<void> } {
  const server = new TcpServer(
    new TcpServerConfig({ port: 0 }),
    handler,
    options,
  );
  return { server, running: server.run() };
}

const lines = (): TcpServerOptions<string, string | Uint8Array> => ({
  codec: new LineCodec({ decodeUtf8: true, maxFrameSize: 16 }),
});

Deno.test("TcpServer with a codec calls onFrame per frame, across and within reads", async () => {
  const seen: string[] = [];
  const { server, running } = serve({
    onFrame(ctx, id, line) {
      seen.push(line);
      ctx.sendFrame(id, line.toUpperCase());
    },
  }, lines());
  const conn = await connectTo(server.addr);
  await conn.write(encoder.encode("al"));
  await waitFor(() => server.stats().dataEvents === 1, 2000, "first chunk");
  await conn.write(encoder.encode("pha\r\nbeta\ngam"));
  await conn.write(encoder.encode("ma\n"));
  assertEquals(await readUntilText(conn, "GAMMA\n"), "ALPHA\nBETA\nGAMMA\n");
  assertEquals(seen, ["alpha", "beta", "gamma"]);
  conn.close();
  await server.close();
  await running;
});

Deno.test("TcpServer closes only the connection whose frame is too large", async () => {
  const errors: Error[] = [];
  const reasons: DisconnectReason[] = [];
  const { server, running } = serve({
    onFrame: (ctx, id, line) => void ctx.broadcastFrame(`${id}: ${line}`),
    onError: (_ctx, error) => void errors.push(error),
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
  }, lines());
  const good = await connectTo(server.addr);
  const bad = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 2, 2000, "two connections");
  // 18 bytes and no "\n" yet (16 and a "\r" could still be a line): over
  // the limit before the line ends.
  await bad.write(encoder.encode("x".repeat(18)));
  assertEquals((await within(readAll(bad), 5000, "close")).length, 0);
  await waitFor(() => reasons.length === 1, 2000, "disconnect");
  assertEquals(reasons, ["frame too large"]);
  assertInstanceOf(errors[0], FrameTooLargeError);
  assertEquals((errors[0] as FrameTooLargeError).limit, 16);
  assertEquals(server.stats().disconnects["frame too large"], 1);
  assertEquals(server.stats().handlerErrors, 0);
  await good.write(encoder.encode("still here\n"));
  assertEquals(await readUntilText(good, "\n"), "1: still here\n");
  good.close();
  bad.close();
  await server.close();
  await running;
});

Deno.test("TcpServer fails an announced oversize length-prefixed frame at its header", async () => {
  const errors: Error[] = [];
  const { server, running } = serve({
    onFrame() {},
    onError: (_ctx, error) => void errors.push(error),
  }, { codec: new LengthPrefixedCodec({ maxFrameSize: 1024 }) });
  const conn = await connectTo(server.addr);
  // Announces 1 GiB and sends 4 bytes of it.
  await conn.write(new Uint8Array([0x40, 0, 0, 0, 1, 2, 3, 4]));
  assertEquals((await within(readAll(conn), 5000, "close")).length, 0);
  assertInstanceOf(errors[0], FrameTooLargeError);
  assertEquals((errors[0] as FrameTooLargeError).size, 2 ** 30);
  conn.close();
  await server.close();
  await running;
});

Deno.test("TcpServer with a codec: a throwing or rejecting onFrame is a handler error", async () => {
  for (const mode of ["throw", "reject"]) {
    const reasons: DisconnectReason[] = [];
    const { server, running } = serve({
      onFrame(_ctx, _id, line) {
        if (line !== "boom") return;
        if (mode === "throw") throw new Error("boom");
        return Promise.reject(new Error("boom"));
      },
      onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
    }, lines());
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode("fine\nboom\n"));
    await within(readAll(conn), 5000, "close");
    await waitFor(() => reasons.length === 1, 2000, "disconnect");
    assertEquals(reasons, ["handler error"], mode);
    conn.close();
    await server.close();
    await running;
  }
});

Deno.test("TcpServer with a codec stops decoding once the handler closes the connection", async () => {
  const seen: string[] = [];
  const { server, running } = serve({
    onFrame(ctx, id, line) {
      seen.push(line);
      if (line === "quit") ctx.closeConnection(id);
    },
  }, lines());
  const conn = await connectTo(server.addr);
  await conn.write(encoder.encode("a\nquit\nb\nc\n"));
  await within(readAll(conn), 5000, "close");
  assertEquals(seen, ["a", "quit"]);
  conn.close();
  await server.close();
  await running;
});

Deno.test("TcpServer with a discarding LineCodec reports an over-long line and keeps the connection", async () => {
  const errors: Error[] = [];
  const { server, running } = serve({
    onFrame: (ctx, id, line) => void ctx.sendFrame(id, `ok ${line}`),
    onError: (ctx, error, id) => {
      errors.push(error);
      ctx.sendFrame(id!, "dropped");
    },
  }, {
    codec: new LineCodec({
      decodeUtf8: true,
      maxFrameSize: 8,
      overlong: "discard",
    }),
  });
  const conn = await connectTo(server.addr);
  await conn.write(encoder.encode("x".repeat(100)));
  await conn.write(encoder.encode("y".repeat(100) + "\nnext\n"));
  assertEquals(await readUntilText(conn, "ok next\n"), "dropped\nok next\n");
  assertEquals(errors.length, 1);
  assertInstanceOf(errors[0], FrameTooLargeError);
  conn.close();
  await server.close();
  await running;
});

Deno.test("TcpServer checks onFrame with a codec, and sendFrame needs a codec", async () => {
  assertThrows(
    () =>
      new TcpServer(new TcpServerConfig({ port: 0 }), { onData() {} }, {
        codec: new LineCodec(),
      }),
    TypeError,
    "Cannot create server as 'handler.onFrame' must be a function with a 'codec': received undefined",
  );
  let caught: unknown;
  const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
    onData(ctx, id) {
      try {
        ctx.sendFrame(id, new Uint8Array(1));
      } catch (error) {
        caught = error;
      }
      ctx.closeConnection(id);
    },
  });
  const running = server.run();
  const conn = await connectTo(server.addr);
  await conn.write(new Uint8Array(1));
  await within(readAll(conn), 5000, "close");
  assertInstanceOf(caught, TypeError);
  assertEquals(
    (caught as Error).message,
    "Cannot send frame as there is no 'codec'",
  );
  conn.close();
  await server.close();
  await running;
});

Deno.test("TcpClient with a codec sends and receives frames", async () => {
  const codec = new LengthPrefixedCodec({ lengthFieldLength: 2 });
  const { server, running } = serve({
    onFrame: (ctx, id, frame) => void ctx.sendFrame(id, frame.toReversed()),
  }, { codec });
  const { promise, resolve } = Promise.withResolvers<number[]>();
  const client = new TcpClient({
    onFrame: (_ctx, _id, frame) => resolve([...frame]),
  }, { codec });
  await client.connect(server.addr as Deno.NetAddr, { timeoutMs: 2000 });
  assert(client.sendFrame(new Uint8Array([1, 2, 3])));
  assertEquals(await promise, [3, 2, 1]);
  await client.close();
  await server.close();
  await running;
  assertEquals(decoder.decode(new Uint8Array(0)), "");
});
