// The examples against real peers nobody here wrote: socat (Debian's), as
// subprocesses. Each example runs with --port 0, announces
// `listening on HOST:PORT` first, and must exit 0 on SIGTERM.

import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  type Example,
  Lines,
  readUntilText,
  runWithInput,
  startExample,
  within,
} from "./_helpers.ts";
import { peer } from "./_peers.ts";

const ROOT = new URL("../", import.meta.url);
const encoder = new TextEncoder();

const socatPeer = peer("socat");

async function stopExample(
  example: Example,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  example.child.kill(signal);
  const status = await within(
    example.child.status,
    10_000,
    "exit after SIGTERM",
  );
  await example.stdout.rest();
  const stderr = await example.stderr;
  assertEquals(status.code, 0, `exit code; stderr: ${stderr}`);
}

function socat(port: number): {
  child: Deno.ChildProcess;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  lines: Lines;
} {
  const child = new Deno.Command("socat", {
    args: ["-", `TCP:127.0.0.1:${port}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return {
    child,
    stdin: child.stdin.getWriter(),
    lines: new Lines(child.stdout),
  };
}

Deno.test({
  name: socatPeer.name(
    "examples/echo_server.ts echoes to socat and exits 0 on SIGTERM",
  ),
  ignore: socatPeer.ignore,
  async fn() {
    const server = await startExample("echo_server.ts", { readStdout: true });
    // 200 KiB of numbered lines through a client that is not ours.
    const input = Array.from({ length: 20_000 }, (_, i) =>
      `line ${i}`).join("\n") + "\n";
    const output = await runWithInput(
      "socat",
      ["-t", "5", "-", `TCP:127.0.0.1:${server.port}`],
      input,
      10_000,
    );
    assert(output.success, new TextDecoder().decode(output.stderr));
    assertEquals(new TextDecoder().decode(output.stdout), input);
    await stopExample(server);
  },
});

Deno.test({
  name:
    "examples/echo_client.ts talks to examples/echo_server.ts, which exits 0 on SIGINT",
  async fn() {
    const server = await startExample("echo_server.ts", { readStdout: true });
    const output = await within(
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "examples/echo_client.ts",
          "--port",
          String(server.port),
          "--message",
          "hi there",
          "--count",
          "3",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output(),
      30_000,
      "echo client",
    );
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    assertEquals(
      new TextDecoder().decode(output.stdout),
      "hi there\nhi there\nhi there\n",
    );
    await stopExample(server, "SIGINT");
  },
});

Deno.test({
  name: socatPeer.name(
    "examples/chat_server.ts: join/leave, /nick, broadcast, 4 KiB limit, /quit, SIGTERM",
  ),
  ignore: socatPeer.ignore,
  async fn() {
    const server = await startExample("chat_server.ts", { readStdout: true });
    const a = socat(server.port);
    await a.lines.expect("* welcome guest1; /nick NAME, /who, /quit");
    const b = socat(server.port);
    await b.lines.expect("* welcome guest2; /nick NAME, /who, /quit");
    await a.lines.expect("* guest2 joined");

    await a.stdin.write(encoder.encode("/nick alice\n"));
    await a.lines.expect("* guest1 is now alice");
    await b.lines.expect("* guest1 is now alice");
    await b.stdin.write(encoder.encode("/nick alice\n"));
    await b.lines.expect("error: nick 'alice' is taken");

    await b.stdin.write(encoder.encode("hello all\r\n"));
    await a.lines.expect("guest2: hello all");

    // An overlong line is rejected with an error line, in pieces or not, and
    // the connection resynchronizes at the next newline.
    const long = "x".repeat(3000);
    await a.stdin.write(encoder.encode(long));
    await a.stdin.write(encoder.encode(long + "\nafter\n"));
    await a.lines.expect("error: line too long (max 4096 bytes), dropped");
    assertEquals(await b.lines.expect("alice: after"), []);

    await b.stdin.write(encoder.encode("/who\n"));
    await b.lines.expect("* online: alice, guest2");

    await a.stdin.write(encoder.encode("/quit\n"));
    await a.lines.expect("* bye");
    assertEquals(await a.lines.rest(), []);
    await a.stdin.close().catch(() => {});
    assertEquals(
      (await within(a.child.status, 5000, "socat a exits")).success,
      true,
    );
    await b.lines.expect("* alice left");

    // Graceful shutdown: b hears about it, then end of stream.
    server.child.kill("SIGTERM");
    await b.lines.expect("* server shutting down");
    assertEquals(await within(b.lines.rest(), 5000, "b EOF"), []);
    await b.stdin.close().catch(() => {});
    await within(b.child.status, 5000, "socat b exits");
    const status = await within(server.child.status, 10_000, "server exits");
    await server.stdout.rest();
    const stderr = await server.stderr;
    assertEquals(status.code, 0, stderr);
    assertMatch(stderr, /alice left \(closed\)/);
  },
});

Deno.test({
  name:
    "examples/chat_server.ts: a second SIGTERM forces the shutdown a stubborn client holds up",
  async fn() {
    // A one-minute grace period that only the second signal can cut short.
    const server = await startExample("chat_server.ts", {
      args: [
        "--grace-ms",
        "60000",
      ],
      readStdout: true,
    });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await readUntilText(conn, "* welcome guest1");
    server.child.kill("SIGTERM");
    await within(
      readUntilText(conn, "* server shutting down\n"),
      5000,
      "notice",
    );
    // Graceful: end of stream, yet the server waits for us to close.
    const buf = new Uint8Array(64);
    assertEquals(await within(conn.read(buf), 5000, "EOF"), null);
    server.child.kill("SIGTERM");
    const status = await within(server.child.status, 20_000, "forced exit");
    await server.stdout.rest();
    const stderr = await server.stderr;
    assertEquals(status.code, 0, stderr);
    assertMatch(stderr, /guest1 left \(shutdown\)/);
    conn.close();
  },
});

Deno.test("chat handler: lines after /quit in the same chunk are dropped quietly", async () => {
  const { createChatServer } = await import("../examples/chat_server.ts");
  const { TcpServerConfig } = await import("@millrace/io/net");
  const log: string[] = [];
  const server = createChatServer(new TcpServerConfig(), {
    log: (line) => log.push(line),
  });
  const running = server.run();
  const { port } = server.addr as Deno.NetAddr;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await readUntilText(conn, "* welcome guest1");
  await conn.write(encoder.encode("/quit\nstill here\n/nick late\n"));
  const rest = await readUntilText(conn, "* bye\n");
  assertEquals(rest, "* bye\n");
  assertEquals(await conn.read(new Uint8Array(8)), null);
  conn.close();
  await server.shutdown({ timeoutMs: 1000 });
  await running;
  assertEquals(log, ["guest1 joined", "guest1 left (closed)"]);
});
