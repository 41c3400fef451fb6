// The stream API over TLS: TcpListener and TcpStream wrap Deno's TLS listener
// and connections (a TlsConn is a Deno.Conn).
import { assertEquals } from "@std/assert";
import { TcpListener } from "../net/stream/tcp_listener.ts";
import { TcpStream } from "../net/stream/tcp_stream.ts";

const cert = await Deno.readTextFile(
  new URL("./testdata/tls_cert.pem", import.meta.url),
);
const key = await Deno.readTextFile(
  new URL("./testdata/tls_key.pem", import.meta.url),
);

Deno.test("TcpListener/TcpStream wrap a TLS listener and a TLS connection", async () => {
  using listener = new TcpListener(
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }),
  );
  const { port } = listener.addr as Deno.NetAddr;
  const accepted = listener.accept({ timeoutMs: 5_000 });
  using client = new TcpStream(
    await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [cert] }),
    { readTimeoutMs: 5_000 },
  );
  using server = await accepted;
  await client.writeAll(new TextEncoder().encode("over tls\n"));
  const line = await server.readUntil(new TextEncoder().encode("\n"), {
    timeoutMs: 5_000,
  });
  assertEquals(new TextDecoder().decode(line!), "over tls");
  await server.writeAll(new TextEncoder().encode("ok"));
  assertEquals(new TextDecoder().decode(await client.readExact(2)), "ok");
});
