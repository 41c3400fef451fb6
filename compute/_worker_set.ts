// The pool's workers over their lifetime: spawned up front (minWorkers) and
// under load (up to maxWorkers), retired after idling, replaced when they die
// or get stuck past a cancel, stopped by close()/terminate(). Also the
// messages workers send (results that did not fit shared memory, requests
// for inputs, progress, readiness, death).

import {
  areaBase,
  DONE_SEQ,
  LIVE_WORKERS,
  now,
  SHUTDOWN,
  W_ACTIVE_BYTE,
  W_BATCH_N,
  WORK_SEQ,
} from "./_layout.ts";
import { deserializeError, type SerializedError } from "./_errors.ts";
import type { FromWorker, InputsMessage } from "./_protocol.ts";
import type { PoolState } from "./_pool_state.ts";
import type { Task } from "./_task.ts";
import type { TaskQueue } from "./_task_queue.ts";
import { readCompletions } from "./_completions.ts";
import {
  isBusy,
  raiseAllCancelFlags,
  raiseCancelFlag,
  retire,
  runningTask,
  type SpawnOptions,
  spawnWorker,
  takeClaimed,
  unrefWorker,
  type WorkerSlot,
} from "./_worker_slots.ts";

const BYE_TIMEOUT_MS = 2000;

/** Sizing and watchdog settings. */
export interface WorkerSetOptions extends SpawnOptions {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly stuckAfterMs: number;
}

/** What the worker set needs from its pool. */
export interface WorkerSetHooks {
  /** Settles what can be settled and refills the rings. */
  afterDrain(): void;
  /** The first worker loaded the task module (or failed to). */
  onExports(exports: readonly string[], error: unknown): void;
  /** Every worker died before loading anything: the pool cannot run. */
  onBroken(error: unknown): void;
  /** The pool accepts tasks (replacements and growth are allowed). */
  running(): boolean;
}

/** The workers of one pool. */
export class WorkerSet {
  #state: PoolState;
  #queue: TaskQueue;
  #options: WorkerSetOptions;
  #hooks: WorkerSetHooks;
  /** Workers not yet gone: alive, retiring or stopping. */
  #slots: WorkerSlot[] = [];
  #areaOwner: (WorkerSlot | undefined)[];
  #stuckTimers = new Set<ReturnType<typeof setTimeout>>();
  #idleTimer: ReturnType<typeof setInterval> | undefined;
  #readyCount = 0;
  #ready = Promise.withResolvers<void>();
  #readyError: unknown;

