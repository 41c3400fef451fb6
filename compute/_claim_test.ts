// Unit tests of the claim policy, on a shared buffer without any worker.
import { assertEquals } from "@std/assert";
import {
  Batch,
  BATCH_BUDGET_MS,
  claimBatch,
  handBack,
  urgentWaiting,
  waitingTasks,
} from "./_claim.ts";
import { K_SIDE, K_SIDE_MOVED, writeSlot } from "./_codec.ts";
import * as L from "./_layout.ts";
import type { SharedMemory } from "./_layout.ts";

const NOW = 1_000_000;

/** A pool's producer in miniature: writes task `id` to the tail of ring `p`. */
function push(
  mem: SharedMemory,
  p: number,
  id: number,
  input: unknown = id,
  options: { enqueued?: number; fn?: number; kind?: number } = {},
): number {
  const { i32, lay } = mem;
  const tail = Atomics.load(i32, L.TAIL + p);
  const slot = L.slotOffset(lay, p, tail);
  const s32 = slot >> 2;
  const { fn = 0, enqueued = NOW - 1, kind } = options;
  // The pool's own slot writer; a given kind stands for an input elsewhere.
  writeSlot(mem, slot, id, fn, enqueued, input, kind === undefined);
  if (kind !== undefined) {
    i32[s32 + L.S_KIND] = kind;
    i32[s32 + L.S_LEN] = 0;
  }
  Atomics.store(i32, s32 + L.S_STATE, L.READY);
  Atomics.store(i32, L.TAIL + p, tail + 1);
  Atomics.add(i32, L.QUEUED + p, 1);
  return s32;
}

function setup(workers = 1, agingMs = 0) {
  const mem = L.createSharedMemory(2);
  Atomics.store(mem.i32, L.LIVE_WORKERS, workers);
  mem.f64[L.F_AGING_MS] = agingMs;
  const costs = new Float64Array(L.MAX_NAMES).fill(0); // known to be free
  return { mem, base: L.areaBase(mem.lay, 0), batch: new Batch(), costs };
}

function claimedIds(batch: Batch): number[] {
  return Array.from(batch.ids.subarray(0, batch.n));
}

Deno.test("claimBatch() takes the most urgent task first, FIFO within a priority", () => {
  const { mem, base, batch, costs } = setup();
  push(mem, 3, 1);
  push(mem, 2, 2);
  push(mem, 0, 3);
  push(mem, 3, 4);
  assertEquals(claimBatch(mem, base, batch, costs, NOW), 4);
  assertEquals(claimedIds(batch), [3, 2, 1, 4]);
  assertEquals(Array.from(batch.inputs.slice(0, 4)), [3, 2, 1, 4]);
  assertEquals(waitingTasks(mem.i32), 0);
  // Published for the pool's cancel search.
  assertEquals(Atomics.load(mem.i32, base + L.W_BATCH_N), 4);
  assertEquals(
    Array.from(
      mem.i32.subarray(base + L.W_BATCH_IDS, base + L.W_BATCH_IDS + 4),
    ),
    [3, 2, 1, 4],
  );
});

Deno.test("claimBatch() lets a task that waited agingMs per level climb, oldest first among equals", () => {
  const { mem, base, batch, costs } = setup(1, 10);
  push(mem, 3, 1, 1, { enqueued: NOW - 35 }); // low, aged 3 levels: critical
  push(mem, 0, 2, 2, { enqueued: NOW - 1 });
  claimBatch(mem, base, batch, costs, NOW);
  assertEquals(claimedIds(batch), [1, 2]);
  assertEquals(batch.effs[0], 0);
});

Deno.test("claimBatch() takes a fair share of what waits, within the time budget", () => {
  const { mem, base, batch, costs } = setup(2);
  for (let id = 1; id <= 10; id++) push(mem, 2, id);
  assertEquals(claimBatch(mem, base, batch, costs, NOW), 5); // half of 10
  costs[0] = BATCH_BUDGET_MS / 2.5; // 2.5 tasks per budget
  assertEquals(claimBatch(mem, base, batch, costs, NOW), 3);
  assertEquals(claimedIds(batch), [6, 7, 8]);
  costs[0] = NaN; // unknown: one task per batch
  assertEquals(claimBatch(mem, base, batch, costs, NOW), 1);
});

