// deno-lint-ignore-file no-console
// Child process for net/server/shutdown_on_signals_test.ts: a listener whose graceful
// shutdown waits until a forced one arrives, driven by real OS signals.
// Usage: signal_child.ts <mode>; mode "normal" or "hang" (forced shutdown never
// settles, so only the third signal's default action ends the process).
import { shutdownOnSignals } from "../../net/server/shutdown_on_signals.ts";

const mode = Deno.args[0] ?? "normal";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
let release: (() => void) | undefined;
const server = {
  async shutdown(options: { force?: boolean; timeoutMs?: number }) {
    console.log(
      `shutdown force=${options.force} timeoutMs=${options.timeoutMs}`,
    );
    if (!options.force) {
      // Graceful: wait for the forced phase (a real server would drain).
      await new Promise<void>((resolve) => release = resolve);
      return;
    }
    if (mode === "hang") {
      // Keep the process alive forever with a ref'ed timer.
      setInterval(() => {}, 1_000);
      return;
    }
    listener.close();
    release?.();
  },
};
shutdownOnSignals(server, {
  timeoutMs: 1234,
  onSignal: (signal, forced) =>
    console.log(`signal ${signal} forced=${forced}`),
});
console.log(`listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
try {
  for await (const conn of listener) conn.close();
} catch (error) {
  if (!(error instanceof Deno.errors.BadResource)) throw error;
}
console.log("accept loop ended");
