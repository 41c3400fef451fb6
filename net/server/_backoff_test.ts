import { assertEquals } from "@std/assert";
import { backoffDelay } from "./_backoff.ts";

Deno.test("backoffDelay doubles from the initial delay up to the cap", () => {
  const delays = Array.from(
    { length: 8 },
    (_, i) => backoffDelay(i, 100, 5000),
  );
  assertEquals(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assertEquals(backoffDelay(5000, 100, 5000), 5000);
  assertEquals(backoffDelay(3, 0, 5000), 0);
});
