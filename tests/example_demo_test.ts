// The `deno task demo` tour must run to its end on a fresh checkout: run it as
// a subprocess and check what it says happened.
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";

Deno.test("demo runs to its end and reports each part", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-run",
      new URL("../examples/demo.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, `demo failed:\n${stdout}\n${stderr}`);
  assertStringIncludes(stdout, "3 clients x 200 round trips echoed byte-exact");
  assertMatch(stdout, /loop metrics: \d+ ticks, [1-9]\d* events/);
  assertStringIncludes(stdout, "bob: hi alice");
  assertStringIncludes(stdout, "error: line too long");
  assertMatch(stdout, /graceful shutdown: \d+ closed gracefully, \d+ forced/);
  assertMatch(stdout, /critical job finished as number \d+ of 13/);
  assertMatch(stdout, /pool metrics: 13 submitted, 13 completed, 0 failed/);
  assertMatch(stdout, /== done in [\d.]+ s\n$/);
});
