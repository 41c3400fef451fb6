// What TcpServer's connection table adds to the loop, in JavaScript alone:
// connections that are plain objects (no sockets, no system calls), echoed
// by a bare loop handler (the scratch loop of
// examples/scratch_echo_server.ts) and by the table with an echo handler
// (examples/echo_server.ts's `onData` → `sendTo`, TcpServer's path). A real round trip costs about
// 10 µs of CPU and a churned connection about 60 µs (bench/peers.ts), so
// the difference per operation here is that share of the real one.
//
//   deno bench -A net/server/_connection_table_bench.ts

import { EventLoop, Interest } from "../../reactor/mod.ts";
import { onConnection } from "../../examples/scratch_echo_server.ts";
import { echoHandler } from "../../examples/echo_server.ts";
import { ConnectionTable } from "./_connection_table.ts";

const SIZE = 64;
const ROUND_TRIPS = 100;
const CONNS = 50;
const CHURNED = 2_000;

/** Reads `rounds` messages of 64 bytes, each as soon as asked, then EOF. */
class FakeConn {
  #left: number;
  #closed: () => void;
  constructor(rounds: number, closed: () => void) {
    this.#left = rounds;
    this.#closed = closed;
  }
  read(_buf: Uint8Array): Promise<number | null> {
    return Promise.resolve(this.#left-- > 0 ? SIZE : null);
  }
  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.#closed();
  }
  setNoDelay(): void {}
}

/** Serves `conns` fake connections of `rounds` messages; resolves when all closed. */
async function serve(
  table: boolean,
  conns: number,
  rounds: number,
): Promise<void> {
  await using loop = new EventLoop();
  const running = loop.run();
  const closed = Promise.withResolvers<void>();
  let open = conns;
  const onClose = () => {
    if (--open === 0) closed.resolve();
  };
  // The two servers of bench/peers.ts, minus their listeners: the scratch
  // example's handler on the loop, or the echo example's handler behind
  // the connection table.
  const connections = table
    ? new ConnectionTable(loop, echoHandler, {
      noDelay: true,
      keepAlive: false,
      idleTimeoutMs: 0,
      writeHighWaterMark: 64 * 1024,
      maxWriteBuffer: 16 * 1024 * 1024,
    })
    : undefined;
  for (let i = 0; i < conns; i++) {
    const conn = new FakeConn(rounds, onClose) as unknown as Deno.Conn;
    if (connections !== undefined) {
      connections.add(conn);
    } else {
      loop.register(
        conn,
        loop.allocateToken(),
        Interest.READABLE,
        onConnection,
      );
    }
  }
  await closed.promise;
  loop.stop();
  await running;
}

for (const table of [false, true]) {
  const name = table ? "TcpServer's connection table" : "scratch loop";
  Deno.bench({
    name,
    group: `ping-pong: ${CONNS} fake conns × ${ROUND_TRIPS} round trips`,
    baseline: !table,
    n: 300,
    warmup: 50,
    async fn() {
      await serve(table, CONNS, ROUND_TRIPS);
    },
  });
  Deno.bench({
    name,
    group: `churn: ${CHURNED} fake conns, one 64 B echo each`,
    baseline: !table,
    n: 300,
    warmup: 50,
    async fn() {
      await serve(table, CHURNED, 1);
    },
  });
}
