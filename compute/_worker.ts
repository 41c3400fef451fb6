/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker entry of ComputePool. Idle workers sleep in Atomics.wait on the
// shared control block and claim tasks from the priority rings themselves, in
// batches sized so a batch runs for about BATCH_BUDGET_MS; results go back
// inline through a per-worker completion ring, or by postMessage for values
// that do not fit a slot.

import {
  ARENA_BYTES,
  ARENA_HEAD,
  CANCEL_ABORT,
  CANCELLED,
  CLAIMED,
  D_ID,
  D_KIND,
  D_LEN,
  D_NUM,
  D_RUN,
  D_START,
  decodeArena,
  decodeInline,
  DONE_BYTES,
  DONE_INLINE_BYTES,
  DONE_INLINE_OFFSET,
  DONE_SEQ,
  DONE_SLOTS,
  EMPTY,
  encodeInline,
  F_AGING_MS,
  HEAD,
  type InitMessage,
  isSide,
  K_SIDE,
  K_SIDE_MOVED,
  layout,
  LIVE_WORKERS,
  LOCK,
  MAIN_WAITING,
  MAX_BATCH,
  MAX_NAMES,
  NAME_BYTES,
  now,
  PRIORITIES,
  QUEUED,
  READY,
  RING_SLOTS,
  S_AEND,
  S_ENQUEUED,
  S_FN,
  S_ID,
  S_KIND,
  S_LEN,
  S_NUM,
  S_STATE,
  SHUTDOWN,
  SLEEPERS,
  SLOT_BYTES,
  SLOT_INLINE_BYTES,
  SLOT_INLINE_OFFSET,
  SPINNER,
  TAIL,
  usesArena,
  type Views,
  views,
  W_BATCH_IDS,
  W_BATCH_N,
  W_BATCH_POS,
  W_CANCEL,
  W_CUR,
  W_DONE_HEAD,
  W_DONE_TAIL,
  W_RETIRED,
  WORK_SEQ,
  WORKER_AREA_BYTES,
  WORKER_HEADER_BYTES,
} from "./_shared.ts";
import { serializeError } from "./_errors.ts";
import type { TaskContext } from "./compute_pool.ts";

// A batch runs for about this long before the worker looks at the queues
// again, which bounds how long a newly queued critical task waits.
const BATCH_BUDGET_MS = 0.25;
const SIDE_BATCH_BYTES = 256 * 1024;
const SPIN_MIN_MS = 0.005;
const TINY_MS = 0.005;
const TIMING_GROUP = 16;
const SPIN_MAX_MS = 0.2;

let v: Views;
let i32: Int32Array;
let workerBase = 0; // Int32 index of this worker's area
let doneBase = 0; // byte offset of this worker's completion ring
let ringsBase = 0; // byte offset of ring 0
let arenaBase = 0; // byte offset of arena 0
let namesBase = 0;
let cancelBase = 0; // Int32 index of this worker's cancel flags
let dead = false;
let spinMs = SPIN_MIN_MS;
let doneTail = 0;
let lastEnd = 0;

let taskModule: Record<string, unknown> | undefined;
let importError: unknown;
const fnCache: unknown[] = [];
const fnCost = new Float64Array(MAX_NAMES).fill(NaN);

// The claimed batch.
const bIds = new Int32Array(MAX_BATCH);
const bFns = new Int32Array(MAX_BATCH);
const bSide = new Uint8Array(MAX_BATCH);
const bInputs: unknown[] = new Array(MAX_BATCH);
const bKind = new Int32Array(MAX_BATCH); // slot kind the input came as
const bRing = new Int32Array(MAX_BATCH); // priority ring it came from
const bEff = new Int32Array(MAX_BATCH); // its effective priority at the claim
const bEnq = new Float64Array(MAX_BATCH); // its submission time
let claimTime = 0; // when the batch was claimed

const inputWaiters = new Map<number, (value: unknown) => void>();
const GONE = Symbol("gone");
// What an abandoned async task "returns": main settled it already.
const ABANDONED = Symbol("abandoned");
let current: TaskCtx | undefined;

// A task may end this worker with `self.close()` or `Deno.exit()`; Deno tells
// the main thread nothing (no event), so both are wrapped before the task
// module loads: the worker reports its end like an uncaught error (its task
// rejects, the pool replaces it), then really ends.
const closeSelf = self.close.bind(self);
const exitProcess = Deno.exit.bind(Deno);

