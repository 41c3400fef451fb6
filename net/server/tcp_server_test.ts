// TcpServer: serving, ids, handlers and their errors, the context, socket
// options, transports (TCP, Unix, TLS), start-up and bind errors.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { EventLoop } from "../../reactor/event_loop.ts";
import { ConnectionNotFoundError, NetError } from "../errors.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import {
  connectTo,
  decoder,
  echoHandler as echo,
  encoder,
  readAll,
  readN,
  readUntilText,
  serveTcp as serve,
  stopTcp as stop,
  waitFor,
} from "../../tests/_helpers.ts";
import { peer } from "../../tests/_peers.ts";

Deno.test("TcpServer echoes; ids count from 1, are never reused and are not loop tokens", async () => {
  const ids: number[] = [];
  const disconnected: number[] = [];
  const { server, running } = serve({
    ...echo,
    onConnect: (_ctx, id) => void ids.push(id),
    onDisconnect: (_ctx, id) => void disconnected.push(id),
  });
  for (let round = 0; round < 3; round++) {
    const conn = await connectTo(server.addr);
    await conn.write(encoder.encode(`round ${round}`));
    assertEquals(decoder.decode(await readN(conn, 7)), `round ${round}`);
    conn.close();
    await waitFor(() => disconnected.length === round + 1, 2000, "disconnect");
  }
  assertEquals(ids, [1, 2, 3]);
  assertEquals(disconnected, [1, 2, 3]);
  assertEquals(server.connectionCount, 0);
  const stats = server.stats();
  assertEquals(stats.accepted, 3);
  assertEquals(stats.disconnects["peer closed"], 3);
  assertEquals(stats.bytesReceived, 21);
  await stop(server, running);
  assertEquals(server.stats().state, "closed");
});

Deno.test("TcpServer: a throwing handler costs one connection only", async () => {
  const errors: [string, number | undefined][] = [];
  const reasons = new Map<number, DisconnectReason>();
  const { server, running } = serve({
    onData(ctx, id, data) {
      if (decoder.decode(data).includes("boom")) throw new Error("kaboom");
      ctx.sendTo(id, data);
    },
    onError: (_ctx, error, id) => void errors.push([error.message, id]),
    onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
  });
  const good = await connectTo(server.addr);
  const bad = await connectTo(server.addr);
  await good.write(encoder.encode("ok1"));
  assertEquals(decoder.decode(await readN(good, 3)), "ok1");
  await bad.write(encoder.encode("boom"));
  assertEquals((await readAll(bad)).length, 0);
  await waitFor(() => reasons.size === 1, 2000, "handler error");
  assertEquals(reasons.get(2), "handler error");
  assertEquals(errors, [["kaboom", 2]]);
  await good.write(encoder.encode("ok2"));
  assertEquals(decoder.decode(await readN(good, 3)), "ok2");
  assertEquals(server.stats().handlerErrors, 1);
  good.close();
  bad.close();
  await stop(server, running);
});

Deno.test("sendTo from onData after closeConnection of the same id is ConnectionNotFoundError", async () => {
  // A reply from within onData skips the id lookup for the connection
  // being dispatched; once that connection is closed it must not.
  const thrown: unknown[] = [];
  const { server, running } = serve({
    onData(ctx, id) {
      ctx.closeConnection(id);
      try {
        ctx.sendTo(id, "late");
      } catch (error) {
        thrown.push(error);
      }
    },
  });
  const conn = await connectTo(server.addr);
  await conn.write(encoder.encode("x"));
  await waitFor(() => thrown.length === 1, 2000, "the send after close");
  assertInstanceOf(thrown[0], ConnectionNotFoundError);
  assertEquals(await readAll(conn), new Uint8Array(0));
  conn.close();
  await stop(server, running);
});

Deno.test("ServerContext reports unknown ids as ConnectionNotFoundError and keeps user data", async () => {
  const { server, running } = serve<{ n: number }>({
    onConnect(ctx, id) {
      ctx.setData(id, { n: 0 });
    },
    onData(ctx, id) {
      ctx.getData(id)!.n++;
    },
  });
  const conn = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 1, 2000, "accepted");
  const ctx = server.context;
  const error = assertThrows(
    () => ctx.sendTo(99, "x"),
    ConnectionNotFoundError,
  );
  assertEquals(error.connectionId, 99);
  assertEquals(error.kind, "connection-not-found");
  assertThrows(() => ctx.remoteAddr(99), ConnectionNotFoundError);
  assertThrows(() => ctx.setData(99, { n: 1 }), ConnectionNotFoundError);
  assertEquals(ctx.closeConnection(99), false);
  assertEquals(ctx.getData(99), undefined);
  assertEquals(ctx.connectionIds(), [1]);
  const local = conn.localAddr as Deno.NetAddr;
  assertEquals((ctx.remoteAddr(1) as Deno.NetAddr).port, local.port);
  await conn.write(encoder.encode("a"));
  await waitFor(() => ctx.getData(1)?.n === 1, 2000, "data counted");
  assert(ctx.closeConnection(1));
  assertEquals((await readAll(conn)).length, 0);
  assertEquals(server.stats().disconnects.closed, 1);
  conn.close();
  await stop(server, running);
});

