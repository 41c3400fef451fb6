import { assertEquals, assertRejects } from "@std/assert";
import fc from "fast-check";
import { TcpListener } from "../stream/tcp_listener.ts";
import { TcpStream } from "../stream/tcp_stream.ts";
import { CancelledError } from "../errors.ts";
import {
  encodeProxyHeader,
  type ProxyHeader,
  ProxyHeaderError,
  ProxyHeaderParser,
  readProxyHeader,
} from "./mod.ts";
import { assertProperty, cutPoints, splitAt } from "../../tests/_property.ts";
import { destination, source } from "./testdata/addresses.ts";

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

// --- mode "optional" ----------------------------------------------------------

const decoder = new TextDecoder();

/** Writes `chunks` with a pause between them, then half-closes. */
async function writeChunks(
  client: TcpStream,
  chunks: readonly Uint8Array[],
  end = true,
): Promise<void> {
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    await client.writeAll(chunk);
  }
  if (end) await client.closeWrite();
}

Deno.test("readProxyHeader() in mode optional puts back the bytes of a stream without a header", async () => {
  for (
    const chunks of [
      ["hello"], // cannot start a signature
      ["PRO", "BE"], // looks like v1 for three bytes
      ["\r\n\r", "\nhi"], // looks like v2 for three bytes
      ["PROXY"], // a signature prefix, then end of stream
    ]
  ) {
    const [listener, client, server] = await pair();
    try {
      const writing = writeChunks(client, chunks.map((c) => encoder.encode(c)));
      const header = await readProxyHeader(server, {
        mode: "optional",
        timeoutMs: 2_000,
      });
      assertEquals(header, undefined);
      await writing;
      assertEquals(decoder.decode(await server.readAll()), chunks.join(""));
    } finally {
      client.close();
      server.close();
      listener.close();
    }
  }
});

Deno.test("readProxyHeader() in mode optional reads a header and leaves the payload", async () => {
  for (const version of [1, 2] as const) {
    const [listener, client, server] = await pair();
    try {
      const bytes = encodeProxyHeader({ version, source, destination });
      const writing = writeChunks(client, [
        bytes.subarray(0, 3),
        bytes.subarray(3),
        encoder.encode("PROXY is payload"),
      ]);
      const header = await readProxyHeader(server, {
        mode: "optional",
        timeoutMs: 2_000,
      });
      assertEquals(header?.version, version);
      assertEquals(header?.source, source);
      await writing;
      assertEquals(decoder.decode(await server.readAll()), "PROXY is payload");
    } finally {
      client.close();
      server.close();
      listener.close();
    }
  }
});

Deno.test("readProxyHeader() in mode optional serves a quiet signature prefix as direct once timeoutMs passes", async () => {
  const [listener, client, server] = await pair();
  try {
    await client.writeAll(encoder.encode("PR"));
    const header = await readProxyHeader(server, {
      mode: "optional",
      timeoutMs: 50,
    });
    assertEquals(header, undefined);
    await client.writeAll(encoder.encode("INT"));
    const back = await server.readExact(5, { timeoutMs: 2_000 });
    assertEquals(decoder.decode(back), "PRINT");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("readProxyHeader() in mode optional requires the rest of a header once its signature came", async () => {
  const [listener, client, server] = await pair();
  try {
    await client.writeAll(encoder.encode("PROXY TCP4 192.0.2.7"));
    const error = await assertRejects(
      () => readProxyHeader(server, { mode: "optional", timeoutMs: 50 }),
      ProxyHeaderError,
    );
    assertEquals(error.code, "timed-out");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

type Outcome =
  | { header: ProxyHeader | undefined; rest: string }
  | { error: string };

/** What reading `input` must give: the parser fed it at once, then ended. */
function expected(input: Uint8Array): Outcome {
  const parser = new ProxyHeaderParser({ mode: "optional" });
  try {
    const result = parser.push(input);
    if (result.status === "done") {
      return {
        header: result.header,
        rest: decoder.decode(input.subarray(result.consumed)),
      };
    }
    if (result.status === "absent") {
      return { header: undefined, rest: decoder.decode(input) };
    }
    parser.end(); // "absent" (a signature prefix) or throws "truncated"
    return { header: undefined, rest: decoder.decode(input) };
  } catch (error) {
    return { error: (error as ProxyHeaderError).code };
  }
}

Deno.test("property: readProxyHeader() in mode optional gives the same result for any split and loses no byte", async () => {
  const v1 = encodeProxyHeader({ version: 1, source, destination });
  const v2 = encodeProxyHeader({
    version: 2,
    source,
    destination,
    tlvs: [{ type: 0x05, value: encoder.encode("request-7") }],
    checksum: true,
  });
  const start = fc.oneof(
    fc.constantFrom(v1, v2, v1.subarray(0, 4), v2.subarray(0, 7)),
    fc.constantFrom(
      encoder.encode("PROXY UNKNOWN\r\n"),
      encoder.encode("PROXY TCP4 nope\r\n"),
      encoder.encode("GET / HTTP/1.1\r\n"),
    ),
    fc.uint8Array({ maxLength: 24 }),
  );
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  try {
    await assertProperty(
      fc.asyncProperty(
        start,
        fc.uint8Array({ maxLength: 32 }),
        cutPoints,
        async (head, payload, cuts) => {
          const input = new Uint8Array([...head, ...payload]);
          const want = expected(input);
          using client = await TcpStream.connect(listener.addr);
          using server = await listener.accept();
          const writing = writeChunks(client, splitAt(input, cuts.slice(0, 6)));
          let got: Outcome;
          try {
            const header = await readProxyHeader(server, {
              mode: "optional",
              timeoutMs: 2_000,
            });
            got = { header, rest: decoder.decode(await server.readAll()) };
          } catch (error) {
            if (!(error instanceof ProxyHeaderError)) throw error;
            got = { error: error.code };
          }
          await writing;
          assertEquals(got, want);
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    listener.close();
  }
});

Deno.test("readProxyHeader() in mode optional puts back every byte it read when cancelled", async () => {
  const v2 = encodeProxyHeader({ version: 2, source, destination });
  const starts = [
    encoder.encode("\r\n"), // a v2 signature prefix
    encoder.encode("PRO"), // a v1 signature prefix
    encoder.encode("PROXY TCP4 192.0"), // past the v1 signature
    v2.subarray(0, 14), // past the v2 signature: reads of the fixed part
  ];
  for (const start of starts) {
    const [listener, client, server] = await pair();
    try {
      await client.writeAll(start);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      await assertRejects(
        () =>
          readProxyHeader(server, {
            mode: "optional",
            signal: controller.signal,
          }),
        CancelledError,
      );
      await client.writeAll(encoder.encode("x"));
      const back = await server.readExact(start.length + 1, {
        timeoutMs: 2_000,
      });
      assertEquals(back, new Uint8Array([...start, 0x78]));
    } finally {
      client.close();
      server.close();
      listener.close();
    }
  }
});
