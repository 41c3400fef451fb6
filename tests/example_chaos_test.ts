// The chaos client (tests/_chaos.ts) against the example servers, each run
// as its own process: resets mid-write, 1-byte drips, half-closes, a 16 MiB
// burst (1 MiB for chat, where every line is broadcast to every reader) and
// connect-and-vanish, every byte checked. The seed is printed; replay with
// CHAOS_SEED=N.

import { assert } from "@std/assert";
import { runChaos } from "./_chaos.ts";
import { startExample, within } from "./_helpers.ts";

function chaosSeed(): number {
  const fixed = Number(Deno.env.get("CHAOS_SEED") ?? "");
  return Number.isSafeInteger(fixed) && Deno.env.get("CHAOS_SEED")
    ? fixed
    : (Math.random() * 0x7fffffff) | 0;
}

const servers = [
  { protocol: "echo", file: "echo_server.ts", burstBytes: 16 << 20 },
  { protocol: "chat", file: "chat_server.ts", burstBytes: 1 << 20 },
  { protocol: "redis", file: "mini_redis/main.ts", burstBytes: 16 << 20 },
] as const;

for (const { protocol, file, burstBytes } of servers) {
  Deno.test(`chaos client against examples/${file}: every byte checked, server still serving`, async () => {
    const seed = chaosSeed();
    // deno-lint-ignore no-console
    console.log(`chaos seed: ${seed} (replay with CHAOS_SEED=${seed})`);
    const server = await startExample(file, { readStdout: true });
    try {
      const report = await runChaos({
        port: server.port,
        protocol,
        seed,
        connections: 30,
        concurrency: 6,
        burstBytes,
        deadlineMs: 30_000,
      });
      // deno-lint-ignore no-console
      console.log(JSON.stringify(report));
      assert(report.verifiedBytes >= burstBytes, "the burst was checked");
      for (const [behaviour, n] of Object.entries(report.behaviours)) {
        assert(n > 0, `behaviour ${behaviour} ran`);
      }
    } finally {
      server.child.kill("SIGTERM");
      const status = await within(server.child.status, 10_000, `${file} exits`);
      await server.stdout.rest();
      const stderr = await server.stderr;
      assert(
        status.success,
        `${file} exit code ${status.code}; stderr: ${stderr}`,
      );
    }
  });
}
