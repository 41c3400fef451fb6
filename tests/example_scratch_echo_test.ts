// The scratch echo example follows the example convention: `--hostname` /
// `--port` flags, `listening on HOST:PORT` as the first stdout line, and a
// clean exit 0 on SIGINT/SIGTERM, with live connections open.
import { assertEquals } from "@std/assert";
import { Lines, listeningPort, readExactly } from "./_helpers.ts";

const EXAMPLE = new URL("../examples/scratch_echo_server.ts", import.meta.url);

async function start(args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", EXAMPLE.pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const line = await stdout.next();
  return { child, stdout, line };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`scratch echo example echoes and exits 0 on ${signal}`, async () => {
    const { child, stdout, line } = await start(["--port", "0"]);
    try {
      const port = listeningPort(line);
      using conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const msg = new TextEncoder().encode(`hello ${signal}`);
      await conn.write(msg);
      assertEquals(await readExactly(conn, msg.length), msg);
      // Stop with the connection still open.
      child.kill(signal);
      const status = await child.status;
      assertEquals(status.code, 0);
      // The server closed our connection on its way out.
      assertEquals(await conn.read(new Uint8Array(8)), null);
    } finally {
      await stdout.cancel();
      await child.stderr.cancel();
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
    }
  });
}

Deno.test("scratch echo example takes --hostname", async () => {
  const { child, stdout, line } = await start(["--hostname", "127.0.0.1"]);
  try {
    listeningPort(line); // throws unless `listening on 127.0.0.1:PORT`
    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
  } finally {
    await stdout.cancel();
    await child.stderr.cancel();
  }
});
