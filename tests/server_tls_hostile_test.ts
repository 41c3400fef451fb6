// Hostile peers against a TLS TcpServer: plain-text clients, silent clients
// that never start the handshake, clients that stop mid-handshake, clients
// that vanish after it. Each costs its own connection only; a real TLS
// client keeps being served; nothing leaks.
import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import {
  closeQuietly,
  connect,
  decoder,
  echoHandler,
  encoder,
  HOST,
  readExactly,
  readToEnd,
  sleep,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

const cert = Deno.readTextFileSync(
  new URL("./testdata/tls_cert.pem", import.meta.url),
);
const key = Deno.readTextFileSync(
  new URL("./testdata/tls_key.pem", import.meta.url),
);

async function tlsEcho(port: number, text: string): Promise<void> {
  const c = await Deno.connectTls({ hostname: HOST, port, caCerts: [cert] });
  try {
    await writeAll(c, encoder.encode(text));
    const got = await within(
      readExactly(c, encoder.encode(text).length),
      10_000,
      "TLS echo",
    );
    assertEquals(decoder.decode(got), text);
  } finally {
    c.close();
  }
}

Deno.test("hostile tls: plain-text, silent and half-handshake peers cost their own connection only", async () => {
  await using h = startServer(echoHandler, {
    transport: "tls",
    tls: { cert, key },
    idleTimeoutMs: 2000,
  });
  const silent: Deno.Conn[] = [];
  const plain: Deno.Conn[] = [];
  try {
    // Ten peers that never start the handshake.
    for (let i = 0; i < 10; i++) silent.push(await connect(h.port));
    // A peer that sends the first bytes of a ClientHello, then stalls.
    const stalled = await connect(h.port);
    silent.push(stalled);
    await writeAll(
      stalled,
      new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
    );
    await sleep(50);
    // A real TLS client is served despite them.
    await tlsEcho(h.port, "through the crowd");
    // Plain-text peers get a TLS alert or a close, never an echo.
    for (
      const wire of ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\u0000".repeat(300)]
    ) {
      const c = await connect(h.port);
      plain.push(c);
      await writeAll(c, encoder.encode(wire));
      const { bytes } = await within(readToEnd(c), 10_000, "plain peer closed");
      assert(!decoder.decode(bytes).includes("HTTP"), "echoed in clear");
    }
    await waitFor(
      () => h.seen.disconnects.filter(([, r]) => r === "error").length >= 2,
      10_000,
      "plain peers cut",
    );
    // A TLS client that vanishes right after its handshake.
    const gone = await Deno.connectTls({
      hostname: HOST,
      port: h.port,
      caCerts: [cert],
    });
    await gone.handshake();
    gone.close();
    await tlsEcho(h.port, "still here");
  } finally {
    for (const c of [...silent, ...plain]) closeQuietly(c);
  }
  await waitFor(() => h.server.connectionCount === 0, 10_000, "all gone");
  const stats = h.server.stats();
  assertEquals(stats.accepted, stats.closed);
  assertGreaterOrEqual(stats.accepted, 15);
  assertEquals(stats.handlerErrors, 0);
});
