// Side-by-side round trips over loopback, client and server in this process:
// the reactor's echo against a hand-written `Deno.listen` read/write loop.
// Each iteration includes setting up and tearing down the listener and the
// connections (small next to the 1,000 round trips per connection).
// (The cross-process peer benchmark is bench/peers.ts.)
import { EventLoop } from "./event_loop.ts";
import { Interest } from "./interest.ts";
import { Timer } from "./timer.ts";

const HOST = "127.0.0.1";
const ROUND_TRIPS = 1000;
const SIZE = 64;

async function pingPong(port: number, conns: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: conns }, () => Deno.connect({ hostname: HOST, port })),
  );
  try {
    await Promise.all(clients.map(async (c) => {
      c.setNoDelay(true);
      const msg = new Uint8Array(SIZE);
      const buf = new Uint8Array(SIZE);
      for (let i = 0; i < ROUND_TRIPS; i++) {
        let off = 0;
        while (off < SIZE) off += await c.write(msg.subarray(off));
        off = 0;
        while (off < SIZE) {
          const n = await c.read(buf.subarray(off));
          if (n === null) throw new Error("EOF");
          off += n;
        }
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
}

async function handWritten(conns: number) {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        conn.setNoDelay(true);
        const buf = new Uint8Array(16384);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await conn.write(buf.subarray(off, n));
          }
        } catch {
          /* reset */
        } finally {
          conn.close();
        }
      })());
    }
  })().catch(() => {});
  await pingPong(listener.addr.port, conns);
  listener.close();
  await accepting;
  await Promise.all(served);
}

async function reactor(conns: number) {
  await using loop = new EventLoop();
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  let next = 1;
  loop.register(listener, 0, Interest.READABLE, (event, loop) => {
    if (!event.conn) return;
    (event.conn as Deno.TcpConn).setNoDelay(true);
    loop.register(event.conn, next++, Interest.READABLE, (event, loop) => {
      if (event.data) loop.write(event.token, event.data);
      else if (event.readClosed || event.error) void loop.close(event.token);
    });
  });
  const running = loop.run();
  await pingPong(listener.addr.port, conns);
  loop.stop();
  await running;
}

// The hand-written loop is each group's baseline.
const ECHO_SERVERS = [
  { name: "hand-written Deno.listen loop", serve: handWritten },
  { name: "EventLoop echo", serve: reactor },
];
for (const conns of [1, 50]) {
  const group = `echo ${conns} conn × ${ROUND_TRIPS} round trips of ${SIZE} B`;
  for (const { name, serve } of ECHO_SERVERS) {
    Deno.bench({
      name,
      group,
      baseline: serve === handWritten,
      n: conns === 1 ? 30 : 8,
      warmup: 2,
      // An async function: Deno awaits only those (a returned promise alone
      // would be measured as done at once).
      async fn() {
        await serve(conns);
      },
    });
  }
}

// The JavaScript of one echo round trip alone: connections that are plain
// objects whose reads the bench completes itself (no sockets, no syscalls,
// no kernel noise), so that the reactor's own cost per event can be seen
// against a hand-written read/write loop over the same objects.
class FakeConn {
  complete: ((n: number | null) => void) | undefined = undefined;
  read(_buf: Uint8Array): Promise<number | null> {
    return new Promise((resolve) => (this.complete = resolve));
  }
  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }
  close(): void {
    this.complete?.(null);
  }
}
const FAKE_CONNS = 200;
const FAKE_ROUNDS = 50;

/** Completes every connection's read with 64 bytes, round after round. */
async function driveFake(conns: FakeConn[]): Promise<void> {
  // A macrotask turn: every completion's microtasks have run by then.
  const channel = new MessageChannel();
  let wake = (): void => {};
  channel.port1.onmessage = () => wake();
  const turn = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      channel.port2.postMessage(0);
    });
  const allReading = () => conns.every((c) => c.complete !== undefined);
  try {
    for (let round = 0; round < FAKE_ROUNDS; round++) {
      while (!allReading()) await turn();
      for (const conn of conns) {
        const complete = conn.complete!;
        conn.complete = undefined;
        complete(SIZE);
      }
    }
    while (!allReading()) await turn();
  } finally {
    channel.port1.close();
  }
}

async function handWrittenFake(): Promise<void> {
  const conns = Array.from({ length: FAKE_CONNS }, () => new FakeConn());
  const served = conns.map(async (conn) => {
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  });
  await driveFake(conns);
  for (const conn of conns) conn.close();
  await Promise.all(served);
}

async function reactorFake(): Promise<void> {
  // The largest `eventsCapacity`: no probe for a macrotask turn. driveFake's
  // turns are messages on one busy MessagePort, and Deno delivers the first
  // message of a fresh port (the probe's) only after 128 turns of a busy one
  // (measured on 2.9.6), so with the default the loop held dispatch every
  // 1,024 events waiting for it, and this row measured that wait (2.5× the
  // hand-written loop, against 1.2–1.3× without it). Real I/O completes in
  // turns of its own, and a probe there arrives within the next one or two.
  await using loop = new EventLoop({ eventsCapacity: 2 ** 20 });
  const conns = Array.from({ length: FAKE_CONNS }, () => new FakeConn());
  conns.forEach((conn, i) =>
    loop.register(
      conn as unknown as Deno.Conn,
      i,
      Interest.READABLE,
      (e, l) => {
        if (e.data) l.write(e.token, e.data);
      },
    )
  );
  const running = loop.run();
  await driveFake(conns);
  loop.stop();
  await running;
}

const FAKE_ECHOES = [
  { name: "hand-written loop, fake conns", serve: handWrittenFake },
  { name: "EventLoop echo, fake conns", serve: reactorFake },
];
for (const { name, serve } of FAKE_ECHOES) {
  Deno.bench({
    name,
    group:
      `echo JavaScript only: ${FAKE_CONNS} fake conns × ${FAKE_ROUNDS} round trips`,
    baseline: serve === handWrittenFake,
    n: 200,
    warmup: 20,
    async fn() {
      await serve();
    },
  });
}

Deno.bench({
  name: "dispatch 10,000 Timer-source events",
  group: "dispatch",
  n: 50,
  warmup: 5,
  async fn(b) {
    await using loop = new EventLoop();
    let seen = 0;
    for (let i = 0; i < 10_000; i++) {
      loop.register(new Timer(0), i, Interest.READABLE, () => {
        if (++seen === 10_000) loop.stop();
      });
    }
    await new Promise((r) => setTimeout(r, 2));
    b.start();
    await loop.run();
    b.end();
  },
});