function endedByTask(how: string): Error {
  if (current === undefined) {
    return new Error(
      `Cannot keep worker as the task module ended it with ${how}`,
    );
  }
  const name = fnName(bFns[i32[workerBase + W_BATCH_POS]!]!);
  return new Error(
    `Cannot finish task '${name}' as it ended its worker with ${how}`,
  );
}

self.close = function close(): void {
  fatal(endedByTask("self.close()"));
};
Deno.exit = function exit(code?: number): never {
  fatal(endedByTask(`Deno.exit(${code ?? ""})`));
  return exitProcess(code); // in a worker, ends only the worker
};

/** The cancel flag of batch slot `slot` (0: not cancelled). */
function cancelFlag(slot: number): number {
  return Atomics.load(i32, cancelBase + slot);
}

function cancelReason(kind: number): DOMException {
  return kind === CANCEL_ABORT
    ? new DOMException("The task was cancelled", "AbortError")
    : new DOMException("The task timed out", "TimeoutError");
}

class TaskCtx implements TaskContext {
  readonly taskId: number;
  /** Batch slot whose cancel flag is this task's, while it holds it. */
  #slot: number;
  /** The cancel flag's value once seen (it stays, whatever the slot does). */
  #cancelled = 0;
  #controller: AbortController | undefined;
  transferList: Transferable[] | undefined;
  /** Set while the worker awaits this (async) task: stops the wait. */
  onCancel: (() => void) | undefined;

  constructor(taskId: number, slot: number) {
    this.taskId = taskId;
    this.#slot = slot;
  }

  /** The cancel flag (0: none); latched once raised. */
  #flag(): number {
    if (this.#cancelled === 0 && this.#slot >= 0) {
      this.#cancelled = cancelFlag(this.#slot);
    }
    return this.#cancelled;
  }

  /**
   * The task gives up its batch slot (the next batch reuses it): its flag is
   * read one last time and kept.
   */
  release(): void {
    this.#flag();
    this.#slot = -1;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    const flag = this.#flag();
    if (!this.#controller.signal.aborted && flag !== 0) {
      this.#controller.abort(cancelReason(flag));
    }
    return this.#controller.signal;
  }

  cancelled(): boolean {
    return this.#flag() !== 0;
  }

  throwIfCancelled(): void {
    const flag = this.#flag();
    if (flag !== 0) throw cancelReason(flag);
  }

  transfer(...buffers: Transferable[]): void {
    (this.transferList ??= []).push(...buffers);
  }

  abortFromMain(): void {
    const flag = this.#flag();
    if (this.#controller && !this.#controller.signal.aborted) {
      this.#controller.abort(cancelReason(flag === 0 ? CANCEL_ABORT : flag));
    }
    this.onCancel?.();
  }
}

/**
 * Waits for an async task's result, or until the task is cancelled or times
 * out (main's `cancel` message; the flag is checked too in case it came
 * before): then resolves with ABANDONED and the worker moves on. Main settled
 * the task already; whatever the task's promise does later is ignored (its
 * rejection is handled here, so it cannot kill the worker).
 */
function settledOrCancelled(
  value: PromiseLike<unknown>,
  ctx: TaskCtx,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    ctx.onCancel = () => resolve(ABANDONED);
    Promise.resolve(value).then(resolve, reject);
    if (ctx.cancelled()) resolve(ABANDONED);
  });
}

function fnName(index: number): string {
  const at = namesBase + index * NAME_BYTES;
  const len = Atomics.load(i32, at >> 2);
  return new TextDecoder().decode(v.u8.slice(at + 4, at + 4 + len));
}

function resolveFn(index: number): unknown {
  let fn = fnCache[index];
  if (fn === undefined) {
    if (taskModule === undefined) throw importError;
    const name = fnName(index);
    fn = Object.hasOwn(taskModule, name) ? taskModule[name] : null;
    if (typeof fn !== "function") fn = null;
    fnCache[index] = fn;
    if (fn === null) {
      throw new TypeError(
        `Cannot run task as '${name}' is not a function exported by the task module`,
      );
    }
  }
  if (fn === null) {
    throw new TypeError(
      `Cannot run task as '${
        fnName(index)
      }' is not a function exported by the task module`,
    );
  }
  return fn;
}

function liveTasks(): number {
  let n = 0;
  for (let p = 0; p < PRIORITIES; p++) n += Atomics.load(i32, QUEUED + p);
  return n;
}

