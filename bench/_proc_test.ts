// The side-by-side step of the harnesses (`loadAtOnce`), on plain promises:
// every server that started is loaded at the same time and stopped, and a
// server that did not start costs only its own result.
import { assertEquals } from "@std/assert";
import { loadAtOnce } from "./_proc.ts";

Deno.test("loadAtOnce loads every started server at once, then stops them", async () => {
  const log: string[] = [];
  let loading = 0;
  let mostAtOnce = 0;
  const results = await loadAtOnce(
    ["a", "b", "c"],
    (item) => {
      log.push(`start ${item}`);
      if (item === "b") return Promise.reject(new Error("b did not start"));
      return Promise.resolve({ name: item });
    },
    async (server) => {
      mostAtOnce = Math.max(mostAtOnce, ++loading);
      // Each load waits a macrotask turn: overlapping loads are all running.
      await new Promise((resolve) => setTimeout(resolve, 0));
      loading--;
      if (server.name === "c") throw new Error("c's load failed");
      return `${server.name} loaded`;
    },
    (server) => {
      log.push(`stop ${server.name}`);
      return Promise.resolve();
    },
  );
  assertEquals(mostAtOnce, 2);
  assertEquals(log, ["start a", "start b", "start c", "stop a", "stop c"]);
  assertEquals(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "rejected",
  ]);
  assertEquals(
    (results[0] as PromiseFulfilledResult<string>).value,
    "a loaded",
  );
  assertEquals(
    ((results[1] as PromiseRejectedResult).reason as Error).message,
    "b did not start",
  );
  assertEquals(
    ((results[2] as PromiseRejectedResult).reason as Error).message,
    "c's load failed",
  );
});

Deno.test("loadAtOnce stops the servers it started when a start throws", async () => {
  const stopped: number[] = [];
  const results = await loadAtOnce(
    [1, 2],
    (item) => {
      if (item === 2) throw new Error("start threw synchronously");
      return Promise.resolve(item);
    },
    (server) => Promise.resolve(server * 10),
    (server) => {
      stopped.push(server);
      return Promise.resolve();
    },
  );
  assertEquals(stopped, [1]);
  assertEquals(results[0], { status: "fulfilled", value: 10 });
  assertEquals(results[1]!.status, "rejected");
});
