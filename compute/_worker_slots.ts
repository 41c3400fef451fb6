// The pool's view of its workers: one slot per worker, each owning an area of
// the shared buffer; spawning, the claim-side bookkeeping the pool reads
// (batch and flight slots), raising a claimed task's cancel flag, and
// detaching a worker Deno cannot stop.

import * as L from "./_layout.ts";
import type { SharedMemory } from "./_layout.ts";
import type { InitMessage } from "./_protocol.ts";

/** One worker of the pool. */
export interface WorkerSlot {
  /** Its area of the shared buffer. */
  readonly area: number;
  readonly worker: Worker;
  /** Takes tasks (not dead, stuck, retired or stopped). */
  alive: boolean;
  /** Given up on while stuck in a task; its area is free once it exits. */
  stuck: boolean;
  /** Retired after idling; it exits at its next look. */
  retiring: boolean;
  /** Counted towards `ready()` (the first workers only). */
  ready: boolean;
  /** This very worker said it loaded the task module. */
  started: boolean;
  /** Next completion entry to read. */
  doneHead: number;
  /** Called when it says bye (while the pool stops it). */
  bye: (() => void) | undefined;
}

// Deno has no public Worker.unref(). Its Worker class has an internal ref
// switch (what node:worker_threads' unref() calls), a symbol-keyed method
// taking a boolean; found by shape, used only on workers the pool stopped or
// gave up on (stuck in synchronous code, which terminate() does not
// interrupt), so that they do not keep the process alive. Without it
// (another Deno), such a worker keeps the process alive until its task
// returns.
const unrefSwitch: ((this: Worker, ref: boolean) => void) | undefined = (() => {
  try {
    const proto = Worker.prototype as unknown as Record<symbol, unknown>;
    for (const key of Object.getOwnPropertySymbols(proto)) {
      const fn = proto[key];
      if (
        key.description === undefined && typeof fn === "function" &&
        fn.length === 1
      ) return fn as (this: Worker, ref: boolean) => void;
    }
  } catch {
    // no such switch here
  }
  return undefined;
})();

/** Lets the process exit while `worker` still runs (best effort). */
export function unrefWorker(worker: Worker): void {
  try {
    unrefSwitch?.call(worker, false);
  } catch {
    // not the switch after all: nothing more to do
  }
}

/** Settings every worker of a pool starts with. */
export interface SpawnOptions {
  readonly mem: SharedMemory;
  readonly areas: number;
  readonly moduleUrl: string;
  readonly workerData: unknown;
  readonly concurrency: number;
  readonly idleTimeoutMs: number;
  readonly name: string;
}

/** Starts a worker in `area` (its header reset). */
export function spawnWorker(options: SpawnOptions, area: number): WorkerSlot {
  const { mem } = options;
  const base = L.areaBase(mem.lay, area);
  const i32 = mem.i32;
  for (
    const word of [
      L.W_CUR,
      L.W_BATCH_N,
      L.W_DONE_HEAD,
      L.W_DONE_TAIL,
      L.W_FLIGHTS,
    ]
  ) {
    Atomics.store(i32, base + word, 0);
  }
  Atomics.store(i32, base + L.W_RETIRED, 0);
  Atomics.store(i32, base + L.W_BATCH_POS, -1);
  for (let f = 0; f < L.MAX_FLIGHTS; f++) {
    Atomics.store(i32, base + L.W_FLIGHT_IDS + f, 0);
  }
  const worker = new Worker(new URL("./_worker.ts", import.meta.url), {
    type: "module",
    name: options.name,
  });
  const init: InitMessage = {
    type: "init",
    sab: mem.sab,
    area,
    areas: options.areas,
    moduleUrl: options.moduleUrl,
    workerData: options.workerData,
    concurrency: options.concurrency,
  };
  worker.postMessage(init);
  return {
    area,
    worker,
    alive: true,
    stuck: false,
    retiring: false,
    ready: false,
    started: false,
    doneHead: 0,
    bye: undefined,
  };
}

/** Whether the worker runs a task (or has async tasks in flight). */
export function isBusy(mem: SharedMemory, slot: WorkerSlot): boolean {
  const base = L.areaBase(mem.lay, slot.area);
  return Atomics.load(mem.i32, base + L.W_CUR) !== 0 ||
    Atomics.load(mem.i32, base + L.W_FLIGHTS) !== 0;
}