const heads = new Int32Array(PRIORITIES);
const tails = new Int32Array(PRIORITIES);
const taken = new Int32Array(PRIORITIES);
const arenaEnd = new Int32Array(PRIORITIES);
const arenaMoved = new Uint8Array(PRIORITIES);

/** Claims a batch of tasks; returns how many. */
function claim(): number {
  const available = liveTasks();
  if (available === 0) return 0;
  // Leave work for the others: at most a fair share of what waits.
  const workers = Math.max(1, Atomics.load(i32, LIVE_WORKERS));
  const limit = Math.min(MAX_BATCH, Math.ceil(available / workers));
  for (let tries = 1; Atomics.compareExchange(i32, LOCK, 0, 1) !== 0; tries++) {
    // Another worker (or the pool dropping tombstones) holds it; the critical
    // section is short, but its holder may have lost its core: after a while,
    // stop burning ours.
    if ((tries & 1023) === 0) Atomics.wait(i32, LOCK, 1, 0.05);
  }
  let n = 0;
  // Heads and tails are read once and written back once: only lock holders
  // move heads, and tasks appended meanwhile wait for the next claim.
  for (let p = 0; p < PRIORITIES; p++) {
    heads[p] = Atomics.load(i32, HEAD + p);
    tails[p] = Atomics.load(i32, TAIL + p);
    taken[p] = 0;
    arenaMoved[p] = 0;
  }
  try {
    const t = claimTime = now();
    const aging = v.f64[F_AGING_MS]!;
    const f64 = v.f64;
    let budget = BATCH_BUDGET_MS;
    let sideBytes = 0;
    while (n < limit) {
      let best = -1;
      let bestEff = PRIORITIES;
      let bestEnq = Infinity;
      let bestSlot = 0;
      for (let p = 0; p < PRIORITIES; p++) {
        let h = heads[p]!;
        const tail = tails[p]!;
        let slot = 0;
        while (h !== tail) {
          slot = ringsBase +
            (p * RING_SLOTS + (h & (RING_SLOTS - 1))) * SLOT_BYTES;
          if (Atomics.load(i32, (slot >> 2) + S_STATE) !== CANCELLED) break;
          // Tombstone of a task aborted while queued: drop it (and its bytes).
          i32[(slot >> 2) + S_STATE] = EMPTY;
          if (usesArena(i32[(slot >> 2) + S_KIND]!)) {
            arenaEnd[p] = i32[(slot >> 2) + S_AEND]!;
            arenaMoved[p] = 1;
          }
          h = (h + 1) | 0;
        }
        heads[p] = h;
        if (h === tail) continue;
        const enq = f64[(slot >> 3) + S_ENQUEUED]!;
        let eff = p;
        if (aging > 0) eff = Math.max(0, p - Math.floor((t - enq) / aging));
        if (eff < bestEff || (eff === bestEff && enq < bestEnq)) {
          best = p;
          bestEff = eff;
          bestEnq = enq;
          bestSlot = slot;
        }
      }
      if (best < 0) break;
      const s32 = bestSlot >> 2;
      const kind = i32[s32 + S_KIND]!;
      // A task whose input buffers move cannot be handed back (the pool no
      // longer has them): it runs in a batch of its own.
      if (kind === K_SIDE_MOVED && n > 0) break;
      heads[best] = (heads[best]! + 1) | 0;
      const arena = usesArena(kind);
      if (arena) {
        arenaEnd[best] = i32[s32 + S_AEND]!;
        arenaMoved[best] = 1;
      }
      if (
        Atomics.compareExchange(i32, s32 + S_STATE, READY, CLAIMED) !== READY
      ) {
        continue; // cancelled by the pool between our look and the claim
      }
      taken[best]!++;
      const id = i32[s32 + S_ID]!;
      const fn = i32[s32 + S_FN]!;
      bIds[n] = id;
      bFns[n] = fn;
      bKind[n] = kind;
      bRing[n] = best;
      bEff[n] = bestEff;
      bEnq[n] = bestEnq;
      // Under LOCK: the pool raises a flag only after finding the id here.
      i32[cancelBase + n] = 0;
      i32[workerBase + W_BATCH_IDS + n] = id;
      if (isSide(kind)) {
        bSide[n] = 1;
        bInputs[n] = undefined;
        // Big inputs come in smaller batches: one huge message would leave
        // this worker idle until all of it is cloned.
        sideBytes += i32[s32 + S_LEN]!;
      } else if (arena) {
        bSide[n] = 0;
        const len = i32[s32 + S_LEN]!;
        const start = (arenaEnd[best]! - len) & (ARENA_BYTES - 1);
        bInputs[n] = decodeArena(
          v,
          kind,
          arenaBase + best * ARENA_BYTES + start,
          len,
        );
      } else {
        bSide[n] = 0;
        bInputs[n] = decodeInline(
          v,
          s32 + S_KIND,
          s32 + S_LEN,
          (bestSlot >> 3) + S_NUM,
          bestSlot + SLOT_INLINE_OFFSET,
        );
      }
      n++;
      if (kind === K_SIDE_MOVED) break;
      const cost = fnCost[fn]!;
      budget -= cost === cost ? cost : BATCH_BUDGET_MS;
      if (budget <= 0 || sideBytes >= SIDE_BATCH_BYTES) break;
    }
  } finally {
    Atomics.store(i32, workerBase + W_BATCH_N, n);
    Atomics.store(i32, workerBase + W_BATCH_POS, -1);
    for (let p = 0; p < PRIORITIES; p++) {
      Atomics.store(i32, HEAD + p, heads[p]!);
      if (arenaMoved[p] === 1) Atomics.store(i32, ARENA_HEAD + p, arenaEnd[p]!);
      if (taken[p]! > 0) Atomics.sub(i32, QUEUED + p, taken[p]!);
    }
    Atomics.store(i32, LOCK, 0);
  }
  return n;
}

