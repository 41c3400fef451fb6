import { assertEquals } from "@std/assert";
import { isThenable, watchResult } from "./watch_result.ts";

Deno.test("isThenable() tells promises and thenables from other values", () => {
  assertEquals(isThenable(Promise.resolve()), true);
  assertEquals(isThenable({ then() {} }), true);
  assertEquals(isThenable(undefined), false);
  assertEquals(isThenable(null), false);
  assertEquals(isThenable(1), false);
  assertEquals(isThenable({ then: 1 }), false);
});

Deno.test("watchResult() reports a rejection and ignores fulfilment and sync results", async () => {
  const seen: unknown[] = [];
  watchResult(Promise.reject(new Error("late")), (e) => seen.push(e));
  watchResult(Promise.resolve(), (e) => seen.push(e));
  watchResult(undefined, (e) => seen.push(e));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(seen.map((e) => (e as Error).message), ["late"]);
});
