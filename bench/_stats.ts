// Aggregation for the peer harness: medians with min–max over repetitions.

/** One measured run of one peer: metric name → value. */
export type Sample = Record<string, number>;

/** All runs of one peer in one workload. */
export interface PeerResult {
  label: string;
  samples: Sample[];
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
}

/** Everything the report prints besides the tables. */
export interface RunInfo {
  date: string;
  seconds: number;
  mode: string;
  reps: number;
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
  return { label: p.label, n: p.samples.length, errors: p.errors, metrics };
}