/** Whether a task of a ring more urgent than priority `eff` waits. */
function urgentWaiting(eff: number): boolean {
  for (let p = 0; p < eff; p++) {
    if (Atomics.load(i32, QUEUED + p) > 0) return true;
  }
  return false;
}

/**
 * Gives the unstarted tasks `from..n-1` of the batch back to the front of
 * their rings (in their order, with their submission times), so that a more
 * urgent task runs first and other workers may take them. Inline inputs are
 * written back to the slot; other inputs are left to the pool, which still
 * holds them, to send by postMessage at the next claim. A task whose input
 * buffers moved here stays in the batch, as does one whose ring has no room.
 * Returns the new batch length.
 */
function handBack(from: number, n: number): number {
  while (Atomics.compareExchange(i32, LOCK, 0, 1) !== 0) {
    // claims are short
  }
  let kept = from;
  try {
    for (let p = 0; p < PRIORITIES; p++) {
      heads[p] = Atomics.load(i32, HEAD + p);
      taken[p] = 0;
      let count = 0;
      for (let i = from; i < n; i++) {
        if (bRing[i] === p && canHandBack(i)) count++;
      }
      // Room for them plus one slot the pool may be filling right now.
      const used = (Atomics.load(i32, TAIL + p) - heads[p]!) | 0;
      tails[p] = used + count + 1 < RING_SLOTS ? count : 0;
    }
    for (let i = from; i < n; i++) {
      const p = bRing[i]!;
      if (tails[p] === 0 || !canHandBack(i)) {
        // Kept (a cancelled one is skipped when its turn comes).
        moveBatchEntry(i, kept++);
        continue;
      }
      const pos = (heads[p]! - tails[p]! + taken[p]!) | 0;
      taken[p]!++;
      const slot = ringsBase + (p * RING_SLOTS + (pos & (RING_SLOTS - 1))) *
          SLOT_BYTES;
      const s32 = slot >> 2;
      i32[s32 + S_ID] = bIds[i]!;
      i32[s32 + S_FN] = bFns[i]!;
      v.f64[(slot >> 3) + S_ENQUEUED] = bEnq[i]!;
      const input = bInputs[i];
      bInputs[i] = undefined;
      if (
        isSide(bKind[i]!) || usesArena(bKind[i]!) || !encodeInline(
          v,
          input,
          s32 + S_KIND,
          s32 + S_LEN,
          (slot >> 3) + S_NUM,
          slot + SLOT_INLINE_OFFSET,
          SLOT_INLINE_BYTES,
        )
      ) {
        i32[s32 + S_KIND] = K_SIDE;
        i32[s32 + S_LEN] = 0;
      }
      Atomics.store(i32, s32 + S_STATE, READY);
    }
    for (let p = 0; p < PRIORITIES; p++) {
      if (taken[p] === 0) continue;
      Atomics.store(i32, HEAD + p, (heads[p]! - taken[p]!) | 0);
      Atomics.add(i32, QUEUED + p, taken[p]!);
    }
    Atomics.store(i32, workerBase + W_BATCH_N, kept);
  } finally {
    Atomics.store(i32, LOCK, 0);
  }
  return kept;
}

