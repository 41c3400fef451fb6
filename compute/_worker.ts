/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker entry of ComputePool. Idle workers sleep in Atomics.wait on the
// shared control block and claim tasks from the priority rings themselves, in
// batches (_claim.ts); results go back inline through the worker's
// completion ring (_worker_results.ts), or by postMessage for values that do
// not fit. Async tasks either hold the worker until they settle, or, with
// `concurrentTasksPerWorker` > 1, move to a flight slot while the worker goes
// on with other tasks.

import { IntMap } from "../_internal/int_map.ts";
import * as L from "./_layout.ts";
import type { SharedMemory } from "./_layout.ts";
import {
  Batch,
  BATCH_BUDGET_MS,
  claimBatch,
  handBack,
  urgentWaiting,
  waitingTasks,
} from "./_claim.ts";
import { serializeError } from "./_errors.ts";
import type { FromWorker, InitMessage, ToWorker } from "./_protocol.ts";
import { initTaskContexts, TaskCtx } from "./_task_context.ts";
import { ResultWriter } from "./_worker_results.ts";
import { WORKER_DATA } from "./worker_data.ts";

// Clock reads cost ~0.2 µs here, more than a tiny task: tasks whose function
// is known to take under TINY_MS are timed in groups of up to TIMING_GROUP
// (one read per group, the group's time shared evenly).
const TINY_MS = 0.005;
const TIMING_GROUP = 16;

let mem: SharedMemory;
let i32: Int32Array;
let base = 0; // Int32 index of this worker's area header
let activeAt = 0; // Float64 index: when this worker last had work
let results: ResultWriter;
let dead = false;
let lastEnd = 0;
let concurrency = 1;
let workerData: unknown;

let taskModule: Record<string, unknown> | undefined;
let importError: unknown;
const fnCache: unknown[] = [];
const fnCost = new Float64Array(L.MAX_NAMES).fill(NaN);
const batch = new Batch();

// Resolvers of the inputs asked of the pool (too large for a slot), by task
// id: one set and one delete per such task. Not a `Map`: a churned Map's old
// tables keep their resolvers alive, and through them the inputs (over a
// MiB each), until a full GC (see _internal/int_map.ts). Measured with 3,000
// async tasks of 2 MiB inputs: 130-191 full GCs of the worker with a Map,
// 85-115 with IntMap.
const inputWaiters = new IntMap<(value: unknown) => void>();
const GONE = Symbol("gone");
// What an abandoned async task "returns": main settled it already.
const ABANDONED = Symbol("abandoned");
let current: TaskCtx | undefined;
let currentFn = -1;
// Async tasks in flight (concurrentTasksPerWorker > 1), by task id. A Map
// churns here too, but what it could keep alive is small: 200,000 async tasks
// promoted as much with IntMap (9-16 MB in both).
const flights = new Map<number, TaskCtx>();
let flightDone: (() => void) | undefined;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  postMessage(message, transfer);
}

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
  return new Error(
    `Cannot finish task '${
      fnName(currentFn)
    }' as it ended its worker with ${how}`,
  );
}

self.close = function close(): void {
  fatal(endedByTask("self.close()"));
};
Deno.exit = function exit(code?: number): never {
  fatal(endedByTask(`Deno.exit(${code ?? ""})`));
  return exitProcess(code); // in a worker, ends only the worker
};

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
  const at = L.nameOffset(mem.lay, index);
  const len = Atomics.load(i32, at >> 2);
  return new TextDecoder().decode(mem.u8.slice(at + 4, at + 4 + len));
}

function notExported(index: number): TypeError {
  return new TypeError(
    `Cannot run task as '${
      fnName(index)
    }' is not a function exported by the task module`,
  );
}

function resolveFn(index: number): (input: unknown, ctx: TaskCtx) => unknown {
  let fn = fnCache[index];
  if (fn === undefined) {
    if (taskModule === undefined) throw importError;
    const name = fnName(index);
    fn = Object.hasOwn(taskModule, name) ? taskModule[name] : null;
    if (typeof fn !== "function") fn = null;
    fnCache[index] = fn;
  }
  if (fn === null) throw notExported(index);
  return fn as (input: unknown, ctx: TaskCtx) => unknown;
}

