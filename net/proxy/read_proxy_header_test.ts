import { assertEquals, assertRejects } from "@std/assert";
import { TcpListener } from "../stream/tcp_listener.ts";
import { TcpStream } from "../stream/tcp_stream.ts";
import { CancelledError } from "../errors.ts";
import { encodeProxyHeader, ProxyHeaderError, readProxyHeader } from "./mod.ts";

const encoder = new TextEncoder();

async function pair(): Promise<[TcpListener, TcpStream, TcpStream]> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const client = await TcpStream.connect(listener.addr);
  const server = await listener.accept();
  return [listener, client, server];
}

Deno.test("readProxyHeader() leaves the payload of a v1 header in the stream", async () => {
  const [listener, client, server] = await pair();
  try {
    // Header and payload in one write: the reader must not take the payload.
    await client.writeAll(
      encoder.encode("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\nhello"),
    );
    const header = await readProxyHeader(server, {
      mode: "v1",
      timeoutMs: 2_000,
    });
    assertEquals(header.source, {
      transport: "tcp",
      hostname: "192.0.2.7",
      port: 51234,
    });
    assertEquals(new TextDecoder().decode(await server.readExact(5)), "hello");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("readProxyHeader() reports a header cut by end of stream as truncated", async () => {
  const [listener, client, server] = await pair();
  try {
    const bytes = encodeProxyHeader({
      version: 2,
      source: null,
      destination: null,
    });
    await client.writeAll(bytes.subarray(0, 10));
    await client.closeWrite();
    const error = await assertRejects(
      () => readProxyHeader(server, { timeoutMs: 2_000 }),
      ProxyHeaderError,
    );
    assertEquals(error.code, "truncated");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("readProxyHeader() times out on a header that never completes", async () => {
  const [listener, client, server] = await pair();
  try {
    await client.writeAll(encoder.encode("PROXY TCP4 "));
    const error = await assertRejects(
      () => readProxyHeader(server, { timeoutMs: 50 }),
      ProxyHeaderError,
    );
    assertEquals(error.code, "timed-out");
    const controller = new AbortController();
    controller.abort();
    await assertRejects(
      () => readProxyHeader(server, { signal: controller.signal }),
      CancelledError,
    );
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