/** The task a worker runs synchronously right now (0: none). */
export function runningTask(mem: SharedMemory, slot: WorkerSlot): number {
  return Atomics.load(mem.i32, L.areaBase(mem.lay, slot.area) + L.W_CUR);
}

/**
 * The ids a worker holds, split into those it started (the batch up to its
 * position, and tasks in flight) and those it did not; its batch is emptied.
 * Call when the worker will not run them (dead, or retired first).
 */
export function takeClaimed(
  mem: SharedMemory,
  slot: WorkerSlot,
): { started: number[]; unstarted: number[] } {
  const i32 = mem.i32;
  const base = L.areaBase(mem.lay, slot.area);
  const started: number[] = [];
  const unstarted: number[] = [];
  L.lock(i32, false);
  try {
    const n = Atomics.load(i32, base + L.W_BATCH_N);
    const pos = Atomics.load(i32, base + L.W_BATCH_POS);
    for (let i = 0; i < n; i++) {
      const id = i32[base + L.W_BATCH_IDS + i]!;
      if (id === 0) continue; // moved to a flight slot
      (i <= pos ? started : unstarted).push(id);
    }
    for (let f = 0; f < L.MAX_FLIGHTS; f++) {
      const id = i32[base + L.W_FLIGHT_IDS + f]!;
      if (id !== 0) started.push(id);
    }
    Atomics.store(i32, base + L.W_BATCH_N, 0);
  } finally {
    L.unlock(i32);
  }
  return { started, unstarted };
}

/**
 * Raises the cancel flag of claimed task `id` in whichever batch or flight
 * slot holds it; returns that worker. A task a worker handed back to ring
 * `priority` is turned into a tombstone there instead; a task found nowhere
 * has finished (its result is not read yet). Under the lock, so that no
 * claim, hand-back or flight moves the task meanwhile.
 */
export function raiseCancelFlag(
  mem: SharedMemory,
  slots: readonly WorkerSlot[],
  id: number,
  priority: number,
  kind: number,
): WorkerSlot | undefined {
  const i32 = mem.i32;
  L.lock(i32, false);
  try {
    for (const slot of slots) {
      if (!slot.alive) continue;
      const base = L.areaBase(mem.lay, slot.area);
      const n = Atomics.load(i32, base + L.W_BATCH_N);
      for (let i = 0; i < n; i++) {
        if (i32[base + L.W_BATCH_IDS + i] === id) {
          Atomics.store(i32, base + L.W_CANCEL + i, kind);
          return slot;
        }
      }
      if (Atomics.load(i32, base + L.W_FLIGHTS) === 0) continue;
      for (let f = 0; f < L.MAX_FLIGHTS; f++) {
        if (i32[base + L.W_FLIGHT_IDS + f] === id) {
          Atomics.store(i32, base + L.W_FLIGHT_CANCEL + f, kind);
          return slot;
        }
      }
    }
    const tail = Atomics.load(i32, L.TAIL + priority);
    for (let h = Atomics.load(i32, L.HEAD + priority); h !== tail;) {
      const s32 = L.slotOffset(mem.lay, priority, h) >> 2;
      if (i32[s32 + L.S_ID] === id && i32[s32 + L.S_STATE] === L.READY) {
        Atomics.store(i32, s32 + L.S_STATE, L.CANCELLED);
        Atomics.sub(i32, L.QUEUED + priority, 1);
        break;
      }
      h = (h + 1) | 0;
    }
    return undefined;
  } finally {
    L.unlock(i32);
  }
}

/** Raises every cancel flag of a worker (the pool is terminated). */
export function raiseAllCancelFlags(
  mem: SharedMemory,
  slot: WorkerSlot,
  kind: number,
): void {
  const base = L.areaBase(mem.lay, slot.area);
  for (let i = 0; i < L.MAX_BATCH; i++) {
    Atomics.store(mem.i32, base + L.W_CANCEL + i, kind);
  }
  for (let f = 0; f < L.MAX_FLIGHTS; f++) {
    Atomics.store(mem.i32, base + L.W_FLIGHT_CANCEL + f, kind);
  }
}

/** Tells a worker to exit at its next look (idle, or stuck). */
export function retire(mem: SharedMemory, slot: WorkerSlot): void {
  Atomics.store(mem.i32, L.areaBase(mem.lay, slot.area) + L.W_RETIRED, 1);
}