function shuttingDown(): boolean {
  return Atomics.load(i32, L.SHUTDOWN) === 1;
}

/** Whether the pool retired this worker (idle, or stuck in a task). */
function retired(): boolean {
  return Atomics.load(i32, base + L.W_RETIRED) === 1;
}

// The idle spin, in ms: the spinner's window starts at SPIN_MIN_MS, doubles
// each time work arrives within it and halves each time none does, between
// SPIN_MIN_MS and SPIN_MAX_MS; other idle workers spin SPIN_MIN_MS only.
const SPIN_MIN_MS = 0.005;
const SPIN_MAX_MS = 0.2;
let spinMs = SPIN_MIN_MS;

/** Spins briefly for work; returns `true` when some arrived. */
function spinForWork(): boolean {
  if (waitingTasks(i32) > 0 || shuttingDown()) return true;
  // One idle worker spins for long at a time; the others only briefly, then
  // sleep: they would all burn a core waiting for the same next task (the
  // pool wakes sleepers when more than one task arrives).
  if (Atomics.compareExchange(i32, L.SPINNER, 0, 1) !== 0) {
    const until = performance.now() + SPIN_MIN_MS;
    while (performance.now() < until) if (waitingTasks(i32) > 0) return true;
    return false;
  }
  try {
    const until = performance.now() + spinMs;
    while (performance.now() < until) {
      if (waitingTasks(i32) > 0) {
        spinMs = Math.min(SPIN_MAX_MS, spinMs * 2);
        return true;
      }
    }
    spinMs = Math.max(SPIN_MIN_MS, spinMs / 2);
    return false;
  } finally {
    Atomics.store(i32, L.SPINNER, 0);
  }
}

function sleepUntilWork(): void {
  const seq = Atomics.load(i32, L.WORK_SEQ);
  Atomics.add(i32, L.SLEEPERS, 1);
  if (waitingTasks(i32) === 0 && !shuttingDown() && !retired()) {
    // The timeout is a safety net only: WORK_SEQ changes on every submission.
    Atomics.wait(i32, L.WORK_SEQ, seq, 200);
  }
  Atomics.sub(i32, L.SLEEPERS, 1);
}

/**
 * With tasks in flight the worker must not block its event loop: waits for
 * work (Atomics.waitAsync) or for a flight to land, whichever comes first.
 */
async function awaitWorkOrFlight(): Promise<void> {
  const seq = Atomics.load(i32, L.WORK_SEQ);
  if (waitingTasks(i32) > 0 || shuttingDown() || retired()) return;
  const landed = new Promise<void>((resolve) => (flightDone = resolve));
  const wait = Atomics.waitAsync(i32, L.WORK_SEQ, seq, 50);
  await Promise.race([landed, wait.async ? wait.value : undefined]);
}