/** Moves batch entry `from` to `to` (to <= from), its cancel flag with it. */
function moveBatchEntry(from: number, to: number): void {
  if (from === to) return;
  bIds[to] = bIds[from]!;
  bFns[to] = bFns[from]!;
  bSide[to] = bSide[from]!;
  bInputs[to] = bInputs[from];
  bInputs[from] = undefined;
  bKind[to] = bKind[from]!;
  bRing[to] = bRing[from]!;
  bEff[to] = bEff[from]!;
  bEnq[to] = bEnq[from]!;
  i32[workerBase + W_BATCH_IDS + to] = bIds[from]!;
  i32[cancelBase + to] = i32[cancelBase + from]!;
}

/** Moved input buffers cannot be sent again; a cancelled task is settled. */
function canHandBack(i: number): boolean {
  return bKind[i] !== K_SIDE_MOVED && cancelFlag(i) === 0;
}

function shuttingDown(): boolean {
  return Atomics.load(i32, SHUTDOWN) === 1;
}

/** Whether the pool gave up on this worker (it was stuck in a task). */
function retired(): boolean {
  return Atomics.load(i32, workerBase + W_RETIRED) === 1;
}

/** Spins briefly for work; returns `true` when some arrived. */
function spinForWork(): boolean {
  if (liveTasks() > 0 || shuttingDown()) return true;
  // One idle worker spins for long at a time; the others only briefly, then
  // sleep: they would all burn a core waiting for the same next task (the
  // pool wakes sleepers when more than one task arrives).
  if (Atomics.compareExchange(i32, SPINNER, 0, 1) !== 0) {
    const until = performance.now() + SPIN_MIN_MS;
    while (performance.now() < until) if (liveTasks() > 0) return true;
    return false;
  }
  try {
    // Adaptive: the spin grows while it pays off, shrinks when it does not.
    const until = performance.now() + spinMs;
    while (performance.now() < until) {
      if (liveTasks() > 0) {
        spinMs = Math.min(SPIN_MAX_MS, spinMs * 2);
        return true;
      }
    }
    spinMs = Math.max(SPIN_MIN_MS, spinMs / 2);
    return false;
  } finally {
    Atomics.store(i32, SPINNER, 0);
  }
}

function sleepUntilWork(): void {
  const seq = Atomics.load(i32, WORK_SEQ);
  Atomics.add(i32, SLEEPERS, 1);
  if (liveTasks() === 0 && !shuttingDown()) {
    // The timeout is a safety net only: WORK_SEQ changes on every submission.
    Atomics.wait(i32, WORK_SEQ, seq, 200);
  }
  Atomics.sub(i32, SLEEPERS, 1);
}

function notifyMain(): void {
  if (
    Atomics.load(i32, MAIN_WAITING) === 1 &&
    Atomics.exchange(i32, MAIN_WAITING, 0) === 1
  ) {
    Atomics.add(i32, DONE_SEQ, 1);
    Atomics.notify(i32, DONE_SEQ);
  }
}

function complete(
  id: number,
  ok: boolean,
  value: unknown,
  start: number,
  run: number,
  transfer: Transferable[] | undefined,
): void {
  if (ok && transfer === undefined) {
    // Wait for room in the completion ring (main drains it on every wake).
    while (
      ((doneTail - Atomics.load(i32, workerBase + W_DONE_HEAD)) | 0) >=
        DONE_SLOTS
    ) {
      // Terminated or given up on: nobody reads these results now.
      if (shuttingDown() || retired()) return;
      notifyMain();
      Atomics.wait(
        i32,
        workerBase + W_DONE_HEAD,
        Atomics.load(i32, workerBase + W_DONE_HEAD),
        1,
      );
    }
    const at = doneBase + (doneTail & (DONE_SLOTS - 1)) * DONE_BYTES;
    const a32 = at >> 2;
    const a64 = at >> 3;
    if (
      encodeInline(
        v,
        value,
        a32 + D_KIND,
        a32 + D_LEN,
        a64 + D_NUM,
        at + DONE_INLINE_OFFSET,
        DONE_INLINE_BYTES,
      )
    ) {
      i32[a32 + D_ID] = id;
      v.f64[a64 + D_START] = start;
      v.f64[a64 + D_RUN] = run;
      doneTail = (doneTail + 1) | 0;
      Atomics.store(i32, workerBase + W_DONE_TAIL, doneTail);
      notifyMain();
      return;
    }
  }
  // Values that do not fit a slot go by postMessage, batched: one message
  // per batch (or per 64 results, or before an async task) instead of one
  // per task.
  pending.push({
    id,
    ok,
    v: ok ? value : serializeError(value),
    start,
    run,
  });
  if (transfer !== undefined) pendingTransfer.push(...transfer);
  if (pending.length >= 64) flushResults();
}

