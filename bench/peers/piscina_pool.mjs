// deno-lint-ignore-file no-console explicit-module-boundary-types
// Peer for bench/compute_peers.ts: the same compute scenarios on piscina or
// tinypool (Node; same API for what is measured here). Usage:
//   node piscina_pool.mjs <install prefix> '<json config>' [piscina|tinypool]
// Prints one JSON object on its last stdout line. This file is also the
// pool's worker (its default export runs the tasks).
import { isMainThread } from "node:worker_threads";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setMaxListeners } from "node:events";
import { fileURLToPath, pathToFileURL } from "node:url";

function busy(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU
  }
  return ms;
}

export default function task({ name, input }) {
  return name === "busy" ? busy(input) : input;
}

if (isMainThread) {
  const [prefix, configJson, lib = "piscina"] = process.argv.slice(2);
  const config = JSON.parse(configJson);
  const require = createRequire(path.join(prefix, "node_modules", "x.js"));
  const Pool = lib === "tinypool"
    ? (await import(pathToFileURL(require.resolve("tinypool")).href)).Tinypool
    : require("piscina").Piscina;
  const filename = fileURLToPath(import.meta.url);
  const make = (threads) =>
    new Pool({
      filename,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  const pct = (xs, q) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  };
  const median = (xs) => pct(xs, 0.5);
  const warm = async (pool) => {
    await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) => pool.run({ name: "noop", input: i }),
      ),
    );
  };

  // Windows of tiny tasks for `throughputWarmupMs` before the throughput
  // rounds, as bench/compute_peers.ts does for the Deno pools.
  const warmThroughput = async (pool) => {
    const end = performance.now() + (config.throughputWarmupMs ?? 0);
    while (performance.now() < end) {
      const ps = new Array(config.throughputWindow);
      for (let i = 0; i < ps.length; i++) {
        ps[i] = pool.run({ name: "noop", input: i });
      }
      await Promise.all(ps);
    }
  };

  const out = {};
  {
    const pool = make(2);
    await warm(pool);
    await warmThroughput(pool);
    const throughput = async (window, rounds = config.throughputRounds) => {
      const rates = [];
      for (let r = 0; r < rounds; r++) {
        const n = config.throughputTasks;
        const t = performance.now();
        for (let done = 0; done < n; done += window) {
          const size = Math.min(window, n - done);
          const ps = new Array(size);
          for (let i = 0; i < size; i++) {
            ps[i] = pool.run({ name: "noop", input: i });
          }
          await Promise.all(ps);
        }
        rates.push(n / ((performance.now() - t) / 1000));
      }
      return Math.round(median(rates));
    };
    out.tasks_per_s = await throughput(config.throughputWindow);
    out.tasks_per_s_one_burst = await throughput(config.throughputTasks, 1);
    const lat = [];
    for (let i = 0; i < config.roundTrips; i++) {
      const t = performance.now();
      await pool.run({ name: "noop", input: i });
      lat.push((performance.now() - t) * 1000);
    }
    out.round_trip_p50_us = +median(lat).toFixed(1);
    out.round_trip_p99_us = +pct(lat, 0.99).toFixed(1);

    // Critical task behind queued low ones: no priorities here, so it
    // waits its turn (FIFO); the lows are cancelled once it is done.
    const runs = [];
    for (let r = 0; r < config.criticalReps; r++) {
      const ac = new AbortController();
      setMaxListeners(0, ac.signal);
      const lows = [];
      for (let i = 0; i < config.lowTasks; i++) {
        lows.push(
          pool.run({ name: "busy", input: config.lowTaskMs }, {
            signal: ac.signal,
          }).catch(() => {}),
        );
      }
      const t = performance.now();
      await pool.run({ name: "busy", input: config.lowTaskMs });
      runs.push(performance.now() - t);
      ac.abort();
      await Promise.all(lows);
    }
    const ms = median(runs);
    out.critical_behind_low_ms = +ms.toFixed(2);
    out.critical_in_task_runs = +(ms / config.lowTaskMs).toFixed(2);
    await pool.destroy();
  }
  {
    const times = {};
    for (const threads of [1, 2]) {
      const pool = make(threads);
      await warm(pool);
      const runs = [];
      for (let r = 0; r < config.speedupRounds; r++) {
        const t = performance.now();
        await Promise.all(
          Array.from(
            { length: config.speedupTasks },
            () => pool.run({ name: "busy", input: config.speedupTaskMs }),
          ),
        );
        runs.push(performance.now() - t);
      }
      times[threads] = median(runs);
      await pool.destroy();
    }
    out.speedup_1_to_2 = +(times[1] / times[2]).toFixed(3);
  }
  out.version = JSON.parse(
    readFileSync(
      path.join(prefix, "node_modules", lib, "package.json"),
      "utf8",
    ),
  ).version;
  console.log(JSON.stringify(out));
}