/** Asks the pool for the inputs that did not fit a slot, one message per batch. */
function requestInputs(ids: number[]): Promise<unknown[]> {
  const all = Promise.all(
    ids.map((id) => new Promise((resolve) => inputWaiters.set(id, resolve))),
  );
  post({ type: "need-inputs", ids });
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

function reportProgress(id: number, value: unknown): void {
  try {
    post({ type: "progress", id, value });
  } catch {
    // not cloneable: progress is best effort
  }
}

/**
 * Moves the awaiting task of batch slot `i` to a free flight slot (ids and
 * cancel flag, under the lock: the pool looks for it in one or the other);
 * returns the flight slot, or -1 when none is free.
 */
function takeFlight(i: number, ctx: TaskCtx): number {
  L.lock(i32, true);
  try {
    for (let f = 0; f < L.MAX_FLIGHTS; f++) {
      if (i32[base + L.W_FLIGHT_IDS + f] !== 0) continue;
      i32[base + L.W_FLIGHT_IDS + f] = ctx.taskId;
      i32[base + L.W_FLIGHT_CANCEL + f] = i32[base + L.W_CANCEL + i]!;
      i32[base + L.W_BATCH_IDS + i] = 0;
      Atomics.add(i32, base + L.W_FLIGHTS, 1);
      ctx.moveFlag(base + L.W_FLIGHT_CANCEL + f);
      return f;
    }
    return -1;
  } finally {
    L.unlock(i32);
  }
}

function landFlight(f: number, ctx: TaskCtx): void {
  L.lock(i32, true);
  i32[base + L.W_FLIGHT_IDS + f] = 0;
  Atomics.sub(i32, base + L.W_FLIGHTS, 1);
  L.unlock(i32);
  ctx.release();
  flights.delete(ctx.taskId);
  const done = flightDone;
  flightDone = undefined;
  done?.();
}

/** Runs an async task in a flight slot; the worker goes on meanwhile. */
function fly(f: number, ctx: TaskCtx, value: PromiseLike<unknown>): void {
  flights.set(ctx.taskId, ctx);
  const start = L.now();
  settledOrCancelled(value, ctx).then(
    (result) => [true, result] as const,
    (error) => [false, error] as const,
  ).then(([ok, result]) => {
    landFlight(f, ctx);
    if (dead || result === ABANDONED) return;
    results.complete(
      ctx.taskId,
      ok,
      result,
      start,
      L.now() - start,
      ctx.transferList ?? (ctx.reported ? [] : undefined),
    );
    results.flush();
  });
}

async function loop(): Promise<void> {
  let sinceYield = 0;
  while (!dead && !shuttingDown() && !retired()) {
    const t = L.now();
    let n = claimBatch(mem, base, batch, fnCost, t);
    // The first task of a batch reads the clock: tasks may have been queued
    // after the previous batch ended.
    lastEnd = 0;
    if (n === 0) {
      if (spinForWork()) continue;
      if (flights.size > 0) {
        await awaitWorkOrFlight();
        continue;
      }
      if (sinceYield > 0) {
        // Before blocking, let timers and events of earlier tasks run.
        sinceYield = 0;
        await yieldToEventLoop();
        continue;
      }
      sleepUntilWork();
      continue;
    }
    mem.f64[activeAt] = t;
    let side: number[] | undefined;
    for (let i = 0; i < n; i++) {
      if (batch.side[i] === 1 && i32[base + L.W_CANCEL + i] === 0) {
        (side ??= []).push(batch.ids[i]!);
      }
    }
    if (side !== undefined) {
      const values = await requestInputs(side);
      for (let i = 0, k = 0; i < n && k < side.length; i++) {
        if (batch.ids[i] === side[k]) batch.inputs[i] = values[k++];
      }
      lastEnd = 0;
    }
    let mark = 0; // last real clock reading in this batch
    let grouped = 0; // tasks run since `mark` with estimated times
    let handedBack = false;
    for (let i = 0; i < n && !dead; i++) {
      // A batch claimed on a wrong cost estimate must not hold back a more
      // urgent task for long: past the budget, the unstarted rest goes back.
      if (
        i > 0 && !handedBack && urgentWaiting(i32, batch.effs[i]!) &&
        L.now() - batch.claimTime > BATCH_BUDGET_MS
      ) {
        handedBack = true;
        n = handBack(mem, base, batch, i);
        if (i >= n) break;
      }
      const id = batch.ids[i]!;
      // The position first, then the retired flag (the pool writes them in
      // the other order): either the pool sees this task started, or this
      // worker sees it was given up on and leaves the task to the pool.
      Atomics.store(i32, base + L.W_BATCH_POS, i);
      if (retired()) break;
      if (i32[base + L.W_CANCEL + i] !== 0) continue; // settled by the pool
      const input = batch.inputs[i];
      batch.inputs[i] = undefined;
      if (input === GONE) continue;
      // A plain store: main reads it for metrics and stuck detection.
      i32[base + L.W_CUR] = id;
      const ctx = new TaskCtx(id, base + L.W_CANCEL + i);
      current = ctx;
      const fn = batch.fns[i]!;
      currentFn = fn;
      const prev = fnCost[fn]!;
      const tiny = prev < TINY_MS; // false while unknown (NaN)
      // A task starts when the previous one ended unless the worker waited;
      // a task that is not tiny never starts from an estimated time.
      let start: number;
      if (lastEnd > 0 && (tiny || grouped === 0)) start = lastEnd;
      else {
        start = mark = L.now();
        grouped = 0;
      }
      let ok = true;
      let sync = true;
      let flown = false; // moved to a flight slot: it reports by itself
      let value: unknown;
      try {
        value = resolveFn(fn)(input, ctx);
        if (
          value !== null && typeof value === "object" &&
          typeof (value as PromiseLike<unknown>).then === "function"
        ) {
          sync = false;
          const f = concurrency > 1 ? takeFlight(i, ctx) : -1;
          if (f >= 0) {
            flown = true;
            fly(f, ctx, value as PromiseLike<unknown>);
            value = ABANDONED; // it reports by itself when it lands
            if (flights.size >= concurrency) {
              results.flush();
              await new Promise<void>((resolve) => (flightDone = resolve));
            }
          } else {
            results.flush(); // do not hold earlier results while this waits
            value = await settledOrCancelled(
              value as PromiseLike<unknown>,
              ctx,
            );
          }
        }
      } catch (error) {
        ok = false;
        value = error;
      }
      current = undefined;
      if (!flown) ctx.release();
      if (dead) break;
      if (value === ABANDONED) {
        // Cancelled or timed out while awaited, and main settled it, or in
        // flight: no result here, and its time says nothing of the function.
        if (!flown) ctx.onCancel = undefined;
        i32[base + L.W_CUR] = 0;
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
        const end = L.now();
        if (grouped > 0) {
          run = (end - mark) / (grouped + 1);
          grouped = 0;
        } else run = end - start;
        mark = end;
        lastEnd = end;
        fnCost[fn] = prev === prev ? prev * 0.75 + run * 0.25 : run;
      }
      i32[base + L.W_CUR] = 0;
      // After progress reports (messages), the result follows by message too.
      const transfer = ctx.transferList ?? (ctx.reported ? [] : undefined);
      results.complete(id, ok, value, start, run, transfer);
      sinceYield++;
    }
    results.flush();
    Atomics.store(i32, base + L.W_CUR, 0);
    Atomics.store(i32, base + L.W_BATCH_N, 0);
    // Async tasks in flight need the event loop now and then.
    if (flights.size > 0) await yieldToEventLoop();
  }
  if (!dead) post({ type: "bye" });
  closeSelf();
}

function fatal(error: unknown): void {
  if (dead) return;
  dead = true;
  try {
    results?.flush(); // results of tasks that finished before the error
  } catch {
    // nothing more to save
  }
  post({ type: "fatal", error: serializeError(error) });
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

async function init(msg: InitMessage): Promise<void> {
  mem = L.openSharedMemory(msg.sab, msg.areas);
  i32 = mem.i32;
  base = L.areaBase(mem.lay, msg.area);
  activeAt = (base * 4 + L.W_ACTIVE_BYTE) >> 3;
  results = new ResultWriter(mem, msg.area, post, () => retired());
  concurrency = msg.concurrency;
  workerData = msg.workerData;
  initTaskContexts(i32, workerData, reportProgress);
  (globalThis as Record<symbol, unknown>)[WORKER_DATA] = workerData;
  mem.f64[activeAt] = L.now();
  try {
    taskModule = await import(msg.moduleUrl);
    if (dead) return; // the module ended this worker while loading
    // The pool rejects other names itself, before they use up a slot of its
    // name table.
    const exports = Object.keys(taskModule!).filter((name) =>
      typeof taskModule![name] === "function"
    );
    post({ type: "ready", exports });
  } catch (error) {
    importError = error;
    post({ type: "ready", exports: [], error: serializeError(error) });
  }
  loop().catch(fatal);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "init":
      init(msg);
      break;
    case "inputs":
      for (let k = 0; k < msg.ids.length; k++) {
        const resolve = inputWaiters.get(msg.ids[k]!);
        inputWaiters.delete(msg.ids[k]!);
        resolve?.(msg.gone[k] ? GONE : msg.values[k]);
      }
      break;
    case "cancel": {
      const ctx = current !== undefined && current.taskId === msg.id
        ? current
        : flights.get(msg.id);
      ctx?.abortFromMain();
      break;
    }
  }
};