Deno.test("claimBatch() skips tombstones and clears the cancel flags of its slots", () => {
  const { mem, base, batch, costs } = setup();
  const dead = push(mem, 2, 1);
  push(mem, 2, 2);
  Atomics.store(mem.i32, dead + L.S_STATE, L.CANCELLED);
  Atomics.sub(mem.i32, L.QUEUED + 2, 1);
  Atomics.store(mem.i32, base + L.W_CANCEL, L.CANCEL_ABORT); // a previous task's
  assertEquals(claimBatch(mem, base, batch, costs, NOW), 1);
  assertEquals(claimedIds(batch), [2]);
  assertEquals(Atomics.load(mem.i32, base + L.W_CANCEL), 0);
  assertEquals(Atomics.load(mem.i32, L.HEAD + 2), 2);
});

Deno.test("claimBatch() runs a task whose input buffers move in a batch of its own", () => {
  const { mem, base, batch, costs } = setup();
  push(mem, 2, 1);
  push(mem, 2, 2, undefined, { kind: K_SIDE_MOVED });
  push(mem, 2, 3, undefined, { kind: K_SIDE });
  push(mem, 2, 4);
  assertEquals(claimedIds((claimBatch(mem, base, batch, costs, NOW), batch)), [
    1,
  ]);
  assertEquals(claimedIds((claimBatch(mem, base, batch, costs, NOW), batch)), [
    2,
  ]);
  claimBatch(mem, base, batch, costs, NOW);
  assertEquals(claimedIds(batch), [3, 4]);
  assertEquals(Array.from(batch.side.subarray(0, 2)), [1, 0]);
});

Deno.test("handBack() returns the unstarted rest to the front of its rings, in order, with inputs", () => {
  const { mem, base, batch, costs } = setup();
  push(mem, 3, 1, "one");
  push(mem, 3, 2, new Uint8Array([2, 2]));
  push(mem, 2, 3, 3.5);
  push(mem, 3, 4, true);
  push(mem, 3, 5, undefined, { kind: K_SIDE_MOVED }); // next batch
  claimBatch(mem, base, batch, costs, NOW);
  assertEquals(claimedIds(batch), [3, 1, 2, 4]);
  // Task 2 was cancelled meanwhile: it stays (and is skipped when its turn
  // comes); 1 and 4 go back.
  Atomics.store(mem.i32, base + L.W_CANCEL + 2, L.CANCEL_ABORT);
  assertEquals(urgentWaiting(mem.i32, 3), false);
  push(mem, 0, 9);
  assertEquals(urgentWaiting(mem.i32, 3), true);
  assertEquals(handBack(mem, base, batch, 1), 2);
  assertEquals(claimedIds(batch), [3, 2]);
  assertEquals(Atomics.load(mem.i32, base + L.W_CANCEL + 1), L.CANCEL_ABORT);
  assertEquals(Atomics.load(mem.i32, L.QUEUED + 3), 3);
  // The next claim: the urgent task, then the handed-back ones in order.
  claimBatch(mem, base, batch, costs, NOW);
  assertEquals(claimedIds(batch), [9, 1, 4]);
  assertEquals(batch.inputs.slice(0, 3), [9, "one", true]);
  claimBatch(mem, base, batch, costs, NOW);
  assertEquals(claimedIds(batch), [5]);
  assertEquals(waitingTasks(mem.i32), 0);
});

Deno.test("handBack() sends inputs that came from the arena or by message back by message", () => {
  const { mem, base, batch, costs } = setup();
  push(mem, 3, 1);
  push(mem, 3, 2, undefined, { kind: K_SIDE });
  claimBatch(mem, base, batch, costs, NOW);
  batch.inputs[1] = { big: "object" }; // as if it came by postMessage
  handBack(mem, base, batch, 1);
  const slot = L.slotOffset(mem.lay, 3, Atomics.load(mem.i32, L.HEAD + 3));
  assertEquals(mem.i32[(slot >> 2) + L.S_ID], 2);
  assertEquals(mem.i32[(slot >> 2) + L.S_KIND], K_SIDE);
});