interface SideResult {
  id: number;
  ok: boolean;
  v: unknown;
  start: number;
  run: number;
}
let pending: SideResult[] = [];
let pendingTransfer: Transferable[] = [];

function flushResults(): void {
  if (pending.length === 0) return;
  const results = pending;
  const transfer = pendingTransfer;
  pending = [];
  pendingTransfer = [];
  try {
    postMessage({ t: "rs", results }, transfer);
  } catch {
    // One result cannot be cloned (a function, a class instance with private
    // state...): send them one by one and fail only that task.
    for (const r of results) {
      try {
        postMessage({ t: "rs", results: [r] }); // copies, no transfer
      } catch (error) {
        postMessage({
          t: "rs",
          results: [{ ...r, ok: false, v: serializeError(error) }],
        });
      }
    }
  }
}

/** Asks the pool for the inputs that did not fit a slot, one message per batch. */
function requestInputs(ids: number[]): Promise<unknown[]> {
  const all = Promise.all(
    ids.map((id) => new Promise((resolve) => inputWaiters.set(id, resolve))),
  );
  postMessage({ t: "in", ids });
  return all;
}

function yieldToEventLoop(): Promise<void> {
  // Lets messages, timers and error events of earlier tasks run before the
  // worker blocks. setTimeout(0) would cost ~2 ms here.
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
    port2.close();
  });
}

