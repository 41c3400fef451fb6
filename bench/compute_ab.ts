// deno-lint-ignore-file no-console
/**
 * Paired, interleaved A/B of `ComputePool` trees in one process: each round
 * runs every tree in turn (the order flips every round) on `WINDOWS` windows
 * of 10,000 tiny tasks (tasks/s) and 300 awaited round trips (p50), then
 * prints per tree the medians and the median of its per-round ratios to the
 * first tree. Pass copies of the repository (each with `compute/`).
 *
 *   WINDOWS=20 deno run -A bench/compute_ab.ts 8 /tmp/compute_base .
 *
 * @module
 */
import type { ComputePool } from "../compute/mod.ts";

const rounds = Number(Deno.args[0] ?? 6);
const roots = Deno.args.slice(1).map((r) => Deno.realPathSync(r));
const windows = Number(Deno.env.get("WINDOWS") ?? 5);
if (!(rounds >= 1) || roots.length < 2) {
  console.error("usage: deno run -A bench/compute_ab.ts ROUNDS ROOT_A ROOT_B…");
  Deno.exit(2);
}
const pools: ComputePool[] = [];
for (const root of roots) {
  const mod = await import(`file://${root}/compute/mod.ts`);
  const tasks = new URL(`file://${root}/compute/testdata/tasks.ts`);
  const pool: ComputePool = new mod.ComputePool(tasks, { workers: 2 });
  await pool.ready();
  await Promise.all(
    Array.from({ length: 20_000 }, (_, i) => pool.run("noop", i)),
  );
  pools.push(pool);
}
const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate: number[][] = roots.map(() => []);
const p50: number[][] = roots.map(() => []);
for (let r = 0; r < rounds; r++) {
  const order = roots.map((_, i) => r % 2 === 0 ? i : roots.length - 1 - i);
  for (const k of order) {
    const pool = pools[k]!;
    const t = performance.now();
    for (let w = 0; w < windows; w++) {
      const ps = new Array<Promise<unknown>>(10_000);
      for (let i = 0; i < 10_000; i++) ps[i] = pool.run("noop", i);
      await Promise.all(ps);
    }
    rate[k]!.push(windows * 10_000 / ((performance.now() - t) / 1000));
    const trips: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await pool.run("noop", i);
      trips.push((performance.now() - t0) * 1000);
    }
    p50[k]!.push(median(trips));
  }
}
for (let k = 0; k < roots.length; k++) {
  const rateRatios = rate[k]!.map((x, i) => x / rate[0]![i]!);
  const p50Ratios = p50[k]!.map((x, i) => x / p50[0]![i]!);
  console.log(
    roots[k],
    "tasks/s",
    Math.round(median(rate[k]!)),
    "p50 µs",
    median(p50[k]!).toFixed(1),
    k === 0
      ? ""
      : `paired tasks/s ratio ${median(rateRatios).toFixed(3)} [${
        rateRatios.map((x) => x.toFixed(2)).join(" ")
      }] p50 ratio ${median(p50Ratios).toFixed(3)}`,
  );
  await pools[k]!.close();
}
