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

Deno.bench({
  name: "ComputePool: 10,000 tiny tasks (Promise.all)",
  group: "throughput",
  baseline: true,
  n: 30,
  async fn() {
    const ps = new Array<Promise<unknown>>(BATCH);
    for (let i = 0; i < BATCH; i++) ps[i] = pool.run("noop", i);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "postMessage pool: 10,000 tiny tasks (Promise.all)",
  group: "throughput",
  n: 30,
  async fn() {
    const ps = new Array<Promise<unknown>>(BATCH);
    for (let i = 0; i < BATCH; i++) ps[i] = plain.run("noop", i);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "ComputePool: round trip of one tiny task",
  group: "round trip",
  baseline: true,
  n: 5000,
  async fn() {
    await pool.run("noop", 1, { priority: TaskPriority.High });
  },
});

Deno.bench({
  name: "postMessage pool: round trip of one tiny task",
  group: "round trip",
  n: 5000,
  async fn() {
    await plain.run("noop", 1);
  },
});

// Inline fast path (≤ 88 bytes in the shared slot), the shared byte arena
// (≤ 1 MiB) and the postMessage side channel (larger).
const small = new Uint8Array(64).fill(7);
const large = new Uint8Array(4096).fill(7);
// Distinct arrays: one message carrying the same array twice clones it once.
const big = Array.from({ length: 200 }, () => new Uint8Array(100 * 1024));
const huge = Array.from({ length: 20 }, () => new Uint8Array(2 << 20));

Deno.bench({
  name: "ComputePool: 1,000 tasks with a 64-byte Uint8Array (inline)",
  group: "bytes",
  baseline: true,
  n: 100,
  async fn() {
    const ps = new Array<Promise<unknown>>(1000);
    for (let i = 0; i < 1000; i++) ps[i] = pool.run("size", small);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "ComputePool: 1,000 tasks with a 4 KiB Uint8Array (arena)",
  group: "bytes",
  n: 100,
  async fn() {
    const ps = new Array<Promise<unknown>>(1000);
    for (let i = 0; i < 1000; i++) ps[i] = pool.run("size", large);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "ComputePool: 200 tasks with a 100 KiB Uint8Array (arena)",
  group: "large bytes",
  baseline: true,
  n: 20,
  async fn() {
    await Promise.all(big.map((bytes) => pool.run("size", bytes)));
  },
});

Deno.bench({
  name: "postMessage pool: 200 tasks with a 100 KiB Uint8Array",
  group: "large bytes",
  n: 20,
  async fn() {
    await Promise.all(big.map((bytes) => plain.run("size", bytes)));
  },
});

Deno.bench({
  name: "ComputePool: 20 tasks with a 2 MiB Uint8Array (postMessage)",
  group: "huge bytes",
  baseline: true,
  n: 10,
  async fn() {
    await Promise.all(huge.map((bytes) => pool.run("size", bytes)));
  },
});

Deno.bench({
  name: "postMessage pool: 20 tasks with a 2 MiB Uint8Array",
  group: "huge bytes",
  n: 10,
  async fn() {
    await Promise.all(huge.map((bytes) => plain.run("size", bytes)));
  },
});
