// The worker's claim policy, as functions of the shared memory and a batch
// only (no worker state), so that it can be tested without workers:
//
// - which task next: the lowest effective priority (a task climbs one
//   priority per `agingMs` of waiting), oldest first among equals;
// - how many: a fair share of what waits, at most MAX_BATCH, about
//   BATCH_BUDGET_MS of estimated run time, SIDE_BATCH_BYTES of inputs that
//   come by postMessage, and a task whose input buffers move runs alone;
// - giving back: once a batch has run past its budget and a more urgent task
//   waits, the unstarted rest goes back to the front of its rings.

import * as L from "./_layout.ts";
import type { SharedMemory } from "./_layout.ts";
import {
  decodeArena,
  isSide,
  K_SIDE,
  K_SIDE_MOVED,
  readSlotInput,
  usesArena,
  writeSlot,
} from "./_codec.ts";

/** Estimated run time a batch is sized for, in milliseconds. */
export const BATCH_BUDGET_MS = 0.25;
/** Input bytes coming by postMessage that end a batch. */
export const SIDE_BATCH_BYTES = 256 * 1024;

/** A worker's claimed batch: parallel arrays indexed by batch slot. */
export class Batch {
  /** Tasks in the batch. */
  n = 0;
  /** When it was claimed (ms, absolute). */
  claimTime = 0;
  readonly ids: Int32Array = new Int32Array(L.MAX_BATCH);
  readonly fns: Int32Array = new Int32Array(L.MAX_BATCH);
  /** 1: the input comes by postMessage. */
  readonly side: Uint8Array = new Uint8Array(L.MAX_BATCH);
  /** The kind of the slot the task came from. */
  readonly kinds: Int32Array = new Int32Array(L.MAX_BATCH);
  /** The priority ring it came from. */
  readonly rings: Int32Array = new Int32Array(L.MAX_BATCH);
  /** Its effective (aged) priority at the claim. */
  readonly effs: Int32Array = new Int32Array(L.MAX_BATCH);
  /** Its submission time (ms, absolute). */
  readonly enqueued: Float64Array = new Float64Array(L.MAX_BATCH);
  readonly inputs: unknown[] = new Array(L.MAX_BATCH);
}

/** Tasks waiting in the rings (not cancelled). */
export function waitingTasks(i32: Int32Array): number {
  let n = 0;
  for (let p = 0; p < L.PRIORITIES; p++) n += Atomics.load(i32, L.QUEUED + p);
  return n;
}

/** Whether a task of a ring more urgent than priority `eff` waits. */
export function urgentWaiting(i32: Int32Array, eff: number): boolean {
  for (let p = 0; p < eff; p++) {
    if (Atomics.load(i32, L.QUEUED + p) > 0) return true;
  }
  return false;
}

// Scratch of one claim or hand-back (they run under the lock, one at a time
// per worker).
const heads = new Int32Array(L.PRIORITIES);
const tails = new Int32Array(L.PRIORITIES);
const taken = new Int32Array(L.PRIORITIES);
const arenaEnd = new Int32Array(L.PRIORITIES);
const arenaMoved = new Uint8Array(L.PRIORITIES);

/**
 * Claims a batch for the worker whose area header is at Int32 index `base`,
 * into `batch`; returns its size (0: nothing waits). `costs[fn]` is the
 * estimated run time of task function `fn` (NaN: unknown). Publishes the
 * batch's ids in the area (the pool looks there to cancel).
 */