async function loop(): Promise<void> {
  let sinceYield = 0;
  while (!dead && !shuttingDown() && !retired()) {
    let n = claim();
    // The first task of a batch reads the clock: tasks may have been queued
    // after the previous batch ended.
    lastEnd = 0;
    if (n === 0) {
      if (spinForWork()) continue;
      if (sinceYield > 0) {
        // Before blocking, let timers and events of earlier tasks run.
        sinceYield = 0;
        await yieldToEventLoop();
        continue;
      }
      sleepUntilWork();
      continue;
    }
    let side: number[] | undefined;
    for (let i = 0; i < n; i++) {
      if (bSide[i] === 1 && cancelFlag(i) === 0) {
        (side ??= []).push(bIds[i]!);
      }
    }
    if (side !== undefined) {
      const values = await requestInputs(side);
      for (let i = 0, k = 0; i < n && k < side.length; i++) {
        if (bIds[i] === side[k]) bInputs[i] = values[k++];
      }
      lastEnd = 0;
    }
    // Clock reads cost ~0.2 µs here, more than a tiny task: tasks whose
    // function is known to take under TINY_MS are timed in groups of up to
    // TIMING_GROUP (one read per group, the group's time shared evenly).
    let mark = 0; // last real clock reading in this batch
    let grouped = 0; // tasks run since `mark` with estimated times
    let handedBack = false;
    for (let i = 0; i < n && !dead; i++) {
      // A batch claimed on a wrong cost estimate must not hold back a more
      // urgent task for long: past the budget, the unstarted rest goes back.
      if (
        i > 0 && !handedBack && urgentWaiting(bEff[i]!) &&
        now() - claimTime > BATCH_BUDGET_MS
      ) {
        handedBack = true;
        n = handBack(i, n);
        if (i >= n) break;
      }
      const id = bIds[i]!;
      // The position first, then the retired flag (the pool writes them in
      // the other order): either the pool sees this task started, or this
      // worker sees it was given up on and leaves the task to the pool.
      Atomics.store(i32, workerBase + W_BATCH_POS, i);
      if (retired()) break;
      // A plain store: main reads it for metrics and stuck detection.
      i32[workerBase + W_CUR] = id;
      if (cancelFlag(i) !== 0) continue; // settled by the pool already
      const input = bInputs[i];
      bInputs[i] = undefined;
      if (input === GONE) continue;
      const ctx = new TaskCtx(id, i);
      current = ctx;
      const fn = bFns[i]!;
      const prev = fnCost[fn]!;
      const tiny = prev < TINY_MS; // false while unknown (NaN)
      // A task starts when the previous one ended unless the worker waited;
      // a task that is not tiny never starts from an estimated time.
      let start: number;
      if (lastEnd > 0 && (tiny || grouped === 0)) start = lastEnd;
      else {
        start = mark = now();
        grouped = 0;
      }
      let ok = true;
      let sync = true;
      let value: unknown;
      try {
        const taskFn = resolveFn(fn) as (
          input: unknown,
          ctx: TaskContext,
        ) => unknown;
        value = taskFn(input, ctx);
        if (
          value !== null && typeof value === "object" &&
          typeof (value as PromiseLike<unknown>).then === "function"
        ) {
          flushResults(); // do not hold earlier results while this waits
          sync = false;
          value = await settledOrCancelled(value as PromiseLike<unknown>, ctx);
        }
      } catch (error) {
        ok = false;
        value = error;
      }
      current = undefined;
      ctx.release();
      if (dead) break;
      if (value === ABANDONED) {
        // Cancelled or timed out while awaited, and main settled it: no
        // result to send, and its time says nothing about the function.
        ctx.onCancel = undefined;
        i32[workerBase + W_CUR] = 0;
        lastEnd = 0;
        grouped = 0;
        sinceYield++;
        continue;
      }
      let run: number;
      if (
        sync && tiny && grouped < TIMING_GROUP - 1 && i + 1 < n && mark > 0
      ) {
        grouped++;
        run = prev;
        lastEnd = start + prev;
      } else {
        const end = now();
        if (grouped > 0) {
          run = (end - mark) / (grouped + 1);
          grouped = 0;
        } else run = end - start;
        mark = end;
        lastEnd = end;
        fnCost[fn] = prev === prev ? prev * 0.75 + run * 0.25 : run;
      }
      i32[workerBase + W_CUR] = 0;
      complete(id, ok, value, start, run, ctx.transferList);
      sinceYield++;
    }
    flushResults();
    Atomics.store(i32, workerBase + W_CUR, 0);
    Atomics.store(i32, workerBase + W_BATCH_N, 0);
  }
  if (!dead) postMessage({ t: "bye" });
  closeSelf();
}

function fatal(error: unknown): void {
  if (dead) return;
  dead = true;
  try {
    flushResults(); // results of tasks that finished before the error
  } catch {
    // nothing more to save
  }
  postMessage({ t: "fatal", error: serializeError(error) });
  closeSelf();
}

self.addEventListener("error", (event) => {
  event.preventDefault();
  fatal(event.error ?? new Error(event.message));
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  fatal(event.reason);
});

self.onmessage = async (event: MessageEvent) => {
  const msg = event.data;
  switch (msg.t) {
    case "init": {
      const init = msg as InitMessage;
      v = views(init.sab);
      i32 = v.i32;
      const lay = layout(init.areas);
      ringsBase = lay.rings;
      arenaBase = lay.arena;
      namesBase = lay.names;
      const area = lay.workers + init.area * WORKER_AREA_BYTES;
      workerBase = area >> 2;
      cancelBase = workerBase + W_CANCEL;
      doneBase = area + WORKER_HEADER_BYTES;
      doneTail = Atomics.load(i32, workerBase + W_DONE_TAIL);
      try {
        taskModule = await import(init.moduleUrl);
        if (dead) return; // the module ended this worker while loading
        // The pool rejects other names itself, before they use up a slot
        // of its name table.
        const exports = Object.keys(taskModule!).filter((name) =>
          typeof taskModule![name] === "function"
        );
        postMessage({ t: "ready", exports });
      } catch (error) {
        importError = error;
        postMessage({ t: "ready", error: serializeError(error) });
      }
      loop().catch(fatal);
      break;
    }
    case "in": {
      const ids: number[] = msg.ids;
      for (let k = 0; k < ids.length; k++) {
        const resolve = inputWaiters.get(ids[k]!);
        inputWaiters.delete(ids[k]!);
        resolve?.(msg.gone[k] ? GONE : msg.values[k]);
      }
      break;
    }
    case "cancel":
      if (current !== undefined && current.taskId === msg.id) {
        current.abortFromMain();
      }
      break;
  }
};
