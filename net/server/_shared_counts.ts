// The counters the Workers of a multi-worker TcpServer share in one
// SharedArrayBuffer: the connection id sequence, the open connections (over
// all Workers, and per Worker so that a crashed Worker's can be taken out),
// their peak, and each Worker's stats counters (`_server_counters.ts`), which
// its connection table writes as they change. The Workers count; the main
// thread sums, exact at any moment. Only this file knows the layout.

import type { TcpServerStats } from "./tcp_server_options.ts";
import {
  C_BYTES_PENDING,
  C_CLOSED,
  type CountedStats,
  countedStats,
  COUNTER_FIELDS,
  REASON_FIELD,
  SLOT_FIELDS,
} from "./_server_counters.ts";
import { MAX_WORKERS } from "./_worker_protocol.ts";

// Int32 words.
/** Words 0-1: next connection sequence number, a BigInt64 (never wraps). */
const ID_SEQ = 0;
/** Open connections over all workers. */
const OPEN = 2;
/** Most connections open at once over all workers. */
const PEAK = 3;
/** Per-worker open connection counts start here (one word per worker). */
const SLOT_OPEN = 16;
const WORDS = SLOT_OPEN + MAX_WORKERS;

/** The Workers' counters start on a 128-byte boundary after the words. */
const SLOTS_AT = Math.ceil(WORDS * 4 / 128) * 128;
/** Bytes of the shared state: the Int32 words, then the Workers' counters. */
const BYTES = SLOTS_AT + MAX_WORKERS * SLOT_FIELDS * 8;

/** The stats that are sums over the Workers (all but state and uptime). */
export type SummedStats = Omit<TcpServerStats, "state" | "uptimeMs">;

/** A view of the shared counters of one multi-worker server. */
export class SharedCounts {
  /** The memory, posted to each Worker. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #sequence: BigInt64Array;
  readonly #stats: Float64Array;
  // Main thread only: stats of crashed Workers, kept when their slot
  // restarts from zero.
  readonly #retired = new Float64Array(COUNTER_FIELDS);

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, WORDS);
    this.#sequence = new BigInt64Array(buffer, 0, 1);
    this.#stats = new Float64Array(buffer, SLOTS_AT, MAX_WORKERS * SLOT_FIELDS);
  }

  /** Open connections over all Workers. */
  get open(): number {
    return Atomics.load(this.#words, OPEN);
  }

  /** A new connection id owned by `worker`: unique, never reused. */
  allocateId(worker: number): number {
    const seq = this.#sequence;
    // Past 2^45 sequence numbers the ids would leave the safe integers: that
    // is 35 trillion connections, more than any process serves.
    return (Number(Atomics.add(seq, ID_SEQ, 1n)) + 1) * MAX_WORKERS + worker;
  }

  /** Counts a connection of Worker `index` in, unless `max` are open. */
  admit(index: number, max: number): boolean {
    const words = this.#words;
    const open = Atomics.add(words, OPEN, 1) + 1;
    if (open > max) {
      Atomics.sub(words, OPEN, 1);
      return false;
    }
    Atomics.add(words, SLOT_OPEN + index, 1);
    let peak = Atomics.load(words, PEAK);
    while (open > peak) {
      const seen = Atomics.compareExchange(words, PEAK, peak, open);
      if (seen === peak) break;
      peak = seen;
    }
    return true;
  }

  /** Counts a connection of Worker `index` out; returns the count before. */
  release(index: number): number {
    Atomics.sub(this.#words, SLOT_OPEN + index, 1);
    return Atomics.sub(this.#words, OPEN, 1);
  }

  /** The counters of Worker `index`: its connection table writes them. */
  slot(index: number): Float64Array {
    return this.#stats.subarray(
      index * SLOT_FIELDS,
      index * SLOT_FIELDS + COUNTER_FIELDS,
    );
  }

  /**
   * Takes crashed Worker `index` out of the counts: its stats are kept, and
   * its connections (exact, from the shared count) count as closed with
   * "worker crashed". Returns how many it had open.
   */
  retire(index: number): number {
    const open = Atomics.exchange(this.#words, SLOT_OPEN + index, 0);
    Atomics.sub(this.#words, OPEN, open);
    const slot = this.slot(index);
    // Its queued bytes died with it: not pending any more.
    slot[C_BYTES_PENDING] = 0;
    for (let i = 0; i < COUNTER_FIELDS; i++) this.#retired[i]! += slot[i]!;
    slot.fill(0);
    this.#retired[C_CLOSED]! += open;
    this.#retired[REASON_FIELD["worker crashed"]]! += open;
    return open;
  }

  /** The stats of Workers `0` to `count - 1` and the retired ones, summed. */
  sum(count: number): SummedStats {
    const sums = new Float64Array(this.#retired);
    for (let w = 0; w < count; w++) {
      const slot = this.slot(w);
      for (let i = 0; i < COUNTER_FIELDS; i++) sums[i]! += slot[i]!;
    }
    const { accepted, closed, ...counted }: CountedStats = countedStats(sums);
    return {
      connections: this.open,
      peakConnections: Atomics.load(this.#words, PEAK),
      accepted,
      closed,
      ...counted,
    };
  }
}
