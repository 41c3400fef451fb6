// Test-only knobs of ComputePool. Not exported from mod.ts: a pool reads
// them once, when it is constructed, so a test can set one, build a pool and
// put it back.

/** Internal settings a test may lower to reach rare states quickly. */
export const testing: {
  /** Largest task id before ids wrap to 1 (a real pool: 2^31 - 1). */
  idWrap: number;
} = {
  idWrap: 0x7fffffff,
};
