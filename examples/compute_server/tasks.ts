// Task module of examples/compute_server/main.ts: runs in the pool's workers.
import type { TaskContext } from "@millrace/io/compute";

/** Input of {@linkcode hash}. */
export interface HashJob {
  text: string;
  iterations: number;
}

/**
 * An iterated FNV-1a hash of `text`, `iterations` rounds: CPU work of a known
 * size. Checks for cancellation every 4096 rounds.
 */
export function hash(job: HashJob, ctx?: TaskContext): string {
  const bytes = new TextEncoder().encode(job.text);
  let h = 0x811c9dc5;
  for (let round = 0; round < job.iterations; round++) {
    for (let i = 0; i < bytes.length; i++) {
      h = Math.imul(h ^ bytes[i]!, 0x01000193);
    }
    h = Math.imul(h ^ round, 0x01000193);
    if ((round & 4095) === 4095) ctx?.throwIfCancelled();
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}
