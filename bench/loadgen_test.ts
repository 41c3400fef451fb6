// The C load generator (bench/peers/loadgen.c) against an in-process echo
// server that counts what it sees: the generator's reported operations must
// agree with the server's own count, so the peer tables are not built on a
// miscounting client. Skipped when gcc is missing.
import { assert, assertEquals } from "@std/assert";
import { peer } from "../tests/_peers.ts";

const root = new URL("..", import.meta.url).pathname;
const gcc = peer("gcc");

async function buildLoadgen(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "millrace-loadgen-" });
  const bin = `${dir}/loadgen`;
  const out = await new Deno.Command("gcc", {
    args: ["-O2", "-o", bin, `${root}bench/peers/loadgen.c`],
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return bin;
}

interface Counts {
  accepted: number;
  open: number;
  bytesIn: number;
}

/** An echo server on 127.0.0.1 that counts connections and bytes. */
function countingEcho(): {
  port: number;
  counts: Counts;
  close(): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts: Counts = { accepted: 0, open: 0, bytesIn: 0 };
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const serve = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        counts.bytesIn += n;
        let off = 0;
        while (off < n) off += await conn.write(buf.subarray(off, n));
      }
    } catch {
      // reset by the generator at the end of a run
    } finally {
      counts.open--;
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        counts.accepted++;
        counts.open++;
        conns.add(conn);
        const t = serve(conn);
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch {
      // listener closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    counts,
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await Promise.all(tasks);
    },
  };
}

async function run(
  bin: string,
  args: string[],
): Promise<Record<string, number>> {
  const out = await new Deno.Command(bin, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, `${text} ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

/** The port, no warm-up and a 20 s limit: what every run here passes. */
function baseArgs(port: number): string[] {
  return ["--port", String(port), "--warmup", "0", "--timeout", "20"];
}

/** Runs `body` with a fresh loadgen build and a counting echo server; cleans up both. */
async function withLoadgen(
  body: (bin: string, server: ReturnType<typeof countingEcho>) => Promise<void>,
): Promise<void> {
  const bin = await buildLoadgen();
  const server = countingEcho();
  try {
    await body(bin, server);
  } finally {
    await server.close();
    await Deno.remove(bin.slice(0, bin.lastIndexOf("/")), { recursive: true });
  }
}

Deno.test({
  name: gcc.name(
    "loadgen counts ping-pong round trips, stream bytes and churn connections exactly",
  ),
  ignore: gcc.ignore,
  fn: () =>
    withLoadgen(async (bin, server) => {
      const base = baseArgs(server.port);
      // ping-pong: every counted round trip reached the server; at most one
      // message per connection was still in flight when the run stopped.
      let before = server.counts.bytesIn;
      const pp = await run(bin, [
        "pingpong",
        ...base,
        "--conns",
        "10",
        "--size",
        "64",
        "--duration",
        "0.4",
      ]);
      await new Promise((r) => setTimeout(r, 100));
      const sent = (server.counts.bytesIn - before) / 64;
      assert(pp.ops! > 0);
      assertEquals(pp.errors, 0);
      assert(
        sent >= pp.ops! && sent <= pp.ops! + 10,
        `server saw ${sent}, loadgen ${pp.ops}`,
      );
      assert(pp.p50_us! > 0 && pp.p99_us! >= pp.p50_us!);

      // stream: what came back is at most what the server received.
      before = server.counts.bytesIn;
      const st = await run(bin, [
        "stream",
        ...base,
        "--conns",
        "2",
        "--duration",
        "0.4",
      ]);
      await new Promise((r) => setTimeout(r, 100));
      assert(st.bytes! > 0);
      assert(st.bytes! <= server.counts.bytesIn - before);
      assertEquals(st.ops, Math.floor(st.bytes! / 65536));

      // churn: one accepted connection per counted one (plus those cut off).
      const acceptedBefore = server.counts.accepted;
      const ch = await run(bin, [
        "churn",
        ...base,
        "--conns",
        "4",
        "--duration",
        "0.4",
      ]);
      await new Promise((r) => setTimeout(r, 100));
      const accepted = server.counts.accepted - acceptedBefore;
      assert(ch.ops! > 0);
      assert(
        accepted >= ch.ops! && accepted <= ch.ops! + 4 + ch.errors!,
        `${accepted} vs ${ch.ops}`,
      );
    }),
});

Deno.test({
  name: gcc.name(
    "loadgen idle holds N served connections until stdin says stop",
  ),
  ignore: gcc.ignore,
  fn: () =>
    withLoadgen(async (bin, server) => {
      const child = new Deno.Command(bin, {
        args: [
          "idle",
          "--port",
          String(server.port),
          "--conns",
          "300",
          "--timeout",
          "20",
        ],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      try {
        const reader = child.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        let text = "";
        while (!text.includes("\n")) {
          const r = await reader.read();
          if (r.done) break;
          text += r.value;
        }
        const ready = JSON.parse(text.split("\n")[0]!);
        assertEquals(ready.ready, 300);
        assertEquals(ready.errors, 0);
        assertEquals(server.counts.open, 300);
        assertEquals(server.counts.bytesIn, 300); // one byte each, echoed
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode("\n"));
        await w.close();
        while (!(await reader.read()).done);
        assertEquals((await child.status).code, 0);
        for (let i = 0; i < 50 && server.counts.open > 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assertEquals(server.counts.open, 0);
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited
        }
        await child.status;
      }
    }),
});

Deno.test({
  name: gcc.name(
    "loadgen sums the CPU of every --pid (a server of several processes)",
  ),
  ignore: gcc.ignore,
  fn: () =>
    withLoadgen(async (bin, server) => {
      // An idle process: its CPU stays 0 while this process serves the echo.
      const idle = new Deno.Command("sleep", { args: ["20"] }).spawn();
      try {
        const cpu = async (pids: number[]) =>
          (await run(bin, [
            "pingpong",
            ...baseArgs(server.port),
            "--conns",
            "10",
            "--duration",
            "0.5",
            ...pids.flatMap((pid) => ["--pid", String(pid)]),
          ])).cpu_us!;
        assertEquals(await cpu([idle.pid]), 0);
        // The serving process first, the idle one last: both are counted.
        assert(
          await cpu([Deno.pid, idle.pid]) > 0,
          "only the last --pid counted",
        );
      } finally {
        idle.kill("SIGKILL");
        await idle.status;
      }
    }),
});