export function claimBatch(
  mem: SharedMemory,
  base: number,
  batch: Batch,
  costs: Float64Array,
  now: number,
): number {
  const { i32, f64, lay } = mem;
  batch.n = 0;
  const available = waitingTasks(i32);
  if (available === 0) return 0;
  // Leave work for the others: at most a fair share of what waits.
  const workers = Math.max(1, Atomics.load(i32, L.LIVE_WORKERS));
  const limit = Math.min(L.MAX_BATCH, Math.ceil(available / workers));
  L.lock(i32, true);
  let n = 0;
  // Heads and tails are read once and written back once: only lock holders
  // move heads, and tasks appended meanwhile wait for the next claim.
  for (let p = 0; p < L.PRIORITIES; p++) {
    heads[p] = Atomics.load(i32, L.HEAD + p);
    tails[p] = Atomics.load(i32, L.TAIL + p);
    taken[p] = 0;
    arenaMoved[p] = 0;
  }
  try {
    batch.claimTime = now;
    const aging = f64[L.F_AGING_MS]!;
    let budget = BATCH_BUDGET_MS;
    let sideBytes = 0;
    while (n < limit) {
      let best = -1;
      let bestEff = L.PRIORITIES;
      let bestEnq = Infinity;
      let bestSlot = 0;
      for (let p = 0; p < L.PRIORITIES; p++) {
        let h = heads[p]!;
        const tail = tails[p]!;
        let slot = 0;
        while (h !== tail) {
          slot = L.slotOffset(lay, p, h);
          const s32 = slot >> 2;
          if (Atomics.load(i32, s32 + L.S_STATE) !== L.CANCELLED) break;
          // Tombstone of a task aborted while queued: drop it (and its bytes).
          i32[s32 + L.S_STATE] = L.EMPTY;
          if (usesArena(i32[s32 + L.S_KIND]!)) {
            arenaEnd[p] = i32[s32 + L.S_AEND]!;
            arenaMoved[p] = 1;
          }
          h = (h + 1) | 0;
        }
        heads[p] = h;
        if (h === tail) continue;
        const enq = f64[(slot >> 3) + L.S_ENQUEUED]!;
        let eff = p;
        if (aging > 0) eff = Math.max(0, p - Math.floor((now - enq) / aging));
        if (eff < bestEff || (eff === bestEff && enq < bestEnq)) {
          best = p;
          bestEff = eff;
          bestEnq = enq;
          bestSlot = slot;
        }
      }
      if (best < 0) break;
      const s32 = bestSlot >> 2;
      const kind = i32[s32 + L.S_KIND]!;
      // A task whose input buffers move cannot be handed back (the pool no
      // longer has them): it runs in a batch of its own.
      if (kind === K_SIDE_MOVED && n > 0) break;
      heads[best] = (heads[best]! + 1) | 0;
      const arena = usesArena(kind);
      if (arena) {
        arenaEnd[best] = i32[s32 + L.S_AEND]!;
        arenaMoved[best] = 1;
      }
      if (
        Atomics.compareExchange(i32, s32 + L.S_STATE, L.READY, L.CLAIMED) !==
          L.READY
      ) {
        continue; // cancelled by the pool between our look and the claim
      }
      taken[best]!++;
      const id = i32[s32 + L.S_ID]!;
      const fn = i32[s32 + L.S_FN]!;
      batch.ids[n] = id;
      batch.fns[n] = fn;
      batch.kinds[n] = kind;
      batch.rings[n] = best;
      batch.effs[n] = bestEff;
      batch.enqueued[n] = bestEnq;
      // Under the lock: the pool raises a flag only after finding the id here.
      i32[base + L.W_CANCEL + n] = 0;
      i32[base + L.W_BATCH_IDS + n] = id;
      if (isSide(kind)) {
        batch.side[n] = 1;
        batch.inputs[n] = undefined;
        // Big inputs come in smaller batches: one huge message would leave
        // this worker idle until all of it is cloned.
        sideBytes += i32[s32 + L.S_LEN]!;
      } else if (arena) {
        batch.side[n] = 0;
        const len = i32[s32 + L.S_LEN]!;
        const start = (arenaEnd[best]! - len) & (L.ARENA_BYTES - 1);
        batch.inputs[n] = decodeArena(
          mem,
          kind,
          lay.arena + best * L.ARENA_BYTES + start,
          len,
        );
      } else {
        batch.side[n] = 0;
        batch.inputs[n] = readSlotInput(mem, bestSlot);
      }
      n++;
      if (kind === K_SIDE_MOVED) break;
      const cost = costs[fn]!;
      budget -= cost === cost ? cost : BATCH_BUDGET_MS;
      if (budget <= 0 || sideBytes >= SIDE_BATCH_BYTES) break;
    }
  } finally {
    batch.n = n;
    Atomics.store(i32, base + L.W_BATCH_N, n);
    Atomics.store(i32, base + L.W_BATCH_POS, -1);
    for (let p = 0; p < L.PRIORITIES; p++) {
      Atomics.store(i32, L.HEAD + p, heads[p]!);
      if (arenaMoved[p] === 1) {
        Atomics.store(i32, L.ARENA_HEAD + p, arenaEnd[p]!);
      }
      if (taken[p]! > 0) Atomics.sub(i32, L.QUEUED + p, taken[p]!);
    }
    L.unlock(i32);
  }
  return n;
}

