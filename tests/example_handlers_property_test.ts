// Properties of the example servers' handlers (mini_redis, http_hello, chat)
// on a real TcpServer: arbitrary bytes, cut into arbitrary reads and followed
// by a half-close, never throw out of the handler, never make it hold more
// than its configured limit, and end in a close with a reason (after the
// protocol's error reply, if one was sent, and nothing after that reply).

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import {
  type DisconnectReason,
  FrameTooLargeError,
  type NetworkHandler,
  TcpServer,
  TcpServerConfig,
} from "../net/mod.ts";
import { chatCodec, createChatHandler } from "../examples/chat_server.ts";
import { helloHandler } from "../examples/http_hello/main.ts";
import { miniRedisHandler } from "../examples/mini_redis/main.ts";
import { MiniRedisStore } from "../examples/mini_redis/store.ts";
import { assertProperty, cutPoints, splitAt } from "./_property.ts";
import { HOST, waitFor, within } from "./_helpers.ts";

const enc = new TextEncoder();

// Wraps `handler` so that, after every callback, `held()` of the connection's
// data is checked against `limit`.
function bounded<T>(
  handler: NetworkHandler<T>,
  held: (data: T) => number,
  limit: number,
  over: string[],
): NetworkHandler<T> {
  return {
    ...handler,
    onData(ctx, id, data) {
      handler.onData?.(ctx, id, data);
      const state = ctx.has(id) ? ctx.getData(id) : undefined;
      if (state !== undefined && held(state) > limit) {
        over.push(`connection ${id} holds ${held(state)} > ${limit}`);
      }
    },
  };
}

async function exchange(port: number, chunks: Uint8Array[]): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reading = (async () => {
    const parts: string[] = [];
    const buf = new Uint8Array(65536);
    const decoder = new TextDecoder("latin1");
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break; // reset by a server that closed with input unread
      }
      if (n === null) break;
      parts.push(decoder.decode(buf.subarray(0, n)));
    }
    return parts.join("");
  })();
  try {
    for (const chunk of chunks) {
      let at = 0;
      while (at < chunk.length) at += await conn.write(chunk.subarray(at));
      await new Promise((r) => setTimeout(r, 0));
    }
    await conn.closeWrite();
  } catch {
    // The server closed first (a protocol error): fine.
  }
  return await within(reading, 10_000, "the server to close");
}

interface Case<T> {
  name: string;
  handler: () => NetworkHandler<T>;
  codec?: () => unknown;
  held: (data: T) => number;
  limit: number;
  bytes: fc.Arbitrary<Uint8Array>;
  /** Checks the whole output: an error reply, if any, comes last. */
  output: (text: string) => void;
}

const respish = fc.array(
  fc.oneof(
    fc.constantFrom("*2\r\n", "$3\r\n", "GET", "SET", "k", "\r\n", "PING\r\n"),
    fc.constantFrom("*", "$", "-1", "9999999", '"', "'", " ", "\n", "\r"),
    fc.string({ maxLength: 5 }),
  ),
  { maxLength: 50 },
).map((p) => enc.encode(p.join("")));
const httpish = fc.array(
  fc.oneof(
    fc.constantFrom("GET / HTTP/1.1\r\n", "Host: x\r\n", "\r\n", "\n"),
    fc.constantFrom("Transfer-Encoding: chunked\r\n", "Content-Length: 2\r\n"),
    fc.constantFrom("5\r\nhello\r\n", "0\r\n\r\n", "Connection: close\r\n"),
    fc.string({ maxLength: 5 }),
  ),
  { maxLength: 40 },
).map((p) => enc.encode(p.join("")));
const lines = fc.array(
  fc.oneof(
    fc.constantFrom("hello\n", "/nick x\n", "/who\n", "\r\n", "/quit\n"),
    fc.string({ maxLength: 30 }),
    fc.constant("y".repeat(5000)),
  ),
  { maxLength: 20 },
).map((p) => enc.encode(p.join("")));