Deno.test("ServerContext refuses sends after the write side is shut", async () => {
  let sendError: unknown;
  const { server, running } = serve({
    onData() {},
    onShutdown(ctx) {
      ctx.sendTo(1, "last words\n");
    },
  });
  const conn = await connectTo(server.addr);
  await waitFor(() => server.connectionCount === 1, 2000, "accepted");
  const result = server.shutdown({ timeoutMs: 200 });
  try {
    server.context.sendTo(1, "too late");
  } catch (error) {
    sendError = error;
  }
  assertInstanceOf(sendError, NetError);
  assertEquals((sendError as NetError).kind, "closed");
  assertEquals(await readUntilText(conn, "last words\n"), "last words\n");
  conn.close();
  assertEquals(await result, { closedGracefully: 1, forced: 0 });
  await running;
});

Deno.test("TcpServer applies noDelay and keepAlive to accepted connections", async () => {
  // Spy on the TcpConn prototype: Deno offers no getsockopt.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await connectTo(probe.addr);
  const accepted = await probe.accept();
  const proto = Object.getPrototypeOf(accepted) as Deno.TcpConn;
  client.close();
  accepted.close();
  probe.close();
  const calls: string[] = [];
  const { setNoDelay, setKeepAlive } = proto;
  proto.setNoDelay = function (this: Deno.TcpConn, v?: boolean) {
    calls.push(`noDelay ${v}`);
    return setNoDelay.call(this, v);
  };
  proto.setKeepAlive = function (this: Deno.TcpConn, v?: boolean) {
    calls.push(`keepAlive ${v}`);
    return setKeepAlive.call(this, v);
  };
  try {
    const { server, running } = serve(echo, {
      noDelay: false,
      keepAlive: true,
    });
    const conn = await connectTo(server.addr);
    await waitFor(() => server.connectionCount === 1, 2000, "accepted");
    conn.close();
    await stop(server, running);
    assertEquals(calls, ["noDelay false", "keepAlive true"]);
  } finally {
    proto.setNoDelay = setNoDelay;
    proto.setKeepAlive = setKeepAlive;
  }
});

Deno.test("TcpServer refuses to start twice and reports bind errors", async () => {
  const { server, running } = serve(echo);
  assertThrows(() => server.start(new EventLoop()), Deno.errors.AlreadyExists);
  await assertRejects(() => server.run(), Deno.errors.AlreadyExists);
  const port = (server.addr as Deno.NetAddr).port;
  const other = new TcpServer(new TcpServerConfig({ port }), echo);
  let error: unknown;
  try {
    await other.run();
  } catch (e) {
    error = e;
  }
  assertInstanceOf(error, Deno.errors.AddrInUse);
  await stop(server, running);
  assertThrows(
    () => new TcpServer(new TcpServerConfig(), {} as NetworkHandler),
    TypeError,
    "'handler.onData' must be a function",
  );
});

Deno.test("TcpServer over a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/echo.sock`;
  const { server, running } = serve(echo, { transport: "unix", path });
  assertEquals(server.addr.transport, "unix");
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(encoder.encode("unix!"));
  assertEquals(decoder.decode(await readN(conn, 5)), "unix!");
  conn.close();
  await stop(server, running);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("TcpServer over TLS with ALPN", async () => {
  const cert = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_cert.pem", import.meta.url),
  );
  const key = await Deno.readTextFile(
    new URL("../../tests/testdata/tls_key.pem", import.meta.url),
  );
  const { server, running } = serve(echo, {
    tls: { cert, key, alpnProtocols: ["echo/1", "h2"] },
  });
  const { port } = server.addr as Deno.NetAddr;
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [cert],
    alpnProtocols: ["echo/1"],
  });
  const info = await conn.handshake();
  assertEquals(info.alpnProtocol, "echo/1");
  await conn.write(encoder.encode("secret"));
  assertEquals(decoder.decode(await readN(conn, 6)), "secret");
  conn.close();
  await stop(server, running);
});

