// EMFILE survival of net/TcpListener: a child process under `ulimit -n 64`
// runs an accept loop that holds every connection; we open more connections
// than it can hold, check that its CPU stays low while accept() keeps failing
// with EMFILE (the listener backs off instead of spinning), then free
// descriptors and check that it accepts again.
import { assert, assertEquals, assertLess } from "@std/assert";
import { cpuTicks, Lines, listeningPort } from "./_helpers.ts";

const FIXTURE = new URL("./testdata/emfile_tcp_listener.ts", import.meta.url);
const CONNECTIONS = 100;

interface Stats {
  accepted: number;
  held: number;
  errors: number;
  exhausted: number;
}

function clockTicksPerSecond(): number {
  const { stdout } = new Deno.Command("getconf", { args: ["CLK_TCK"] })
    .outputSync();
  return Number(new TextDecoder().decode(stdout).trim()) || 100;
}

Deno.test({
  name: "TcpListener survives EMFILE with low CPU and accepts again afterwards",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const child = new Deno.Command("bash", {
      args: [
        "-c",
        'ulimit -n 64 && exec "$0" run -A "$1"',
        Deno.execPath(),
        FIXTURE.pathname,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    const stdin = child.stdin.getWriter();
    const stdout = new Lines(child.stdout);
    const nextLine = async (): Promise<string> => {
      const line = await stdout.next();
      if (line === null) throw new Error("child ended");
      return line;
    };
    const send = (command: string) =>
      stdin.write(new TextEncoder().encode(`${command}\n`));
    const stats = async (): Promise<Stats> => {
      await send("stats");
      const line = await nextLine();
      const match = line.match(
        /^stats accepted=(\d+) held=(\d+) errors=(\d+) exhausted=(\d+)$/,
      );
      assert(match, `unexpected line: ${line}`);
      return {
        accepted: Number(match[1]),
        held: Number(match[2]),
        errors: Number(match[3]),
        exhausted: Number(match[4]),
      };
    };
    const until = async (
      predicate: (stats: Stats) => boolean,
      what: string,
    ): Promise<Stats> => {
      for (let i = 0; i < 200; i++) {
        const current = await stats();
        if (predicate(current)) return current;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    };

    const conns: Deno.Conn[] = [];
    let failure: unknown;
    try {
      const port = listeningPort(await nextLine());

      // The kernel completes every handshake (backlog 511); the child can
      // hold only ~40 of them.
      for (let i = 0; i < CONNECTIONS; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      const exhausted = await until((s) => s.exhausted > 0, "EMFILE");
      assertLess(exhausted.accepted, CONNECTIONS);

      // Exhausted and still backlogged: CPU over ~1 s must stay low.
      const hz = clockTicksPerSecond();
      const ticks0 = cpuTicks(child.pid);
      const wall0 = performance.now();
      const before = await stats();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await stats();
      const cpu = (cpuTicks(child.pid) - ticks0) / hz;
      const wall = (performance.now() - wall0) / 1_000;
      const ratio = cpu / wall;
      // deno-lint-ignore no-console
      console.log(
        `EMFILE phase: cpu ${cpu.toFixed(2)} s over ${wall.toFixed(2)} s (${
          (ratio * 100).toFixed(1)
        } % of one core), ${
          after.errors - before.errors
        } accept errors reported`,
      );
      assertLess(ratio, 0.3);
      // Backing off 100 ms between attempts: about 10 errors a second, not a
      // hot loop's thousands.
      assertLess(after.errors - before.errors, 30);
      assertEquals(
        after.accepted,
        before.accepted,
        "no accept while exhausted",
      );

      // Free descriptors: the listener accepts again, until every connection
      // we opened was accepted.
      for (let round = 0; round < 10; round++) {
        const current = await stats();
        if (current.accepted === CONNECTIONS) break;
        await send("release");
        assertEquals(await nextLine(), "released");
        await until(
          (s) =>
            s.accepted === CONNECTIONS ||
            s.accepted > current.accepted && s.exhausted > current.exhausted,
          "accepting again",
        );
      }
      const final = await until(
        (s) => s.accepted === CONNECTIONS,
        "all accepted",
      );
      assertEquals(final.accepted, CONNECTIONS);
    } catch (error) {
      failure = error;
    }
    // Clean up whatever happened, then report the first failure.
    {
      for (const conn of conns) conn.close();
      await send("exit").catch(() => {});
      await stdin.close().catch(() => {});
      const rest: string[] = [];
      try {
        while (true) rest.push(await nextLine());
      } catch {
        // end of output
      }
      const status = await child.status;
      if (failure) throw failure;
      assertEquals(status.code, 0, `child output: ${rest.join("\n")}`);
    }
  },
});
