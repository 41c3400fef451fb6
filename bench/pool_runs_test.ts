// Pooling the repetitions of several `bench:peers` runs: the log parser and
// the pairing, on a synthetic log in the format `bench/peers.ts` writes.
import { assertEquals } from "@std/assert";
import { pairedSamples, parseLog } from "./pool_runs.ts";

const LOG = `millrace peer bench: mode full, 3 rep(s), output /tmp/x
tcp rep 1/1
  stream Deno loop 16 KiB: ops_per_s=16000 mb_per_s=1000.00 p50_us=-1 cpu_us_per_op=60.00 errors=0
  stream millrace reactor (scratch): ops_per_s=24000 mb_per_s=1500.00 p50_us=-1 cpu_us_per_op=30.00 errors=0
pingpong side by side rep 1/2
  pingpong side by side Deno loop 16 KiB: ops_per_s=31228.90 mb_per_s=4.00 p99_us=5251 cpu_us_per_op=11.00 errors=0
  pingpong side by side millrace reactor (scratch): ops_per_s=31297.10 mb_per_s=4.01 cpu_us_per_op=10.00 errors=0
pingpong side by side rep 2/2
  pingpong side by side millrace reactor (scratch): ops_per_s=1 mb_per_s=1 cpu_us_per_op=12.00 errors=0
  pingpong side by side Deno loop 16 KiB: ops_per_s=1 mb_per_s=1 cpu_us_per_op=12.00 errors=0
churn side by side rep 1/2
  churn side by side Deno loop 16 KiB: ops_per_s=5600 mb_per_s=0.7 cpu_us_per_op=66.00 errors=0
  churn side by side millrace TcpServer: ops_per_s=5600 mb_per_s=0.7 cpu_us_per_op=60.00 errors=0
`;

Deno.test("parseLog reads each server's figures by mode and repetition", () => {
  const samples = parseLog("a.log", LOG);
  assertEquals(samples.length, 8);
  assertEquals(samples[1], {
    run: "a.log",
    mode: "stream",
    rep: 1,
    server: "millrace reactor (scratch)",
    mbPerS: 1500,
    cpuPerOp: 30,
  });
  assertEquals(samples[3]!.mode, "pingpong side by side");
  assertEquals(samples.map((s) => s.rep), [1, 1, 1, 1, 2, 2, 1, 1]);
});

Deno.test("pairedSamples pairs within a repetition of one run, over every run", () => {
  const samples = [...parseLog("a.log", LOG), ...parseLog("b.log", LOG)];
  const reactor = "millrace reactor (scratch)";
  const loop = "Deno loop 16 KiB";
  const side = "pingpong side by side";
  const [xs, ys] = pairedSamples(samples, side, reactor, loop);
  // Two repetitions in each of two runs, each paired within itself.
  assertEquals(xs, [10, 12, 10, 12]);
  assertEquals(ys, [11, 12, 11, 12]);
  assertEquals(
    pairedSamples(samples, "stream", reactor, loop, "mbPerS"),
    [[1500, 1500], [1000, 1000]],
  );
  // A server missing from a repetition leaves that repetition out.
  assertEquals(
    pairedSamples(samples, "churn side by side", reactor, loop),
    [[], []],
  );
});
