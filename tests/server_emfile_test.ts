// Descriptor exhaustion: a server under `ulimit -n 64` must not spin on EMFILE
// (tk-listen's policy: report, sleep acceptErrorDelayMs, retry) and must
// accept again once descriptors are freed.

import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import {
  cpuTicks,
  decoder,
  encoder,
  Lines,
  listeningPort,
  readN,
  within,
} from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const CLK_TCK = 100; // Linux USER_HZ

/** The EMFILE server under `ulimit -n 64`, its port and its stderr count. */
async function startExhaustible(args: string[] = []) {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n 64; exec "${Deno.execPath()}" run --allow-net tests/testdata/emfile_tcp_server.ts --port 0 ${
        args.join(" ")
      }`,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const port = listeningPort(await within(stdout.next(), 30_000, "listening"));
  // stderr lines, counted as they come.
  const state = { acceptErrors: 0, stderrText: "" };
  const stderrDone = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      state.stderrText += chunk;
      state.acceptErrors = state.stderrText.split("\n").filter((l) =>
        l === "accept error EMFILE"
      ).length;
    }
  })();
  // More connections than 64 descriptors can hold; the kernel backlog
  // completes every handshake.
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < 100; i++) {
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  const start = performance.now();
  while (state.acceptErrors === 0) {
    assertLess(performance.now() - start, 10_000, "no EMFILE reported");
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stdout, port, state, stderrDone, conns };
}

Deno.test({
  name:
    "TcpServer survives EMFILE without spinning and accepts again once fds are freed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const { child, stdout, port, state, stderrDone, conns } =
      await startExhaustible();

    // Exhausted: measure the server's CPU over ~1 s.
    const errorsBefore = state.acceptErrors;
    const ticks0 = cpuTicks(child.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const ticks1 = cpuTicks(child.pid);
    const seconds = (performance.now() - t0) / 1000;
    const coreShare = (ticks1 - ticks0) / CLK_TCK / seconds;
    const errorsDuring = state.acceptErrors - errorsBefore;
    // The measurement is the point of this test: show it.
    // deno-lint-ignore no-console
    console.log(
      `exhausted: CPU ${
        (coreShare * 100).toFixed(1)
      } % of one core, ${errorsDuring} EMFILE reports in ${
        seconds.toFixed(2)
      } s`,
    );
    assertLess(coreShare, 0.3);
    // Backing off ~100 ms per error, not a hot loop (which reports thousands).
    assertGreater(errorsDuring, 0);
    assertLess(errorsDuring, 60);

    // Some of the first connections were accepted and echo.
    await conns[0]!.write(encoder.encode("a"));
    assertEquals(
      decoder.decode(
        await within(readN(conns[0]!, 1), 5000, "echo while exhausted"),
      ),
      "a",
    );

    // Free the descriptors: close every client; the server drains the
    // backlog, then accepts and serves a new peer.
    for (const conn of conns) conn.close();
    const fresh = await Deno.connect({ hostname: "127.0.0.1", port });
    await fresh.write(encoder.encode("ping"));
    assertEquals(
      decoder.decode(
        await within(readN(fresh, 4), 10_000, "echo after recovery"),
      ),
      "ping",
    );
    fresh.close();

    child.kill("SIGTERM");
    const status = await within(child.status, 10_000, "exit");
    await stdout.rest();
    await stderrDone;
    assertEquals(status.code, 0, state.stderrText.slice(-2000));
    assert(state.acceptErrors >= errorsBefore);
  },
});

Deno.test({
  name:
    "TcpServer's acceptErrorDelayMs sets the pause between EMFILE retries of its loop",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const { child, stdout, state, stderrDone, conns } = await startExhaustible(
      ["--accept-error-delay-ms", "400"],
    );
    const before = state.acceptErrors;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1200));
    const seconds = (performance.now() - t0) / 1000;
    const during = state.acceptErrors - before;
    // deno-lint-ignore no-console
    console.log(
      `acceptErrorDelayMs 400: ${during} EMFILE reports in ${
        seconds.toFixed(2)
      } s`,
    );
    // At most one report per 400 ms (+1 for the edges); the default 100 ms
    // gives about 12 in this window.
    assertLess(during, Math.ceil(seconds / 0.4) + 2);
    for (const conn of conns) conn.close();
    child.kill("SIGTERM");
    const status = await within(child.status, 10_000, "exit");
    await stdout.rest();
    await stderrDone;
    assertEquals(status.code, 0, state.stderrText.slice(-2000));
  },
});