const MAX_QUERY = 512;
const cases: Case<never>[] = [
  {
    name: "mini_redis",
    handler: () =>
      miniRedisHandler(new MiniRedisStore(), {
        maxBulkLength: 256,
        maxArgs: 16,
        maxInlineLength: 256,
        maxQueryBuffer: MAX_QUERY,
      }),
    held: (p: { bufferedBytes: number }) => p.bufferedBytes,
    limit: MAX_QUERY,
    bytes: fc.oneof(respish, fc.uint8Array({ maxLength: 2000 })),
    output: (text: string) => {
      const at = text.indexOf("-ERR Protocol error:");
      if (at !== -1) {
        const end = text.indexOf("\r\n", at);
        assertEquals(end + 2, text.length, "nothing after the protocol error");
      }
    },
  },
  {
    name: "http_hello",
    handler: () =>
      helloHandler({
        maxRequestLine: 128,
        maxHeaderBytes: 256,
        maxHeaders: 8,
        maxBodyBytes: 64,
      }),
    held: (p: { bufferedBytes: number }) => p.bufferedBytes,
    limit: 128 + 256 + 4 + 1024,
    bytes: fc.oneof(httpish, fc.uint8Array({ maxLength: 2000 })),
    output: (text: string) => {
      const m = /HTTP\/1\.1 (4\d\d|5\d\d) /.exec(text);
      if (m) {
        // The error response is the last one: its body ends the output.
        assert(
          text.indexOf("HTTP/1.1 ", m.index + 1) === -1,
          "nothing after the error response",
        );
      }
    },
  },
  {
    // The chat frames with net/'s LineCodec (its buffer limit is pinned by
    // net/codec's own properties); here: no throw, a close with a reason.
    name: "chat_server",
    handler: () => createChatHandler(),
    codec: chatCodec,
    held: () => 0,
    limit: 0,
    bytes: fc.oneof(lines, fc.uint8Array({ maxLength: 6000 })),
    output: (text: string) => {
      assert(text.startsWith("* welcome "), text.slice(0, 40));
    },
  },
] as unknown as Case<never>[];

interface Seen {
  disconnects: [number, DisconnectReason][];
  errors: string[];
}

// The handler on a TcpServer of its own (with the example's codec, if any),
// recording disconnects and errors. A line the chat codec drops as too long
// is reported through onError by design: not an error here.
function start(
  handler: NetworkHandler<unknown>,
  codec: (() => unknown) | undefined,
): { port: number; seen: Seen } & AsyncDisposable {
  const seen: Seen = { disconnects: [], errors: [] };
  const wrapped: NetworkHandler<unknown> = {
    ...handler,
    onDisconnect(ctx, id, reason) {
      seen.disconnects.push([id, reason]);
      handler.onDisconnect?.(ctx, id, reason);
    },
    onError(ctx, error, id) {
      if (!(error instanceof FrameTooLargeError)) {
        seen.errors.push(String(error));
      }
      handler.onError?.(ctx, error, id);
    },
  };
  const config = new TcpServerConfig({ hostname: HOST, port: 0 });
  // The cases differ in their frame types; the server is used untyped.
  const Server = TcpServer as unknown as new (
    config: TcpServerConfig,
    handler: NetworkHandler<unknown>,
    options?: { codec: unknown },
  ) => TcpServer;
  const server = new Server(
    config,
    wrapped,
    codec ? { codec: codec() } : undefined,
  );
  const done = server.run();
  return {
    port: (server.addr as Deno.NetAddr).port,
    seen,
    async [Symbol.asyncDispose]() {
      await within(server.close(), 10_000, "server.close()");
      await within(done, 10_000, "server.run() to resolve");
    },
  };
}

for (const c of cases) {
  Deno.test(`${c.name} handler: arbitrary bytes end in a close with a reason, within its limit`, async () => {
    const over: string[] = [];
    await using harness = start(
      bounded(c.handler(), c.held, c.limit, over) as NetworkHandler<unknown>,
      c.codec,
    );
    await assertProperty(
      fc.asyncProperty(c.bytes, cutPoints, async (bytes, cuts) => {
        const before = harness.seen.disconnects.length;
        const text = await exchange(harness.port, splitAt(bytes, cuts));
        await waitFor(
          () => harness.seen.disconnects.length > before,
          10_000,
          "the disconnect",
        );
        const [, reason] = harness.seen.disconnects.at(-1)!;
        assert(
          reason === "peer closed" || reason === "closed",
          `reason ${reason}; output ${JSON.stringify(text.slice(0, 200))}`,
        );
        assertEquals(harness.seen.errors, []);
        assertEquals(over, []);
        c.output(text);
      }),
      { numRuns: 40 },
    );
  });
}
