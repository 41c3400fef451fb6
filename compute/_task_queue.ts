// The pool's side of the task rings: the producer. Tasks go to the tail of
// their priority's ring in shared memory (inputs inline, or in the byte
// arena, or marked to come by postMessage); when a ring or its arena is
// full they wait in an overflow queue and move in as workers free room.

import * as L from "./_layout.ts";
import type { SharedMemory } from "./_layout.ts";
import {
  K_ARENA_BUFFER,
  K_ARENA_BYTES,
  K_ARENA_STRING,
  K_SIDE,
  K_SIDE_MOVED,
  usesArena,
  writeSlot,
} from "./_codec.ts";
import { Fifo, type Task } from "./_task.ts";

const encoder = new TextEncoder();
const IN_ARENA = 0;
const NOT_ARENA = 1;
const ARENA_FULL = 2;

/** Rough byte size of a value that goes by postMessage (0: small or unknown). */
function sizeHint(value: unknown): number {
  if (typeof value === "string") return value.length * 2;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return Math.min(value.byteLength, 0x7fffffff);
  }
  return 0;
}

/** Queues tasks for the workers. */
export class TaskQueue {
  #mem: SharedMemory;
  #workers: () => number;
  #onBurstEnd: () => void;
  #overflow: Fifo<Task>[] = [];
  #overflowDropped = [0, 0, 0, 0];
  #tails = [0, 0, 0, 0];
  /** Tails workers see (TAIL + p); tasks past them are not published yet. */
  #published = [0, 0, 0, 0];
  /** Live tasks written past the published tails, per priority. */
  #unpublished = [0, 0, 0, 0];
  #arenaTails = [0, 0, 0, 0];
  #kickScheduled = false;
  #burstTime = -1;
  #kickCount = 0;

  /**
   * @param mem The shared memory.
   * @param workers How many workers to wake for a long burst.
   * @param onBurstEnd Called once a burst of submissions was announced.
   */
  constructor(
    mem: SharedMemory,
    workers: () => number,
    onBurstEnd: () => void,
  ) {
    this.#mem = mem;
    this.#workers = workers;
    this.#onBurstEnd = onBurstEnd;
    for (let p = 0; p < L.PRIORITIES; p++) this.#overflow.push(new Fifo());
  }

  /** Tasks waiting (not claimed, not cancelled), per priority. */
  depth(p: number): number {
    return this.#live(p) + this.#overflow[p]!.length -
      this.#overflowDropped[p]!;
  }

  /** Live tasks in ring `p`, published or not. */
  #live(p: number): number {
    return Atomics.load(this.#mem.i32, L.QUEUED + p) + this.#unpublished[p]!;
  }

  /** Tasks waiting (not claimed, not cancelled). */
  waiting(): number {
    let n = 0;
    for (let p = 0; p < L.PRIORITIES; p++) n += this.depth(p);
    return n;
  }

