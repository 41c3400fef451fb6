// Cancellation of pending stream operations by a real SIGINT, in a child
// process (Canceller.fromSignals).
import { assertEquals } from "@std/assert";

const CHILD = new URL(
  "./testdata/signal_cancel_child.ts",
  import.meta.url,
);

Deno.test({
  name:
    "Canceller.fromSignals() cancels pending reads and accepts on a real SIGINT",
  ignore: Deno.build.os === "windows",
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD.pathname],
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let output = "";
    while (!output.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    const status = await child.status;
    const stderr = new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    );
    const reason =
      "CancelledError (Cannot continue as the process received SIGINT)";
    assertEquals(
      output.trim().split("\n"),
      [
        "ready",
        "signal SIGINT",
        `read rejected ${reason}`,
        `readUntil rejected ${reason}`,
        `accept rejected ${reason}`,
        `late write rejected ${reason}`,
      ],
      stderr,
    );
    // Exited by itself (nothing left pending), not killed by the signal.
    assertEquals([status.code, status.signal], [0, null]);
  },
});
