// UDP on the loop: one datagram per event with its sender, sendTo through a
// bounded queue, send errors that cost one datagram, and the clear error
// without --unstable-net (checked in a child process without the flag).

import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { EventLoop } from "./event_loop.ts";
import { Interest } from "./interest.ts";
import { Timer } from "./timer.ts";
import { isDatagramAvailable, listenDatagram } from "./datagram.ts";
import { MAX_QUEUED_DATAGRAMS } from "./_datagram_source.ts";

const udp = isDatagramAvailable();
const needsFlag = (name: string) =>
  udp ? name : `${name} (ignored: needs --unstable-net)`;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const LOCAL = { hostname: "127.0.0.1", port: 0 };

Deno.test({
  name: needsFlag(
    "datagram source: one datagram per event, with its sender; sendTo answers",
  ),
  ignore: !udp,
  async fn() {
    await using loop = new EventLoop();
    const socket = listenDatagram(LOCAL);
    const seen: { text: string; from: Deno.NetAddr }[] = [];
    loop.register(socket, 1, Interest.READABLE, (event, loop) => {
      seen.push({
        text: dec(event.data),
        from: event.remoteAddr as Deno.NetAddr,
      });
      loop.sendTo(
        event.token,
        enc(`echo ${dec(event.data)}`),
        event.remoteAddr!,
      );
    });
    const running = loop.run();
    const peer = listenDatagram(LOCAL);
    try {
      for (const text of ["one", "two", "three"]) {
        await peer.send(enc(text), socket.addr);
      }
      const replies: string[] = [];
      for (let i = 0; i < 3; i++) replies.push(dec((await peer.receive())[0]));
      assertEquals(replies.sort(), ["echo one", "echo three", "echo two"]);
      assertEquals(seen.map((s) => s.text).sort(), ["one", "three", "two"]);
      const port = (peer.addr as Deno.NetAddr).port;
      assert(
        seen.every((s) =>
          s.from.port === port && s.from.hostname === "127.0.0.1"
        ),
      );
    } finally {
      peer.close();
      loop.stop();
      await running;
    }
  },
});

Deno.test({
  name: needsFlag(
    "datagram source: sendTo drops beyond the bounded queue, then WRITABLE when drained",
  ),
  ignore: !udp,
  async fn() {
    await using loop = new EventLoop({
      writeHighWaterMark: 4096,
      writeLowWaterMark: 1024,
    });
    const socket = listenDatagram(LOCAL);
    const sink = listenDatagram(LOCAL); // nobody reads it: datagrams just land
    let writable = 0;
    loop.register(socket, 1, Interest.WRITABLE, (event, loop) => {
      if (event.writable) {
        writable++;
        loop.stop();
      }
    });
    // The registration's own writable event comes first.
    await loop.run();
    assertEquals(writable, 1);
    const results: boolean[] = [];
    for (let i = 0; i < MAX_QUEUED_DATAGRAMS + 10; i++) {
      results.push(loop.sendTo(1, new Uint8Array(16), sink.addr));
    }
    // Above the high-water mark (4096 B = 256 datagrams) sendTo says false;
    // past the queue bound the datagrams are dropped.
    assertEquals(results.indexOf(false), 4096 / 16 - 1);
    assertEquals(loop.pendingWriteBytes(1), MAX_QUEUED_DATAGRAMS * 16);
    await loop.run();
    assertEquals(writable, 2);
    assert(loop.pendingWriteBytes(1) < 1024);
    sink.close();
  },
});

Deno.test({
  name: needsFlag(
    "datagram source: a failing send costs one datagram; the socket keeps working",
  ),
  ignore: !udp,
  async fn() {
    const errors: unknown[] = [];
    await using loop = new EventLoop({
      onError: (error) => void errors.push(error),
    });
    const socket = listenDatagram(LOCAL);
    const peer = listenDatagram(LOCAL);
    loop.register(socket, 1, Interest.READABLE, () => {});
    loop.register(new Timer(1), 2, Interest.READABLE, (_event, loop) => {
      loop.sendTo(1, new Uint8Array(70_000), peer.addr); // too long for UDP
      loop.sendTo(1, enc("after"), peer.addr);
    });
    const running = loop.run();
    try {
      assertEquals(dec((await peer.receive())[0]), "after");
      assertEquals(errors.length, 1);
      assertInstanceOf(errors[0], Error);
      assert(loop.has(1));
    } finally {
      peer.close();
      loop.stop();
      await running;
    }
  },
});

Deno.test({
  name: needsFlag("datagram source: sendTo checks its arguments"),
  ignore: !udp,
  async fn() {
    await using loop = new EventLoop();
    const socket = listenDatagram(LOCAL);
    loop.register(socket, 1, Interest.READABLE, () => {});
    loop.register(new Timer(1000), 2, Interest.READABLE, () => {});
    assertThrows(
      () => loop.sendTo(2, new Uint8Array(1), socket.addr),
      TypeError,
      "Cannot send datagram as 'token' is not a datagram socket: received '2'",
    );
    assertThrows(
      () => loop.sendTo(1, "x" as unknown as Uint8Array, socket.addr),
      TypeError,
      "'bytes' must be a Uint8Array",
    );
    assertThrows(
      () => loop.sendTo(1, new Uint8Array(1), {} as Deno.Addr),
      TypeError,
      "'addr' must be an address with 'hostname' and 'port'",
    );
  },
});

Deno.test("listenDatagram without --unstable-net throws an error naming the flag", async () => {
  const url = new URL("./datagram.ts", import.meta.url).href;
  const script = `
    import { isDatagramAvailable, listenDatagram } from ${JSON.stringify(url)};
    console.log(typeof Deno.listenDatagram, isDatagramAvailable());
    try {
      listenDatagram({ hostname: "127.0.0.1", port: 0 });
      console.log("no error");
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stdout = dec(output.stdout);
  assertEquals(output.code, 0, dec(output.stderr));
  const [probe, error] = stdout.trim().split("\n");
  assertEquals(probe, "undefined false");
  assertStringIncludes(
    error!,
    "NotSupported: Cannot listen for datagrams as UDP needs the '--unstable-net' flag",
  );
  assertGreater(error!.length, 0);
});