Deno.test("TcpServer calls onListening and passes backlog to the listener; broadcast honours except", async () => {
  const listened: Deno.Addr[] = [];
  const seen: Deno.ListenOptions[] = [];
  const listen = Deno.listen;
  // deno-lint-ignore no-explicit-any
  (Deno as any).listen = (options: Deno.ListenOptions) => {
    seen.push(options);
    return listen(options as Deno.TcpListenOptions);
  };
  let server: TcpServer;
  let running: Promise<void>;
  try {
    ({ server, running } = serve({
      onData(ctx, id, data) {
        const text = decoder.decode(data);
        if (text === "one") ctx.broadcast("x", { except: id });
        if (text === "many") ctx.broadcast("y", { except: [1, 2] });
      },
      onListening: (_ctx, addr) => void listened.push(addr),
    }, { tcpBacklog: 7 }));
  } finally {
    // deno-lint-ignore no-explicit-any
    (Deno as any).listen = listen;
  }
  assertEquals(seen.map((o) => o.tcpBacklog), [7]);
  assertEquals(listened, [server.addr]);
  const conns = [
    await connectTo(server.addr),
    await connectTo(server.addr),
    await connectTo(server.addr),
  ];
  await waitFor(() => server.connectionCount === 3, 2000, "accepted");
  await conns[0]!.write(encoder.encode("one"));
  assertEquals(decoder.decode(await readN(conns[1]!, 1)), "x");
  assertEquals(decoder.decode(await readN(conns[2]!, 1)), "x");
  await conns[1]!.write(encoder.encode("many"));
  assertEquals(decoder.decode(await readN(conns[2]!, 1)), "y");
  await stop(server, running);
  // Connection 1 (the sender of "one", left out of "many") got nothing.
  assertEquals((await readAll(conns[0]!)).length, 0);
  assertEquals((await readAll(conns[1]!)).length, 0);
  assertEquals((await readAll(conns[2]!)).length, 0);
  for (const conn of conns) conn.close();
});

const python = peer("python3");

Deno.test({
  name: python.name(
    "TcpServer reports a peer reset as reason 'reset' and a throwing onConnect as 'handler error'",
  ),
  ignore: python.ignore,
  async fn() {
    const reasons = new Map<number, DisconnectReason>();
    const errors: string[] = [];
    const { server, running } = serve({
      onConnect(_ctx, id) {
        if (id === 2) throw new Error("no thanks");
      },
      onData() {},
      onError: (_ctx, error) => void errors.push(error.message),
      onDisconnect: (_ctx, id, reason) => void reasons.set(id, reason),
    });
    // Deno cannot set SO_LINGER; a Python peer closes with linger 0 (RST).
    const { port } = server.addr as Deno.NetAddr;
    const rude = await new Deno.Command("python3", {
      args: [
        "-c",
        "import socket, struct, time\n" +
        `s = socket.create_connection(("127.0.0.1", ${port}))\n` +
        "time.sleep(0.2)\n" +
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n" +
        "s.close()\n",
      ],
    }).output();
    assert(rude.success);
    await waitFor(() => reasons.has(1), 5000, "reset");
    assertEquals(reasons.get(1), "reset");
    const refused = await connectTo(server.addr);
    await waitFor(() => reasons.has(2), 2000, "handler error");
    assertEquals(reasons.get(2), "handler error");
    assertEquals(errors, ["no thanks"]);
    assertEquals((await readAll(refused)).length, 0);
    refused.close();
    assertEquals(server.stats().disconnects.reset, 1);
    await stop(server, running);
  },
});

Deno.test("TcpServer: sendTo copies the bytes unless told not to ({ copy: false })", async () => {
  const { server, running } = serve({
    onData(ctx, id) {
      // Both writes go out after this callback: what the peer reads shows
      // whether sendTo kept a copy or the caller's array.
      const copied = encoder.encode("aa");
      const shared = encoder.encode("bb");
      ctx.sendTo(id, copied);
      ctx.sendTo(id, shared, { copy: false });
      copied.fill(120);
      shared.fill(121);
    },
  });
  try {
    using conn = await connectTo(server.addr);
    await conn.write(encoder.encode("go"));
    assertEquals(decoder.decode(await readN(conn, 4)), "aayy");
  } finally {
    await stop(server, running);
  }
});