/** Moved input buffers cannot be sent again; a cancelled task is settled. */
function canHandBack(i32: Int32Array, base: number, batch: Batch, i: number) {
  return batch.kinds[i] !== K_SIDE_MOVED && i32[base + L.W_CANCEL + i] === 0;
}

/** Moves batch entry `from` to `to` (to < from), its cancel flag with it. */
function moveEntry(
  i32: Int32Array,
  base: number,
  batch: Batch,
  from: number,
  to: number,
): void {
  batch.ids[to] = batch.ids[from]!;
  batch.fns[to] = batch.fns[from]!;
  batch.side[to] = batch.side[from]!;
  batch.kinds[to] = batch.kinds[from]!;
  batch.rings[to] = batch.rings[from]!;
  batch.effs[to] = batch.effs[from]!;
  batch.enqueued[to] = batch.enqueued[from]!;
  batch.inputs[to] = batch.inputs[from];
  batch.inputs[from] = undefined;
  i32[base + L.W_BATCH_IDS + to] = batch.ids[from]!;
  i32[base + L.W_CANCEL + to] = i32[base + L.W_CANCEL + from]!;
}

/**
 * Gives the unstarted tasks `from..n-1` of the batch back to the front of
 * their rings (in their order, with their submission times), so that a more
 * urgent task runs first and other workers may take them. Inline inputs are
 * written back to the slot; other inputs are left to the pool, which still
 * holds them, to send by postMessage at the next claim. A task whose input
 * buffers moved here stays in the batch, as does one whose ring has no room
 * or that was cancelled (it is skipped when its turn comes). Returns the new
 * batch size.
 */
export function handBack(
  mem: SharedMemory,
  base: number,
  batch: Batch,
  from: number,
): number {
  const { i32, lay } = mem;
  const n = batch.n;
  L.lock(i32, true);
  let kept = from;
  try {
    for (let p = 0; p < L.PRIORITIES; p++) {
      heads[p] = Atomics.load(i32, L.HEAD + p);
      taken[p] = 0;
      let count = 0;
      for (let i = from; i < n; i++) {
        if (batch.rings[i] === p && canHandBack(i32, base, batch, i)) count++;
      }
      // Room for them plus the slots the pool may have written but not
      // published yet, and one it may be filling right now (it
      // read the head before we moved it).
      const used = (Atomics.load(i32, L.TAIL + p) - heads[p]!) | 0;
      tails[p] = used + count + L.PUBLISH_EVERY + 1 < L.RING_SLOTS ? count : 0;
    }
    for (let i = from; i < n; i++) {
      const p = batch.rings[i]!;
      if (tails[p] === 0 || !canHandBack(i32, base, batch, i)) {
        if (kept !== i) moveEntry(i32, base, batch, i, kept);
        kept++;
        continue;
      }
      const slot = L.slotOffset(lay, p, heads[p]! - tails[p]! + taken[p]!);
      taken[p]!++;
      const s32 = slot >> 2;
      const kind = batch.kinds[i]!;
      const input = batch.inputs[i];
      batch.inputs[i] = undefined;
      if (
        !writeSlot(
          mem,
          slot,
          batch.ids[i]!,
          batch.fns[i]!,
          batch.enqueued[i]!,
          input,
          !isSide(kind) && !usesArena(kind),
        )
      ) {
        i32[s32 + L.S_KIND] = K_SIDE;
        i32[s32 + L.S_LEN] = 0;
      }
      Atomics.store(i32, s32 + L.S_STATE, L.READY);
    }
    for (let p = 0; p < L.PRIORITIES; p++) {
      if (taken[p] === 0) continue;
      Atomics.store(i32, L.HEAD + p, (heads[p]! - taken[p]!) | 0);
      Atomics.add(i32, L.QUEUED + p, taken[p]!);
    }
    batch.n = kept;
    Atomics.store(i32, base + L.W_BATCH_N, kept);
  } finally {
    L.unlock(i32);
  }
  return kept;
}
