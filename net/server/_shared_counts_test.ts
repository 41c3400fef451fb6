import { assert, assertEquals } from "@std/assert";
import { SharedCounts } from "./_shared_counts.ts";
import { MAX_WORKERS, ownerOf } from "./_worker_protocol.ts";
import type { TcpServerStats } from "./tcp_server_options.ts";
import { zeroDisconnects } from "./_connection_record.ts";

function statsOf(accepted: number, closed: number): TcpServerStats {
  const disconnects = zeroDisconnects();
  disconnects["peer closed"] = closed;
  return {
    state: "listening",
    connections: 0,
    peakConnections: 0,
    accepted,
    closed,
    disconnects,
    bytesReceived: 10 * accepted,
    bytesQueued: 0,
    bytesPending: 0,
    dataEvents: accepted,
    handlerErrors: 0,
    acceptErrors: 0,
    descriptorErrors: 0,
    acceptPauses: 0,
    uptimeMs: 1,
  };
}

Deno.test("SharedCounts ids are unique, carry their owner and grow in accept order", () => {
  const counts = new SharedCounts();
  const seen = new Set<number>();
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const worker = i % 7;
    const id = counts.allocateId(worker);
    assertEquals(ownerOf(id), worker);
    assert(id > last, "ids grow");
    assert(!seen.has(id));
    seen.add(id);
    last = id;
  }
  assert(Number.isSafeInteger(2 ** 32 * MAX_WORKERS + MAX_WORKERS - 1));
});

Deno.test("SharedCounts admits up to the limit over all Workers and keeps the peak", () => {
  const main = new SharedCounts();
  // Each Worker sees the same memory through its own view.
  const w0 = new SharedCounts(main.buffer);
  const w1 = new SharedCounts(main.buffer);
  assert(w0.admit(0, 3));
  assert(w1.admit(1, 3));
  assert(w1.admit(1, 3));
  assertEquals(w0.admit(0, 3), false);
  assertEquals(main.open, 3);
  assertEquals(w1.release(1), 3);
  assertEquals(main.open, 2);
  assert(w0.admit(0, 3));
  const sum = main.sum(2);
  assertEquals([sum.connections, sum.peakConnections], [3, 3]);
});

Deno.test("SharedCounts sums published stats and keeps a crashed Worker's, its open connections closed as 'worker crashed'", () => {
  const main = new SharedCounts();
  const w0 = new SharedCounts(main.buffer);
  const w1 = new SharedCounts(main.buffer);
  w0.publish(0, statsOf(5, 4));
  w1.publish(1, statsOf(7, 5));
  assert(w1.admit(1, Infinity));
  assert(w1.admit(1, Infinity));
  let sum = main.sum(2);
  assertEquals([sum.accepted, sum.closed, sum.bytesReceived], [12, 9, 120]);
  assertEquals(sum.disconnects["peer closed"], 9);

  assertEquals(main.retire(1), 2);
  // The replacement starts from zero; the crashed Worker's counts stay.
  w1.publish(1, statsOf(1, 0));
  sum = main.sum(2);
  assertEquals(sum.connections, 0);
  assertEquals([sum.accepted, sum.closed], [13, 11]);
  assertEquals(sum.disconnects["worker crashed"], 2);
  assertEquals(sum.disconnects["peer closed"], 9);
});
