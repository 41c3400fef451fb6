// A log-bucketed histogram: O(1) record, 8 buckets per power of two (about
// 9 % relative error), which is plenty for p50/p99 of task timings.

const PER_OCTAVE = 8;
const BUCKETS = PER_OCTAVE * 40 + 2;

/**
 * Summary of a histogram, in milliseconds.
 *
 * @example Usage
 * ```ts
 * import { ComputePool, type HistogramSummary } from "@millrace/io/compute";
 * import { assert, assertEquals } from "@std/assert";
 *
 * await using pool = new ComputePool(new URL("./testdata/tasks.ts", import.meta.url), { workers: 1 });
 * await pool.run("add", [1, 2]);
 * const runTime: HistogramSummary = pool.metrics().runTime;
 * assertEquals(runTime.count, 1);
 * assert(runTime.p50 <= runTime.max);
 * ```
 */
export interface HistogramSummary {
  /** Number of samples. */
  readonly count: number;
  /** Median, in milliseconds (upper bound of its bucket, at most `max`). */
  readonly p50: number;
  /** 99th percentile, in milliseconds (upper bound of its bucket, at most `max`). */
  readonly p99: number;
  /** Largest sample, in milliseconds. */
  readonly max: number;
  /** Arithmetic mean, in milliseconds. */
  readonly mean: number;
}

/** Log-bucketed histogram of millisecond durations. */
export class Histogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    let bucket = 0;
    if (us >= 1) {
      bucket = Math.min(
        BUCKETS - 1,
        1 + Math.floor(Math.log2(us) * PER_OCTAVE),
      );
    } else if (!(us >= 0)) return; // NaN or negative clock skew: ignore
    this.#counts[bucket]!++;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The value below which `q` (0..1) of the samples fall, in milliseconds. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const upperUs = i === 0 ? 1 : Math.pow(2, i / PER_OCTAVE);
        return Math.min(upperUs / 1000, this.#max);
      }
    }
    return this.#max;
  }

  /** p50, p99, max, mean and count. */
  summary(): HistogramSummary {
    return {
      count: this.#count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      max: this.#max,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
    };
  }
}
