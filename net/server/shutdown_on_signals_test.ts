import { assertEquals, assertThrows } from "@std/assert";
import { shutdownOnSignals } from "./shutdown_on_signals.ts";
import { Lines, listeningPort } from "../../tests/_helpers.ts";

type Call = { force?: boolean; timeoutMs?: number };

function recorder(): { calls: Call[]; shutdown(o: Call): Promise<void> } {
  const calls: Call[] = [];
  return {
    calls,
    shutdown(options: Call): Promise<void> {
      calls.push(options);
      return Promise.resolve();
    },
  };
}

/** Sends `signal` to this process and waits until `calls` grows. */
async function raise(signal: Deno.Signal, calls: unknown[], expected: number) {
  Deno.kill(Deno.pid, signal);
  for (let i = 0; i < 200 && calls.length < expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const CHILD = new URL(
  "../../tests/testdata/signal_child.ts",
  import.meta.url,
);

/** Runs the signal child in `mode`; its stdout is read a line at a time. */
function startChild(
  mode: "normal" | "hang",
): { child: Deno.ChildProcess; next: () => Promise<string | null> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD.pathname, mode],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdout = new Lines(child.stdout);
  return { child, next: () => stdout.next() };
}

Deno.test("shutdownOnSignals() graceful on the first signal, forced on the second", async () => {
  const target = recorder();
  const seen: [Deno.Signal, boolean][] = [];
  using _ = shutdownOnSignals(target, {
    signals: ["SIGUSR1", "SIGUSR2"],
    timeoutMs: 250,
    onSignal: (signal, forced) => seen.push([signal, forced]),
  });
  await raise("SIGUSR2", target.calls, 1);
  assertEquals(target.calls, [{ force: false, timeoutMs: 250 }]);
  await raise("SIGUSR1", target.calls, 2);
  assertEquals(target.calls, [{ force: false, timeoutMs: 250 }, {
    force: true,
  }]);
  assertEquals(seen, [["SIGUSR2", false], ["SIGUSR1", true]]);
  // After the forcing signal the listeners are gone: the sanitizer would report
  // them otherwise, and disposing again is a no-op.
});

Deno.test("shutdownOnSignals() omits timeoutMs when not given", async () => {
  const target = recorder();
  using _ = shutdownOnSignals(target, { signals: ["SIGUSR1"] });
  await raise("SIGUSR1", target.calls, 1);
  assertEquals(target.calls, [{ force: false }]);
  assertEquals("timeoutMs" in target.calls[0]!, false);
});

Deno.test("shutdownOnSignals() disposal and abort remove every listener", () => {
  // The ops/resources sanitizers fail this test if a listener is left behind.
  const target = recorder();
  const disposable = shutdownOnSignals(target, {
    signals: ["SIGUSR1", "SIGUSR2"],
  });
  disposable[Symbol.dispose]();
  disposable[Symbol.dispose]();
  const controller = new AbortController();
  shutdownOnSignals(target, { signal: controller.signal });
  controller.abort();
  shutdownOnSignals(target, { signal: AbortSignal.abort() });
  assertEquals(target.calls, []);
});

Deno.test("shutdownOnSignals() reports a rejected shutdown to onError", async () => {
  const errors: unknown[] = [];
  const failure = new Error("boom");
  let calls = 0;
  using _ = shutdownOnSignals({
    shutdown() {
      calls++;
      return Promise.reject(failure);
    },
  }, { signals: ["SIGUSR1"], onError: (error) => errors.push(error) });
  await raise("SIGUSR1", errors, 1);
  assertEquals(calls, 1);
  assertEquals(errors, [failure]);
});

Deno.test("shutdownOnSignals() rejects bad input", () => {
  const target = recorder();
  assertThrows(
    () => shutdownOnSignals({} as never),
    TypeError,
    "Cannot listen for signals as 'target' has no shutdown() method: received an object",
  );
  assertThrows(
    () => shutdownOnSignals(target, { signals: [] }),
    TypeError,
    "Cannot listen for signals as 'signals' must be a non-empty array: received an empty array",
  );
  assertThrows(
    () => shutdownOnSignals(target, { timeoutMs: -1 }),
    RangeError,
    "Cannot listen for signals as 'timeoutMs' must be a number from 0 to 2147483647: received -1",
  );
  assertThrows(
    () => shutdownOnSignals(target, { timeoutMs: NaN }),
    RangeError,
    "received NaN",
  );
  // An unknown signal name: Deno's TypeError, and nothing stays registered.
  assertThrows(() =>
    shutdownOnSignals(target, {
      signals: ["SIGUSR1", "SIGNOPE" as Deno.Signal],
    })
  );
});

Deno.test({
  name:
    "shutdownOnSignals() in a child process: real SIGINT then SIGTERM, exit 0",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { child, next } = startChild("normal");
    const port = listeningPort(await next());

    child.kill("SIGINT");
    assertEquals(await next(), "signal SIGINT forced=false");
    assertEquals(await next(), "shutdown force=false timeoutMs=1234");
    // Graceful phase pending: the listener still accepts.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();

    child.kill("SIGTERM");
    assertEquals(await next(), "signal SIGTERM forced=true");
    assertEquals(await next(), "shutdown force=true timeoutMs=undefined");
    assertEquals(await next(), "accept loop ended");
    assertEquals(await next(), null);
    const status = await child.status;
    assertEquals([status.code, status.signal], [0, null]);
  },
});

Deno.test({
  name:
    "shutdownOnSignals() in a child process: a third signal terminates a hung shutdown",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { child, next } = startChild("hang");
    await next();
    child.kill("SIGINT");
    assertEquals(await next(), "signal SIGINT forced=false");
    assertEquals(await next(), "shutdown force=false timeoutMs=1234");
    child.kill("SIGINT");
    assertEquals(await next(), "signal SIGINT forced=true");
    assertEquals(await next(), "shutdown force=true timeoutMs=undefined");
    child.kill("SIGINT");
    assertEquals(await next(), null);
    const status = await child.status;
    assertEquals(status.signal, "SIGINT");
  },
});

Deno.test("shutdownOnSignals() forwards a synchronous throw to onError", async () => {
  const errors: unknown[] = [];
  using _ = shutdownOnSignals({
    shutdown(): Promise<unknown> {
      throw new Error("sync");
    },
  }, { signals: ["SIGUSR2"], onError: (error) => errors.push(error) });
  await raise("SIGUSR2", errors, 1);
  assertEquals((errors[0] as Error).message, "sync");
});
