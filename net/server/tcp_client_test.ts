import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { EventLoop } from "../../reactor/event_loop.ts";
import { CancelledError, NetError, TimedOutError } from "../errors.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import { TcpClient, type TcpClientOptions } from "./tcp_client.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import { decoder, echoHandler as echo, waitFor } from "../../tests/_helpers.ts";

function echoServer(): { server: TcpServer; running: Promise<void> } {
  const server = new TcpServer(new TcpServerConfig(), echo);
  return { server, running: server.run() };
}

Deno.test("TcpClient talks to a server with the NetworkHandler interface", async () => {
  const { server, running } = echoServer();
  let text = "";
  const events: string[] = [];
  const client = new TcpClient({
    onConnect: (_ctx, id) => void events.push(`connect ${id}`),
    onData: (_ctx, _id, data) => void (text += decoder.decode(data)),
    onDisconnect: (_ctx, id, reason) => void events.push(`${id} ${reason}`),
  });
  assertFalse(client.connected);
  const id = await client.connect(
    `127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    { timeoutMs: 2000 },
  );
  assertEquals(id, 1);
  assert(client.connected);
  for (let i = 0; i < 100; i++) client.send(`${i},`);
  const expected = Array.from({ length: 100 }, (_, i) => `${i},`).join("");
  await waitFor(() => text.length === expected.length, 5000, "echo");
  assertEquals(text, expected);
  await client.close();
  assertEquals(events, ["connect 1", "1 closed"]);
  assertFalse(client.connected);
  assertThrows(() => client.send("x"), NetError, "not connected");
  await assertRejects(
    () => client.connect(server.addr as Deno.NetAddr),
    NetError,
  );
  await server.shutdown({ timeoutMs: 1000 });
  await running;
});

Deno.test("TcpClient runs on a caller's loop", async () => {
  const loop = new EventLoop();
  const running = loop.run();
  const server = new TcpServer(new TcpServerConfig(), echo);
  server.start(loop);
  const got = Promise.withResolvers<string>();
  const client = new TcpClient({
    onData: (_ctx, _id, data) => got.resolve(decoder.decode(data)),
  }, { loop });
  await client.connect(server.addr as Deno.NetAddr);
  client.send("same loop");
  assertEquals(await got.promise, "same loop");
  await client.close();
  await server.close();
  loop.stop();
  await running;
  await loop[Symbol.asyncDispose]();
});

Deno.test("TcpClient connect times out against a full backlog", async () => {
  // A listener nobody accepts on, with a backlog of 1: once the queue is
  // full, the kernel drops new SYNs and connect() hangs.
  const listener = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
    tcpBacklog: 1,
  });
  const { port } = listener.addr as Deno.NetAddr;
  const fillers: Deno.Conn[] = [];
  const fill = AbortSignal.timeout(300);
  try {
    for (let i = 0; i < 8; i++) {
      fillers.push(
        await Deno.connect({ hostname: "127.0.0.1", port, signal: fill }),
      );
    }
  } catch {
    // The backlog is full: this connect hung until the signal.
  }
  const client = new TcpClient(echo);
  const error = await assertRejects(
    () => client.connect({ port }, { timeoutMs: 100 }),
    TimedOutError,
    "'timeoutMs' was 100",
  );
  assertEquals(error.kind, "timed-out");
  await client.close();
  for (const conn of fillers) conn.close();
  listener.close();
});

Deno.test("TcpClient connect is cancelled by its signal", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  const client = new TcpClient(echo);
  const error = await assertRejects(
    () => client.connect({ port: 1 }, { signal: controller.signal }),
    CancelledError,
  );
  assertEquals((error.cause as Error).message, "stop");
  await client.close();
});

Deno.test("TcpClient reports a refused connect with Deno's error", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  const client = new TcpClient(echo);
  await assertRejects(
    () => client.connect({ port }, { timeoutMs: 2000 }),
    Deno.errors.ConnectionRefused,
  );
  await client.close();
});

Deno.test("TcpClient reconnects with capped exponential backoff", async () => {
  // The server drops every connection right away; the client keeps coming
  // back with a new id until maxAttempts failed attempts in a row.
  const server = new TcpServer(new TcpServerConfig(), {
    onData() {},
    onConnect(ctx, id) {
      ctx.closeConnection(id);
    },
  });
  const running = server.run();
  const ids: number[] = [];
  const reasons: DisconnectReason[] = [];
  const client = new TcpClient({
    onData() {},
    onConnect: (_ctx, id) => void ids.push(id),
    onDisconnect: (_ctx, _id, reason) => void reasons.push(reason),
  }, { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
  await client.connect(server.addr as Deno.NetAddr);
  await waitFor(() => ids.length >= 4, 5000, "reconnects");
  await client.close();
  const seen = ids.length;
  assertEquals(ids.slice(0, 4), [1, 2, 3, 4]);
  assert(reasons.slice(0, 3).every((r) => r === "peer closed"));
  await server.shutdown({ timeoutMs: 500 });
  await running;
  // Closed: no more attempts.
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(ids.length, seen);
});

Deno.test("TcpClient gives up after maxAttempts failed reconnects", async () => {
  const server = new TcpServer(new TcpServerConfig(), echo);
  const running = server.run();
  const errors: Error[] = [];
  const client = new TcpClient({
    onData() {},
    onError: (_ctx, error) => void errors.push(error),
  }, { reconnect: { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 4 } });
  await client.connect(server.addr as Deno.NetAddr);
  // Take the server away: every reconnect is refused.
  await server.shutdown({ force: true });
  await running;
  await waitFor(() => errors.length === 5, 5000, "attempts exhausted");
  for (const error of errors.slice(0, 4)) {
    assertInstanceOf(error, Deno.errors.ConnectionRefused);
  }
  assertInstanceOf(errors[4], NetError);
  assertEquals(
    errors[4]!.message,
    "Cannot reconnect as 'maxAttempts' was reached: 4",
  );
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(errors.length, 5);
  await client.close();
});

Deno.test("TcpClient counts connections dropped at once as failed attempts", async () => {
  // A server that accepts and drops at once must not be hammered forever:
  // short-lived connections do not reset the backoff, so maxAttempts ends it.
  let accepted = 0;
  const server = new TcpServer(new TcpServerConfig(), {
    onData() {},
    onConnect(ctx, id) {
      accepted++;
      ctx.closeConnection(id);
    },
  });
  const running = server.run();
  const errors: Error[] = [];
  const client = new TcpClient({
    onData() {},
    onError: (_ctx, error) => void errors.push(error),
  }, {
    reconnect: {
      initialDelayMs: 1,
      maxDelayMs: 4,
      maxAttempts: 3,
      stableAfterMs: 60_000,
    },
  });
  await client.connect(server.addr as Deno.NetAddr);
  await waitFor(() => errors.length === 1, 5000, "attempts exhausted");
  assertEquals(
    errors[0]!.message,
    "Cannot reconnect as 'maxAttempts' was reached: 3",
  );
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(accepted, 4); // the first connection and three reconnects
  await client.close();
  await server.shutdown({ timeoutMs: 500 });
  await running;
});

Deno.test("TcpClient validates its reconnect policy and handler", () => {
  assertThrows(
    () => new TcpClient(echo, { reconnect: { maxDelayMs: -1 } }),
    RangeError,
    "'reconnect.maxDelayMs' must be an integer from 0 to 2147483647: received -1",
  );
  assertThrows(
    () => new TcpClient(echo, { reconnect: { initialDelayMs: 1.5 } }),
    RangeError,
    "Cannot create client as 'reconnect.initialDelayMs' must be an integer from 0 to 2147483647: received 1.5",
  );
  assertThrows(
    () =>
      new TcpClient(echo, {
        reconnect: { initialDelayMs: 1000, maxDelayMs: 10 },
      }),
    RangeError,
    "Cannot create client as 'reconnect.maxDelayMs' must be at least 'reconnect.initialDelayMs' (1000): received 10",
  );
  assertThrows(
    () => new TcpClient(echo, { reconnect: { maxAttempts: 0 } }),
    RangeError,
    "Cannot create client as 'reconnect.maxAttempts' must be a positive integer or Infinity: received 0",
  );
  assertThrows(
    () => new TcpClient({} as NetworkHandler),
    TypeError,
    "'handler.onData' must be a function",
  );
});

Deno.test("TcpClient validates its connection options like TcpServerConfig (issue 9)", async () => {
  const A = "Cannot create client as ";
  const cases: [TcpClientOptions, ErrorConstructor, string][] = [
    [
      { idleTimeoutMs: 1.5 },
      RangeError,
      `${A}'idleTimeoutMs' must be an integer from 0 to 2147483647: received 1.5`,
    ],
    [
      { maxWriteBuffer: 2 ** 40 },
      RangeError,
      `${A}'maxWriteBuffer' must be an integer from 1 to 2 ** 30 or Infinity: received 1099511627776`,
    ],
    [
      { writeHighWaterMark: 65536, maxWriteBuffer: 1000 },
      RangeError,
      `${A}'maxWriteBuffer' must be at least 'writeHighWaterMark' (65536): received 1000`,
    ],
    [
      { writeHighWaterMark: 100, writeLowWaterMark: 100 },
      RangeError,
      `${A}'writeLowWaterMark' must be less than 'writeHighWaterMark' (100): received 100`,
    ],
    [
      { noDelay: "yes" as unknown as boolean },
      TypeError,
      `${A}'noDelay' must be a boolean: received 'yes'`,
    ],
    [
      { loop: {} as EventLoop },
      TypeError,
      `${A}'loop' must be an EventLoop: received an object`,
    ],
  ];
  for (const [options, Class, message] of cases) {
    assertThrows(() => new TcpClient(echo, options), Class, message);
  }
  await using client = new TcpClient(echo);
  await assertRejects(
    () => client.connect("127.0.0.1:1", { timeoutMs: -0.5 }),
    RangeError,
    "Cannot connect as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received -0.5",
  );
  await assertRejects(
    () => client.connect("127.0.0.1:1", { signal: {} as AbortSignal }),
    TypeError,
    "Cannot connect as 'signal' must be an AbortSignal: received an object",
  );
});

Deno.test("TcpClient over TLS", async () => {
  const cert = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_cert.pem", import.meta.url),
  );
  const key = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_key.pem", import.meta.url),
  );
  const server = new TcpServer(
    new TcpServerConfig({ tls: { cert, key } }),
    echo,
  );
  const running = server.run();
  const got = Promise.withResolvers<string>();
  const client = new TcpClient({
    onData: (_ctx, _id, data) => got.resolve(decoder.decode(data)),
  }, { tls: { caCerts: [cert], hostname: "localhost" } });
  await client.connect(server.addr as Deno.NetAddr, { timeoutMs: 5000 });
  client.send("over tls");
  assertEquals(await got.promise, "over tls");
  await client.close();
  await server.shutdown({ timeoutMs: 1000 });
  await running;
});

Deno.test("TcpClient over a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/client.sock`;
  const server = new TcpServer(new TcpServerConfig({ path }), echo);
  const running = server.run();
  const got = Promise.withResolvers<string>();
  const client = new TcpClient({
    onData: (_ctx, _id, data) => got.resolve(decoder.decode(data)),
  });
  await client.connect({ transport: "unix", path }, { timeoutMs: 2000 });
  client.send("unix");
  assertEquals(await got.promise, "unix");
  await client.close();
  await server.shutdown({ timeoutMs: 1000 });
  await running;
  await Deno.remove(dir, { recursive: true });
});

Deno.test("TcpClient stops reconnecting when its connect signal aborts", async () => {
  const server = new TcpServer(new TcpServerConfig(), echo);
  const running = server.run();
  const controller = new AbortController();
  let connects = 0;
  const client = new TcpClient({
    onData() {},
    onConnect: () => void connects++,
  }, { reconnect: { initialDelayMs: 30, maxDelayMs: 30 } });
  await client.connect(server.addr as Deno.NetAddr, {
    signal: controller.signal,
  });
  controller.abort();
  // The server drops the connection: with the signal aborted, no retry.
  server.context.closeConnection(1);
  await waitFor(() => !client.connected, 2000, "disconnect");
  await new Promise((r) => setTimeout(r, 150));
  assertEquals(connects, 1);
  assertEquals(server.stats().accepted, 1);
  await client.close();
  await server.shutdown({ timeoutMs: 500 });
  await running;
});
