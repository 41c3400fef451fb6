// Aggregation for the peer harness: medians with min–max over repetitions.

/** One measured run of one peer: metric name → value. */
export type Sample = Record<string, number>;

/** All runs of one peer in one workload. */
export interface PeerResult {
  label: string;
  samples: Sample[];
  /**
   * The repetition each sample comes from (the peers of one repetition run
   * back to back, so a ratio within one is paired); the sample's index if
   * absent.
   */
  reps?: number[];
  errors: string[];
}

/** workload → peer id → runs. */
export type Results = Map<string, Map<string, PeerResult>>;

/** Median and range of one metric. */
export interface Stat {
  med: number;
  min: number;
  max: number;
}

/** A peer's aggregated runs. */
export interface Agg {
  label: string;
  n: number;
  errors: string[];
  metrics: Record<string, Stat>;
  /** Repetition → that repetition's sample (for paired ratios). */
  byRep?: Map<number, Sample>;
}

/** Everything the report prints besides the tables. */
export interface RunInfo {
  date: string;
  seconds: number;
  mode: string;
  reps: number;
  /** Repetitions of the raw TCP rows (`reps` if absent). */
  tcpReps?: number;
  /** Repetitions of the side-by-side rows (`bench/peers.ts`), if any ran. */
  sideReps?: number | undefined;
  command: string;
  /** `git rev-parse --short HEAD`, with `+dirty` when the tree had changes. */
  commit: string;
  idleConns: number;
  machine: {
    nproc: number;
    cpu: string;
    kernel: string;
    deno: string;
    node: string;
    redis: string;
    wrk: string;
    gcc: string;
  };
  notAvailable: string[];
  exitCodes: string[];
  compute: Record<string, unknown> | string;
  taskset: boolean;
}

/** The median of a list (mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median and min–max of every metric over the samples. */
export function aggregate(p: PeerResult): Agg {
  const metrics: Record<string, Stat> = {};
  const keys = new Set(p.samples.flatMap((s) => Object.keys(s)));
  for (const k of keys) {
    const xs = p.samples.map((s) => s[k]!).filter((x) => Number.isFinite(x));
    metrics[k] = {
      med: median(xs),
      min: xs.length ? Math.min(...xs) : NaN,
      max: xs.length ? Math.max(...xs) : NaN,
    };
  }
  const byRep = new Map<number, Sample>();
  p.samples.forEach((sample, i) => byRep.set(p.reps?.[i] ?? i, sample));
  return {
    label: p.label,
    n: p.samples.length,
    errors: p.errors,
    metrics,
    byRep,
  };
}

/**
 * A distribution-free confidence interval of the median of `xs`: the order
 * statistics `k` and `n + 1 - k` (1-based) with the largest `k` for which
 * P(Binomial(n, ½) < k) ≤ (1 − level) / 2, so the interval covers the
 * median with at least `level` whatever the distribution. `undefined` when
 * `xs` has too few values for that level (fewer than 6 at 95 %).
 */
export function medianInterval(
  xs: number[],
  level = 0.95,
): [number, number] | undefined {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  const tail = (1 - level) / 2;
  // P(B ≤ j) for B ~ Binomial(n, ½), summed term by term.
  let term = 0.5 ** n;
  let below = term; // P(B ≤ 0)
  let k = 0;
  for (let j = 0; j < n && below <= tail; j++) {
    k = j + 1; // P(B < k) = P(B ≤ j) ≤ tail
    term = term * (n - j) / (j + 1);
    below += term;
  }
  if (k === 0) return undefined;
  return [s[k - 1]!, s[n - k]!];
}

/**
 * `xs[k] ÷ ys[k]` for every repetition `k`, as "median (95 % CI lo–hi)
 * [min–max]" with three decimals (the A/B scripts' paired column). The
 * interval is `medianInterval`'s; it is left out with fewer than 6
 * repetitions.
 */
export function formatPaired(xs: number[], ys: number[]): string {
  const r = xs.map((x, k) => x / ys[k]!);
  const ci = medianInterval(r);
  const interval = ci === undefined
    ? ""
    : ` (CI ${ci[0].toFixed(3)}–${ci[1].toFixed(3)})`;
  return `${median(r).toFixed(3)}${interval} [${Math.min(...r).toFixed(3)}–${
    Math.max(...r).toFixed(3)
  }]`;
}

/**
 * A paired ratio: its median and range over `n` repetitions, and the 95 %
 * interval of the median (`medianInterval`) from 6 repetitions on.
 */
export interface PairedRatio extends Stat {
  n: number;
  ci: [number, number] | undefined;
}

/**
 * `a ÷ base` on metric `key`, repetition by repetition, then the median and
 * range of those ratios: the drift of a shared machine between repetitions
 * (which moves every peer of one repetition alike) cancels out, where a
 * median ÷ a median keeps it. `undefined` with fewer than two repetitions
 * that both peers completed.
 */
export function pairedRatio(
  a: Agg | undefined,
  base: Agg | undefined,
  key: string,
): PairedRatio | undefined {
  if (a?.byRep === undefined || base?.byRep === undefined) return undefined;
  const ratios: number[] = [];
  for (const [rep, sample] of a.byRep) {
    const x = sample[key], y = base.byRep.get(rep)?.[key];
    if (
      x !== undefined && y !== undefined && Number.isFinite(x) &&
      Number.isFinite(y) && y !== 0
    ) ratios.push(x / y);
  }
  if (ratios.length < 2) return undefined;
  return {
    med: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    n: ratios.length,
    ci: medianInterval(ratios),
  };
}
