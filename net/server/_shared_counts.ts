// The counters the Workers of a multi-worker TcpServer share in one
// SharedArrayBuffer: the connection id sequence, the open connections (over
// all Workers, and per Worker so that a crashed Worker's can be taken out),
// their peak, and the stats each Worker publishes. The Workers count and
// publish; the main thread sums. Only this file knows the layout.

import type { DisconnectReason } from "./network_handler.ts";
import type { TcpServerStats } from "./tcp_server_options.ts";
import { zeroDisconnects } from "./_connection_record.ts";
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

/** Float64 stats published by each worker, `FIELDS` per worker. */
const NAMES = [
  "accepted",
  "closed",
  "bytesReceived",
  "bytesQueued",
  "bytesPending",
  "dataEvents",
  "handlerErrors",
  "acceptErrors",
  "descriptorErrors",
  "acceptPauses",
] as const;
/** Disconnect reasons, counted after the named stats. */
const REASONS = Object.keys(zeroDisconnects()) as DisconnectReason[];
/** Float64 fields per worker. */
const FIELDS = NAMES.length + REASONS.length;

/** Bytes of the shared state: the Int32 words, then the Float64 stats. */
const BYTES = WORDS * 4 + MAX_WORKERS * FIELDS * 8;

/** The stats that are sums over the Workers (all but state and uptime). */
export type SummedStats = Omit<TcpServerStats, "state" | "uptimeMs">;

/** A view of the shared counters of one multi-worker server. */
export class SharedCounts {
  /** The memory, posted to each Worker. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #stats: Float64Array;
  // Main thread only: stats of crashed Workers, kept when their slot
  // restarts from zero.
  readonly #retired = new Float64Array(FIELDS);

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, WORDS);
    this.#stats = new Float64Array(buffer, WORDS * 4);
  }

  /** Open connections over all Workers. */
  get open(): number {
    return Atomics.load(this.#words, OPEN);
  }

  /** A new connection id owned by `worker`: unique, never reused. */
  allocateId(worker: number): number {
    const seq = new BigInt64Array(this.buffer, 0, 1);
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

  /** Publishes the stats of Worker `index`. */
  publish(index: number, stats: TcpServerStats): void {
    const base = index * FIELDS;
    for (let i = 0; i < NAMES.length; i++) {
      this.#stats[base + i] = stats[NAMES[i]!];
    }
    for (let i = 0; i < REASONS.length; i++) {
      this.#stats[base + NAMES.length + i] = stats.disconnects[REASONS[i]!];
    }
  }

  /**
   * Takes crashed Worker `index` out of the counts: its stats are kept, and
   * its connections (exact, from the shared count) count as closed with
   * "worker crashed". Returns how many it had open.
   */
  retire(index: number): number {
    const open = Atomics.exchange(this.#words, SLOT_OPEN + index, 0);
    Atomics.sub(this.#words, OPEN, open);
    const base = index * FIELDS;
    for (let i = 0; i < FIELDS; i++) {
      this.#retired[i]! += this.#stats[base + i]!;
      this.#stats[base + i] = 0;
    }
    this.#retired[NAMES.indexOf("closed")]! += open;
    this.#retired[NAMES.length + REASONS.indexOf("worker crashed")]! += open;
    return open;
  }

  /** The stats of Workers `0` to `count - 1` and the retired ones, summed. */
  sum(count: number): SummedStats {
    const sums = new Float64Array(this.#retired);
    for (let w = 0; w < count; w++) {
      for (let i = 0; i < FIELDS; i++) {
        sums[i]! += this.#stats[w * FIELDS + i]!;
      }
    }
    const at = (name: typeof NAMES[number]) => sums[NAMES.indexOf(name)]!;
    const disconnects = zeroDisconnects();
    REASONS.forEach((reason, i) => {
      disconnects[reason] = sums[NAMES.length + i]!;
    });
    return {
      connections: this.open,
      peakConnections: Atomics.load(this.#words, PEAK),
      accepted: at("accepted"),
      closed: at("closed"),
      disconnects,
      bytesReceived: at("bytesReceived"),
      bytesQueued: at("bytesQueued"),
      bytesPending: at("bytesPending"),
      dataEvents: at("dataEvents"),
      handlerErrors: at("handlerErrors"),
      acceptErrors: at("acceptErrors"),
      descriptorErrors: at("descriptorErrors"),
      acceptPauses: at("acceptPauses"),
    };
  }
}