  /** Whether tasks wait in the overflow queues. */
  overflowing(): boolean {
    for (const q of this.#overflow) if (q.length > 0) return true;
    return false;
  }

  /** Queues a task (a new one, or one a dead worker had claimed). */
  enqueue(task: Task): void {
    const p = task.priority;
    const overflow = this.#overflow[p]!;
    task.ring = -1;
    if (overflow.length > 0 || !this.#pushRing(task)) {
      task.inOverflow = true;
      overflow.push(task);
    }
  }

  /**
   * Removes a task that waits (in its ring: a tombstone a worker or the
   * producer drops later). Returns `false` when a worker claimed it.
   */
  remove(task: Task): boolean {
    if (task.inOverflow) {
      task.dropped = true;
      this.#overflowDropped[task.priority]!++;
      return true;
    }
    if (task.ring < 0) return false;
    const i32 = this.#mem.i32;
    const s32 = L.slotOffset(this.#mem.lay, task.ring, task.pos) >> 2;
    if (
      i32[s32 + L.S_ID] === task.id &&
      Atomics.compareExchange(i32, s32 + L.S_STATE, L.READY, L.CANCELLED) ===
        L.READY
    ) {
      const p = task.ring;
      if (((task.pos - this.#published[p]!) | 0) >= 0) this.#unpublished[p]!--;
      else Atomics.sub(i32, L.QUEUED + p, 1);
      return true;
    }
    return false;
  }

  /** Forgets every waiting task (the pool settled them). */
  clear(): void {
    for (const q of this.#overflow) q.clear();
    this.#overflowDropped = [0, 0, 0, 0];
    this.publish();
    for (let p = 0; p < L.PRIORITIES; p++) {
      Atomics.store(this.#mem.i32, L.QUEUED + p, 0);
    }
  }

  /** Writes `task` to the tail of its ring; `false` when it is full. */
  #pushRing(task: Task): boolean {
    const p = task.priority;
    const i32 = this.#mem.i32;
    const tail = this.#tails[p]!;
    if (((tail - Atomics.load(i32, L.HEAD + p)) | 0) >= L.RING_SLOTS) {
      // Full. If nothing in it is live, it is all tombstones no worker will
      // come to skip: drop them here.
      if (this.#live(p) !== 0) return false;
      this.#dropTombstones(p);
      if (((tail - Atomics.load(i32, L.HEAD + p)) | 0) >= L.RING_SLOTS) {
        return false;
      }
    }
    const slot = L.slotOffset(this.#mem.lay, p, tail);
    const s32 = slot >> 2;
    if (
      !writeSlot(
        this.#mem,
        slot,
        task.id,
        task.fn,
        task.enqueued,
        task.input,
        task.transfer === undefined,
      )
    ) {
      let arena = task.transfer === undefined
        ? this.#toArena(p, s32, task.input)
        : NOT_ARENA;
      if (arena === ARENA_FULL && this.#live(p) === 0) {
        // Only tombstones hold the arena and no worker will come to skip
        // them: drop them here.
        this.#dropTombstones(p);
        arena = this.#toArena(p, s32, task.input);
      }
      // A full arena holds the task back (overflow queue) rather than
      // sending its bytes the slow way: claims free the arena soon.
      if (arena === ARENA_FULL) return false;
      if (arena === NOT_ARENA) {
        i32[s32 + L.S_KIND] = task.transfer === undefined
          ? K_SIDE
          : K_SIDE_MOVED;
        i32[s32 + L.S_LEN] = sizeHint(task.input);
      }
    }
    Atomics.store(i32, s32 + L.S_STATE, L.READY);
    const next = (tail + 1) | 0;
    this.#tails[p] = next;
    this.#unpublished[p]!++;
    task.ring = p;
    task.pos = tail;
    task.inOverflow = false;
    // Workers see tasks in chunks: a long burst of submissions publishes and
    // wakes the workers every PUBLISH_EVERY tasks, so that they work while it
    // goes on without chasing the tail task by task; the kick microtask
    // publishes the rest once the burst ends (one wake for a short burst or
    // a single task).
    if (++this.#kickCount >= L.PUBLISH_EVERY) {
      this.#wake(this.#workers());
      this.#kickCount = 0;
    }
    return true;
  }

  /** Makes the tasks written so far visible to the workers. */
  publish(): void {
    const i32 = this.#mem.i32;
    for (let p = 0; p < L.PRIORITIES; p++) {
      if (this.#published[p] === this.#tails[p]) continue;
      // Slots first, then the tail: a worker that sees the tail sees them.
      this.#published[p] = this.#tails[p]!;
      Atomics.store(i32, L.TAIL + p, this.#tails[p]!);
      Atomics.add(i32, L.QUEUED + p, this.#unpublished[p]!);
      this.#unpublished[p] = 0;
    }
  }

  #wake(count: number): void {
    const i32 = this.#mem.i32;
    this.publish();
    Atomics.add(i32, L.WORK_SEQ, 1);
    const sleepers = Atomics.load(i32, L.SLEEPERS);
    if (sleepers > 0) {
      Atomics.notify(i32, L.WORK_SEQ, Math.min(sleepers, count));
    }
  }

  /**
   * Copies bytes or a string of up to ARENA_MAX_ITEM bytes into the arena of
   * priority `p` (no postMessage round trip). Returns IN_ARENA, NOT_ARENA (the
   * value is of another kind or too big) or ARENA_FULL.
   */
  #toArena(p: number, s32: number, input: unknown): number {
    let kind: number;
    let bytes: Uint8Array | undefined;
    let max: number;
    if (input instanceof Uint8Array && input.constructor === Uint8Array) {
      kind = K_ARENA_BYTES;
      bytes = input;
      max = input.byteLength;
    } else if (input instanceof ArrayBuffer && !input.resizable) {
      kind = K_ARENA_BUFFER;
      bytes = new Uint8Array(input);
      max = input.byteLength;
    } else if (typeof input === "string") {
      kind = K_ARENA_STRING;
      max = input.length * 3; // worst case of UTF-8
    } else return NOT_ARENA;
    if (max > L.ARENA_MAX_ITEM) return NOT_ARENA;
    let tail = this.#arenaTails[p]!;
    let at = tail & (L.ARENA_BYTES - 1);
    if (at + max > L.ARENA_BYTES) {
      // Keep every item contiguous: skip the end of the arena.
      tail = (tail + L.ARENA_BYTES - at) | 0;
      at = 0;
    }
    const head = Atomics.load(this.#mem.i32, L.ARENA_HEAD + p);
    if (((tail + max - head) | 0) > L.ARENA_BYTES) return ARENA_FULL;
    const base = this.#mem.lay.arena + p * L.ARENA_BYTES + at;
    let len: number;
    if (bytes !== undefined) {
      this.#mem.u8.set(bytes, base);
      len = bytes.byteLength;
    } else {
      len = encoder.encodeInto(
        input as string,
        this.#mem.u8.subarray(base, base + max),
      ).written;
    }
    const end = (tail + len) | 0;
    this.#arenaTails[p] = end;
    const i32 = this.#mem.i32;
    i32[s32 + L.S_KIND] = kind;
    i32[s32 + L.S_LEN] = len;
    i32[s32 + L.S_AEND] = end;
    return IN_ARENA;
  }

  /** Frees ring slots held by tasks aborted while queued. */
  #dropTombstones(p: number): void {
    const i32 = this.#mem.i32;
    this.publish(); // the head must not pass the tail workers see
    L.lock(i32, false);
    let h = Atomics.load(i32, L.HEAD + p);
    const tail = this.#tails[p]!;
    while (h !== tail) {
      const s32 = L.slotOffset(this.#mem.lay, p, h) >> 2;
      if (Atomics.load(i32, s32 + L.S_STATE) !== L.CANCELLED) break;
      Atomics.store(i32, s32 + L.S_STATE, L.EMPTY);
      if (usesArena(i32[s32 + L.S_KIND]!)) {
        Atomics.store(i32, L.ARENA_HEAD + p, i32[s32 + L.S_AEND]!);
      }
      h = (h + 1) | 0;
    }
    Atomics.store(i32, L.HEAD + p, h);
    L.unlock(i32);
  }

  /** Whether tasks were queued that no worker was woken for yet. */
  get unannounced(): boolean {
    return this.#kickCount > 0;
  }

  /** Moves tasks from the overflow queues into rings with room. */
  refill(): void {
    for (let p = 0; p < L.PRIORITIES; p++) {
      const overflow = this.#overflow[p]!;
      while (overflow.length > 0) {
        const task = overflow.peek()!;
        if (task.dropped) {
          overflow.shift();
          this.#overflowDropped[p]!--;
          continue;
        }
        if (!this.#pushRing(task)) break;
        overflow.shift();
      }
    }
  }

  /**
   * Submission time, read once per synchronous burst of `run` calls (a clock
   * read costs ~0.2 µs here, more than the rest of a submission); the kick
   * microtask ends the burst.
   */
  now(): number {
    if (this.#burstTime < 0) {
      this.#burstTime = L.now();
      this.kick();
    }
    return this.#burstTime;
  }

  /** Announces the tasks of this burst to the workers, in a microtask. */
  kick(): void {
    if (this.#kickScheduled) return;
    this.#kickScheduled = true;
    queueMicrotask(this.flushKick);
  }

  /** Wakes workers for the tasks queued since the last wake. */
  flushKick = (): void => {
    this.#kickScheduled = false;
    this.#burstTime = -1;
    if (this.#kickCount > 0) this.#wake(this.#kickCount);
    else this.publish();
    this.#kickCount = 0;
    this.#onBurstEnd();
  };
}
