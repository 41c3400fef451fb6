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

// Inline fast path (≤ 88 bytes in the shared slot) against the postMessage
// side channel for larger buffers.
const small = new Uint8Array(64).fill(7);
const large = new Uint8Array(4096).fill(7);

Deno.bench({
  name: "ComputePool: 1,000 tasks with a 64-byte Uint8Array (inline)",
  group: "bytes",
  baseline: true,
  n: 100,
  async fn() {
    const ps = new Array<Promise<unknown>>(1000);
    for (let i = 0; i < 1000; i++) ps[i] = pool.run("sumBytes", small);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "ComputePool: 1,000 tasks with a 4 KiB Uint8Array (postMessage)",
  group: "bytes",
  n: 100,
  async fn() {
    const ps = new Array<Promise<unknown>>(1000);
    for (let i = 0; i < 1000; i++) ps[i] = pool.run("sumBytes", large);
    await Promise.all(ps);
  },
});

Deno.bench({
  name: "postMessage pool: 1,000 tasks with a 64-byte Uint8Array",
  group: "bytes",
  n: 100,
  async fn() {
    const ps = new Array<Promise<unknown>>(1000);
    for (let i = 0; i < 1000; i++) ps[i] = plain.run("sumBytes", small);
    await Promise.all(ps);
  },
});
