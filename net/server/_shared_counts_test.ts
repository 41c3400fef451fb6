import { assert, assertEquals } from "@std/assert";
import { SharedCounts } from "./_shared_counts.ts";
import { MAX_WORKERS, ownerOf } from "./_worker_protocol.ts";
import {
  C_ACCEPTED,
  C_BYTES_PENDING,
  C_BYTES_RECEIVED,
  C_CLOSED,
  C_DATA_EVENTS,
  COUNTER_FIELDS,
  REASON_FIELD,
} from "./_server_counters.ts";

/** What a Worker's table counts for `accepted` and `closed` connections. */
function count(slot: Float64Array, accepted: number, closed: number): void {
  slot[C_ACCEPTED]! += accepted;
  slot[C_CLOSED]! += closed;
  slot[REASON_FIELD["peer closed"]]! += closed;
  slot[C_BYTES_RECEIVED]! += 10 * accepted;
  slot[C_DATA_EVENTS]! += accepted;
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

Deno.test("SharedCounts sums the Workers' counters and keeps a crashed Worker's, its open connections closed as 'worker crashed'", () => {
  const main = new SharedCounts();
  const w0 = new SharedCounts(main.buffer);
  const w1 = new SharedCounts(main.buffer);
  count(w0.slot(0), 5, 4);
  count(w1.slot(1), 7, 5);
  w1.slot(1)[C_BYTES_PENDING] = 100;
  assert(w1.admit(1, Infinity));
  assert(w1.admit(1, Infinity));
  let sum = main.sum(2);
  assertEquals([sum.accepted, sum.closed, sum.bytesReceived], [12, 9, 120]);
  assertEquals(sum.disconnects["peer closed"], 9);
  assertEquals(sum.bytesPending, 100);

  assertEquals(main.retire(1), 2);
  // The replacement starts from zero; the crashed Worker's counts stay, its
  // queued bytes do not.
  assertEquals(w1.slot(1), new Float64Array(COUNTER_FIELDS));
  count(w1.slot(1), 1, 0);
  sum = main.sum(2);
  assertEquals(sum.connections, 0);
  assertEquals([sum.accepted, sum.closed], [13, 11]);
  assertEquals(sum.disconnects["worker crashed"], 2);
  assertEquals(sum.disconnects["peer closed"], 9);
  assertEquals(sum.bytesPending, 0);
});

Deno.test("SharedCounts gives each Worker its own 128-byte-aligned slot", () => {
  const counts = new SharedCounts();
  const slots = Array.from({ length: MAX_WORKERS }, (_, i) => counts.slot(i));
  for (const [i, slot] of slots.entries()) {
    assertEquals(slot.length, COUNTER_FIELDS);
    assertEquals(slot.byteOffset % 128, 0, `slot ${i}`);
    if (i > 0) {
      assert(slot.byteOffset >= slots[i - 1]!.byteOffset + 8 * COUNTER_FIELDS);
    }
  }
  // Filling every field of one slot leaves the neighbours alone.
  slots[1]!.fill(7);
  assertEquals(slots[0], new Float64Array(COUNTER_FIELDS));
  assertEquals(slots[2], new Float64Array(COUNTER_FIELDS));
});