  constructor(
    state: PoolState,
    queue: TaskQueue,
    options: WorkerSetOptions,
    hooks: WorkerSetHooks,
  ) {
    this.#state = state;
    this.#queue = queue;
    this.#options = options;
    this.#hooks = hooks;
    this.#areaOwner = new Array(options.areas).fill(undefined);
    // Nobody may await ready(): keep its rejection from being unhandled.
    this.#ready.promise.catch(() => {});
    for (let i = 0; i < options.minWorkers; i++) this.#spawn(true);
    if (options.maxWorkers > options.minWorkers) {
      const every = Math.max(20, Math.min(1000, options.idleTimeoutMs / 2));
      this.#idleTimer = setInterval(() => this.#retireIdle(), every);
      Deno.unrefTimer(this.#idleTimer as unknown as number);
    }
  }

  /** Resolves once the first workers loaded the task module. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Workers taking tasks. */
  get live(): number {
    let n = 0;
    for (const slot of this.#slots) if (slot.alive) n++;
    return n;
  }

  /** Workers running a task right now. */
  busy(): number {
    let n = 0;
    for (const slot of this.#slots) {
      if (slot.alive && isBusy(this.#options.mem, slot)) n++;
    }
    return n;
  }

  #publishLive(): void {
    Atomics.store(this.#options.mem.i32, LIVE_WORKERS, this.live);
  }

  #spawn(first: boolean): WorkerSlot | undefined {
    const area = this.#areaOwner.indexOf(undefined);
    if (area < 0) return undefined; // every spare area held by stuck workers
    const slot = spawnWorker(this.#options, area);
    slot.ready = !first; // ready() counts the first workers only
    this.#areaOwner[area] = slot;
    this.#slots.push(slot);
    slot.worker.onmessage = (event: MessageEvent<FromWorker>) =>
      this.#onMessage(slot, event.data);
    slot.worker.onerror = (event) => {
      // Without preventDefault an error in a worker kills the process.
      event.preventDefault();
      this.#onDeath(slot, event.error ?? new Error(event.message));
    };
    slot.worker.onmessageerror = (event) => event.preventDefault();
    this.#publishLive();
    return slot;
  }

  /** The slot is gone for good: its area may be used again. */
  #forget(slot: WorkerSlot): void {
    if (this.#areaOwner[slot.area] === slot) {
      this.#areaOwner[slot.area] = undefined;
    }
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1);
  }

  /**
   * Spawns one more worker when tasks wait, every worker is busy and the pool
   * may grow (called once per burst of submissions and per drain).
   */
  maybeGrow(): void {
    const max = this.#options.maxWorkers;
    if (max === this.#options.minWorkers || !this.#hooks.running()) return;
    if (this.live >= max || this.#queue.waiting() === 0) return;
    const mem = this.#options.mem;
    for (const slot of this.#slots) {
      if (slot.alive && (!slot.started || !isBusy(mem, slot))) return;
    }
    if (this.#spawn(false) !== undefined) this.#state.counts.workersSpawned++;
  }

  #retireIdle(): void {
    if (!this.#hooks.running()) return;
    const { mem, idleTimeoutMs, minWorkers } = this.#options;
    const t = now();
    let live = this.live;
    for (const slot of this.#slots) {
      if (live <= minWorkers) break;
      if (!slot.alive || !slot.started || isBusy(mem, slot)) continue;
      const base = areaBase(mem.lay, slot.area);
      if (Atomics.load(mem.i32, base + W_BATCH_N) !== 0) continue;
      const active = mem.f64[(base * 4 + W_ACTIVE_BYTE) >> 3]!;
      if (t - active < idleTimeoutMs) continue;
      slot.alive = false;
      slot.retiring = true;
      retire(mem, slot);
      live--;
      this.#state.counts.workersRetired++;
    }
    this.#publishLive();
    Atomics.add(mem.i32, WORK_SEQ, 1);
    Atomics.notify(mem.i32, WORK_SEQ);
  }

  /** Reads every worker's completion ring; returns whether it read any. */
  drainAll(): boolean {
    let any = false;
    for (const slot of this.#slots) {
      if (readCompletions(this.#options.mem, slot, this.#state.settleResult)) {
        any = true;
      }
    }
    return any;
  }

  /**
   * A claimed task was cancelled: raise its flag, tell its worker (an
   * awaiting task's `ctx.signal` fires) and watch that it stops.
   */
  cancelClaimed(task: Task, kind: number): void {
    const { mem } = this.#options;
    const holder = raiseCancelFlag(
      mem,
      this.#slots,
      task.id,
      task.priority,
      kind,
    );
    if (holder === undefined || !holder.alive) return;
    holder.worker.postMessage({ type: "cancel", id: task.id });
    if (this.#options.stuckAfterMs === Infinity) return;
    const id = task.id;
    const timer = setTimeout(() => {
      this.#stuckTimers.delete(timer);
      if (holder.alive && runningTask(mem, holder) === id) this.#giveUp(holder);
    }, this.#options.stuckAfterMs);
    Deno.unrefTimer(timer as unknown as number);
    this.#stuckTimers.add(timer);
  }

  /** Raises every cancel flag (terminate): cooperative tasks stop. */
  cancelAll(kind: number): void {
    for (const slot of this.#slots) {
      raiseAllCancelFlags(this.#options.mem, slot, kind);
    }
  }

  #onMessage(slot: WorkerSlot, msg: FromWorker): void {
    if (msg.type === "bye" || (slot.stuck && msg.type === "fatal")) {
      this.#onBye(slot);
      return;
    }
    if (slot.stuck) return;
    switch (msg.type) {
      case "results":
        for (const r of msg.results) {
          const task = this.#state.tasks.get(r.id);
          if (!task) continue;
          this.#state.record(task, r.start, r.run);
          if (r.ok) this.#state.settleOk(task, r.value);
          else {
            this.#state.settleFailed(
              task,
              deserializeError(r.value as SerializedError),
            );
          }
        }
        this.#hooks.afterDrain();
        return;
      case "need-inputs":
        this.#sendInputs(slot, msg.ids);
        return;
      case "progress": {
        const task = this.#state.tasks.get(msg.id);
        try {
          task?.onProgress?.(msg.value);
        } catch {
          // A throwing progress callback costs its progress report only.
        }
        return;
      }
      case "ready":
        slot.started = true;
        this.#hooks.onExports(
          msg.exports,
          msg.error === undefined ? undefined : deserializeError(msg.error),
        );
        if (!slot.ready) {
          slot.ready = true;
          if (msg.error && this.#readyError === undefined) {
            this.#readyError = deserializeError(msg.error);
          }
          if (++this.#readyCount === this.#options.minWorkers) {
            if (this.#readyError !== undefined) {
              this.#ready.reject(this.#readyError);
            } else this.#ready.resolve();
          }
        }
        return;
      case "fatal":
        this.#onDeath(slot, deserializeError(msg.error));
        return;
    }
  }

  /** Inputs that did not fit a slot, for a whole claimed batch at once. */
  #sendInputs(slot: WorkerSlot, ids: readonly number[]): void {
    const values: unknown[] = new Array(ids.length);
    const gone: boolean[] = new Array(ids.length).fill(false);
    const moved: Transferable[] = [];
    const tasks = ids.map((id) => this.#state.tasks.get(id));
    for (let k = 0; k < ids.length; k++) {
      const task = tasks[k];
      if (!task) gone[k] = true;
      else {
        values[k] = task.input;
        if (task.transfer) moved.push(...task.transfer);
      }
    }
    const send = (msg: InputsMessage, transfer: Transferable[]) =>
      slot.worker.postMessage(msg, transfer);
    try {
      send({ type: "inputs", ids, values, gone }, moved);
    } catch {
      // Something is not cloneable: send one by one, fail the culprits.
      for (let k = 0; k < ids.length; k++) {
        const task = tasks[k];
        const one = { type: "inputs", ids: [ids[k]!] } as const;
        try {
          if (!task) throw new Error("gone");
          send(
            { ...one, values: [values[k]], gone: [false] },
            task.transfer ?? [],
          );
        } catch (error) {
          send({ ...one, values: [undefined], gone: [true] }, []);
          if (task) this.#state.settleFailed(task, error);
        }
      }
      this.#hooks.afterDrain();
    }
    for (const task of tasks) {
      // Moved buffers are detached here: the task cannot be re-sent.
      if (task?.transfer) task.inputMoved = true;
    }
  }

  /**
   * Settles the tasks a gone worker started (with `error`) and queues the
   * unstarted rest again (unless their input buffers moved to it).
   */
  #reclaim(slot: WorkerSlot, error: unknown, requeue: boolean): void {
    readCompletions(this.#options.mem, slot, this.#state.settleResult);
    const { started, unstarted } = takeClaimed(this.#options.mem, slot);
    for (const id of started) {
      const task = this.#state.tasks.get(id);
      if (task) this.#state.settleFailed(task, error);
    }
    for (const id of unstarted) {
      const task = this.#state.tasks.get(id);
      if (!task) continue;
      if (task.inputMoved || !requeue) this.#state.settleFailed(task, error);
      else this.#queue.enqueue(task);
    }
    this.#queue.kick();
  }

  /** A retired, stuck or stopped worker says it exits. */
  #onBye(slot: WorkerSlot): void {
    if (slot.retiring) {
      // Retired while idle; a batch it claimed meanwhile goes back.
      this.#reclaim(
        slot,
        new Error("Cannot finish task as its worker retired"),
        true,
      );
      slot.worker.terminate();
      this.#forget(slot);
      slot.bye?.();
      this.#hooks.afterDrain();
      return;
    }
    if (slot.stuck) {
      // Its task returned at last: the area is free again.
      slot.worker.terminate();
      this.#forget(slot);
      return;
    }
    slot.alive = false;
    slot.bye?.();
  }

  #onDeath(slot: WorkerSlot, error: unknown): void {
    if (!slot.alive && !slot.retiring) return;
    slot.alive = false;
    slot.worker.terminate();
    slot.bye?.();
    const running = this.#hooks.running();
    this.#reclaim(slot, error, running);
    this.#forget(slot);
    if (!slot.started) {
      // It died before loading anything (the worker script itself failed,
      // e.g. no --allow-read): a replacement would die the same way.
      this.#ready.reject(error);
      if (this.live === 0) this.#hooks.onBroken(error);
    } else if (running && !slot.retiring) {
      this.#state.counts.workersReplaced++;
      this.#spawn(false);
    }
    this.#publishLive();
    this.#hooks.afterDrain();
  }

  /**
   * Gives up on a worker stuck in synchronous code past its task's cancel:
   * it is told to exit should its task ever return, no longer keeps the
   * process alive, and a fresh worker takes its place; the unstarted rest of
   * its batch is queued again. Its area stays taken until it exits.
   */
  #giveUp(slot: WorkerSlot): void {
    const mem = this.#options.mem;
    // Retired first, then the batch position (the worker does the reverse):
    // a task past the position is queued again and will not run there.
    retire(mem, slot);
    slot.alive = false;
    slot.stuck = true;
    this.#state.counts.workersStuck++;
    this.#state.counts.workersReplaced++;
    unrefWorker(slot.worker);
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1); // its area stays owned
    this.#reclaim(
      slot,
      new Error(
        "Cannot finish task as its worker is stuck in a cancelled task",
      ),
      true,
    );
    if (this.#hooks.running()) this.#spawn(false);
    this.#publishLive();
    this.#hooks.afterDrain();
  }

  /** Stops every worker: at once (`force`), or once each said bye. */
  async stop(force: boolean): Promise<void> {
    const i32 = this.#options.mem.i32;
    Atomics.store(i32, SHUTDOWN, 1);
    Atomics.add(i32, WORK_SEQ, 1);
    Atomics.notify(i32, WORK_SEQ);
    // Release a pending Atomics.waitAsync of the pool's.
    Atomics.add(i32, DONE_SEQ, 1);
    Atomics.notify(i32, DONE_SEQ);
    for (const timer of this.#stuckTimers) clearTimeout(timer);
    this.#stuckTimers.clear();
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
    const waits: Promise<void>[] = [];
    for (const slot of [...this.#slots]) {
      if (!slot.alive && !slot.retiring) continue;
      if (force) {
        slot.alive = false;
        slot.worker.terminate();
        // A worker busy in synchronous code runs on after terminate(): it
        // must not keep the process alive.
        unrefWorker(slot.worker);
        this.#forget(slot);
        continue;
      }
      waits.push(
        new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            slot.bye = undefined;
            slot.alive = false;
            slot.worker.terminate();
            this.#forget(slot);
            resolve();
          };
          const timer = setTimeout(() => {
            // Stuck in synchronous code: terminate() is all we can do, and
            // keep it from holding the process.
            unrefWorker(slot.worker);
            done();
          }, BYE_TIMEOUT_MS);
          slot.bye = done;
        }),
      );
    }
    // Stuck workers were detached already; stop them if they ever return.
    for (const owner of this.#areaOwner) {
      if (owner?.stuck) owner.worker.terminate();
    }
    this.#publishLive();
    await Promise.all(waits);
  }

  /** Rejects `ready()` (the pool was terminated before it). */
  rejectReady(error: unknown): void {
    if (this.#readyCount < this.#options.minWorkers) this.#ready.reject(error);
  }
}
