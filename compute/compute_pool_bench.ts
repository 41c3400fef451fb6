// Micro-benchmarks of ComputePool against a plain postMessage pool (same
// process, same task module). The cross-runtime comparison with piscina is
// bench/compute_peers.ts. Run: deno bench -A compute/compute_pool_bench.ts
import { ComputePool } from "./compute_pool.ts";
import { TaskPriority } from "./task_priority.ts";
import { PostMessagePool } from "../bench/peers/postmessage_pool.ts";

const TASKS = new URL("./testdata/tasks.ts", import.meta.url);
const pool = new ComputePool(TASKS, { workers: 2 });
const plain = new PostMessagePool(TASKS, 2);
await pool.ready();
await Promise.all(Array.from({ length: 1000 }, (_, i) => plain.run("noop", i)));

// Workers are left running: the bench runner exits the process when the
// last bench is done, and an iteration count to close them after is unknown
// (warm-up runs vary).

const BATCH = 10_000;

/** Starts `count` tasks at once and waits for them all. */
async function all(
  count: number,
  start: (i: number) => Promise<unknown>,
): Promise<void> {
  const ps = new Array<Promise<unknown>>(count);
  for (let i = 0; i < count; i++) ps[i] = start(i);
  await Promise.all(ps);
}

interface Contender {
  who: string;
  run(name: string, input: unknown): Promise<unknown>;
  /** A task that should jump the queue (plain postMessage has no priority). */
  runUrgent(name: string, input: unknown): Promise<unknown>;
}

const COMPUTE_POOL: Contender = {
  who: "ComputePool",
  run: (name, input) => pool.run(name, input),
  runUrgent: (name, input) =>
    pool.run(name, input, { priority: TaskPriority.High }),
};
const POSTMESSAGE_POOL: Contender = {
  who: "postMessage pool",
  run: (name, input) => plain.run(name, input),
  runUrgent: (name, input) => plain.run(name, input),
};

/**
 * One row per contender, ComputePool the baseline; `how` names the path
 * ComputePool takes, where it depends on the input.
 */
function compare(
  group: string,
  what: string,
  n: number,
  iteration: (contender: Contender) => Promise<unknown>,
  how?: string,
): void {
  for (const contender of [COMPUTE_POOL, POSTMESSAGE_POOL]) {
    const baseline = contender === COMPUTE_POOL;
    Deno.bench({
      name: `${contender.who}: ${what}${baseline && how ? ` (${how})` : ""}`,
      group,
      baseline,
      n,
      async fn() {
        await iteration(contender);
      },
    });
  }
}

compare(
  "throughput",
  "10,000 tiny tasks (Promise.all)",
  30,
  (c) => all(BATCH, (i) => c.run("noop", i)),
);
compare(
  "round trip",
  "round trip of one tiny task",
  5000,
  (c) => c.runUrgent("noop", 1),
);

// Inline fast path (≤ 88 bytes in the shared slot), the shared byte arena
// (≤ 1 MiB) and the postMessage side channel (larger).
const small = new Uint8Array(64).fill(7);
const large = new Uint8Array(4096).fill(7);
// Distinct arrays: one message carrying the same array twice clones it once.
const big = Array.from({ length: 200 }, () => new Uint8Array(100 * 1024));
const huge = Array.from({ length: 20 }, () => new Uint8Array(2 << 20));

const BYTE_PATHS = [
  { input: small, what: "a 64-byte Uint8Array (inline)" },
  { input: large, what: "a 4 KiB Uint8Array (arena)" },
];
for (const { input, what } of BYTE_PATHS) {
  Deno.bench({
    name: `ComputePool: 1,000 tasks with ${what}`,
    group: "bytes",
    baseline: input === small,
    n: 100,
    async fn() {
      await all(1000, () => pool.run("size", input));
    },
  });
}
compare(
  "large bytes",
  "200 tasks with a 100 KiB Uint8Array",
  20,
  (c) => all(big.length, (i) => c.run("size", big[i])),
  "arena",
);
compare(
  "huge bytes",
  "20 tasks with a 2 MiB Uint8Array",
  10,
  (c) => all(huge.length, (i) => c.run("size", huge[i])),
  "postMessage",
);
