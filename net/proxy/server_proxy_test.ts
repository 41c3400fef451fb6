// TcpServer with `proxyProtocol`: the header is read and removed before
// onConnect, addresses come from it, bad headers cost only their connection.

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { TcpServer } from "../server/tcp_server.ts";
import { TcpServerConfig } from "../server/tcp_server_config.ts";
import type { TcpServerConfigOptions } from "../server/tcp_server_config_options.ts";
import type { ServerContext } from "../server/server_context.ts";
import {
  encodeProxyHeader,
  ProxyHeaderError,
  type ProxyHeaderErrorCode,
  type ProxyInfo,
} from "./mod.ts";
import fc from "fast-check";
import {
  assertProperty,
  concat,
  cutPoints,
  splitAt,
} from "../../tests/_property.ts";
import { destination, source } from "./testdata/addresses.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Seen {
  connects: {
    id: number;
    remote: Deno.Addr;
    local: Deno.Addr;
    info: ProxyInfo | undefined;
  }[];
  data: string[];
  errors: Error[];
  disconnects: string[];
}

async function withServer(
  options: TcpServerConfigOptions,
  body: (port: number, seen: Seen, server: TcpServer) => Promise<void>,
): Promise<void> {
  const seen: Seen = { connects: [], data: [], errors: [], disconnects: [] };
  const server = new TcpServer(new TcpServerConfig({ port: 0, ...options }), {
    onConnect(ctx: ServerContext, id: number) {
      seen.connects.push({
        id,
        remote: ctx.remoteAddr(id),
        local: ctx.localAddr(id),
        info: ctx.proxyInfo(id),
      });
    },
    onData(ctx, id, data) {
      seen.data.push(decoder.decode(data));
      ctx.sendTo(id, data);
    },
    onError(_ctx, error) {
      seen.errors.push(error);
    },
    onDisconnect(_ctx, _id, reason) {
      seen.disconnects.push(reason);
    },
  });
  const serving = server.run();
  try {
    await body((server.addr as Deno.NetAddr).port, seen, server);
  } finally {
    await server.shutdown({ timeoutMs: 1_000 });
    await serving;
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: string[] = [];
  const buf = new Uint8Array(1024);
  while (true) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return chunks.join("");
    chunks.push(decoder.decode(buf.subarray(0, n)));
  }
}

async function readN(conn: Deno.Conn, n: number): Promise<string> {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return decoder.decode(buf.subarray(0, got));
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert(check(), "condition not met in time");
}

Deno.test("TcpServer with proxyProtocol v2 reports the header's addresses and TLVs, and strips it", async () => {
  await withServer({ proxyProtocol: "v2" }, async (port, seen) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const header = encodeProxyHeader({
      version: 2,
      source,
      destination,
      tlvs: [{ type: 0x01, value: encoder.encode("h2") }, {
        type: 0x05,
        value: encoder.encode("req-1"),
      }],
      checksum: true,
    });
    await conn.write(new Uint8Array([...header, ...encoder.encode("ping")]));
    assertEquals(await readN(conn, 4), "ping");
    conn.close();
    await until(() => seen.disconnects.length === 1);
    assertEquals(seen.connects.length, 1);
    assertEquals(seen.connects[0]!.remote, source);
    assertEquals(seen.connects[0]!.local, destination);
    const info = seen.connects[0]!.info!;
    assert(info.addressesFromHeader);
    assertEquals(info.header?.alpn, "h2");
    assertEquals(decoder.decode(info.header?.uniqueId), "req-1");
    assertEquals(seen.data.join(""), "ping");
    assertEquals(seen.errors, []);
  });
});

Deno.test("TcpServer with proxyProtocol v1 takes a header split into single bytes", async () => {
  await withServer({ proxyProtocol: "any" }, async (port, seen) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const bytes = encoder.encode(
      "PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\nab",
    );
    for (const byte of bytes) {
      await conn.write(new Uint8Array([byte]));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assertEquals(await readN(conn, 2), "ab");
    conn.close();
    await until(() => seen.disconnects.length === 1);
    assertEquals(seen.connects[0]!.remote, source);
    assertEquals(seen.data.join(""), "ab");
  });
});

Deno.test("TcpServer closes a connection with a bad PROXY header as 'bad proxy header'", async () => {
  const cases: [TcpServerConfigOptions, Uint8Array, ProxyHeaderErrorCode][] = [
    [
      { proxyProtocol: "v1" },
      encoder.encode("GET / HTTP/1.1\r\n\r\n"),
      "bad-signature",
    ],
    [
      { proxyProtocol: "v1" },
      encoder.encode("PROXY TCP4 " + "9".repeat(200)),
      "too-long",
    ],
    [
      { proxyProtocol: "v2" },
      encoder.encode("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\r\nsecret"),
      "bad-signature",
    ],
    [
      { proxyProtocol: "any" },
      (() => {
        const b = encodeProxyHeader({ version: 2, source, destination });
        b[12] = 0x31; // version 3
        return b;
      })(),
      "bad-version",
    ],
  ];
  for (const [options, bytes, code] of cases) {
    await withServer(options, async (port, seen, server) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(bytes).catch(() => {});
      assertEquals(await readAll(conn), ""); // closed, nothing echoed
      conn.close();
      await until(() => server.stats().disconnects["bad proxy header"] === 1);
      assertEquals(seen.connects, []);
      assertEquals(seen.data, []); // nothing of the header reached onData
      assertEquals(seen.disconnects, []); // never connected, so no onDisconnect
      assertEquals(seen.errors.length, 1);
      assertInstanceOf(seen.errors[0], ProxyHeaderError);
      assertEquals((seen.errors[0] as ProxyHeaderError).code, code);
    });
  }
});

Deno.test("TcpServer times out a PROXY header that does not complete", async () => {
  await withServer(
    { proxyProtocol: "v1", proxyHeaderTimeoutMs: 100 },
    async (port, seen, server) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode("PROXY TCP4 1.2.3.4"));
      assertEquals(await readAll(conn), "");
      conn.close();
      await until(() => seen.errors.length === 1);
      assertEquals((seen.errors[0] as ProxyHeaderError).code, "timed-out");
      assertEquals(server.stats().disconnects["bad proxy header"], 1);
      assertEquals(seen.connects, []);
    },
  );
});

Deno.test("TcpServer closes quietly a peer that leaves without sending (a TCP health check)", async () => {
  await withServer({ proxyProtocol: "v2" }, async (port, seen, server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    await until(() => server.stats().closed === 1);
    assertEquals(seen.errors, []);
    assertEquals(seen.connects, []);
    assertEquals(server.stats().disconnects["peer closed"], 1);
  });
});

Deno.test("TcpServer keeps the socket's addresses for LOCAL and UNKNOWN headers", async () => {
  await withServer({ proxyProtocol: "any" }, async (port, seen) => {
    for (
      const header of [
        encodeProxyHeader({
          version: 2,
          command: "local",
          source: null,
          destination: null,
        }),
        encoder.encode("PROXY UNKNOWN\r\n"),
      ]
    ) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new Uint8Array([...header, 0x41]));
      assertEquals(await readN(conn, 1), "A");
      const local = conn.localAddr as Deno.NetAddr;
      conn.close();
      const seenConn = seen.connects.at(-1)!;
      assertEquals((seenConn.remote as Deno.NetAddr).port, local.port);
      assertEquals((seenConn.local as Deno.NetAddr).port, port);
      assertEquals(seenConn.info?.addressesFromHeader, false);
      assert(seenConn.info?.header !== undefined);
    }
  });
});

Deno.test("TcpServer with proxyProtocol optional serves header-less peers as direct", async () => {
  await withServer(
    { proxyProtocol: "optional", proxyHeaderTimeoutMs: 100 },
    async (port, seen) => {
      // Direct, sending first; then one that starts like a signature ("PRO").
      for (const payload of ["hello", "PROBE"]) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(encoder.encode(payload.slice(0, 3)));
        await new Promise((resolve) => setTimeout(resolve, 10));
        await conn.write(encoder.encode(payload.slice(3)));
        assertEquals(await readN(conn, payload.length), payload);
        conn.close();
      }
      // Direct, waiting for the server: served once the header timeout passes.
      const quiet = await Deno.connect({ hostname: "127.0.0.1", port });
      await until(() => seen.connects.length === 3);
      quiet.close();
      // Proxied.
      const proxied = await Deno.connect({ hostname: "127.0.0.1", port });
      await proxied.write(
        encodeProxyHeader({ version: 1, source, destination }),
      );
      await proxied.write(encoder.encode("x"));
      assertEquals(await readN(proxied, 1), "x");
      proxied.close();
      await until(() => seen.connects.length === 4);
      assertEquals(seen.connects.map((c) => c.info?.header?.version), [
        undefined,
        undefined,
        undefined,
        1,
      ]);
      assertEquals(seen.connects[0]!.remote.transport, "tcp");
      assertEquals(
        (seen.connects[0]!.remote as Deno.NetAddr).hostname,
        "127.0.0.1",
      );
      assertEquals(seen.connects[3]!.remote, source);
      assertEquals(seen.errors, []);
    },
  );
});

Deno.test("TcpServer refuses PROXY headers from peers outside trustedProxies", async () => {
  await withServer(
    { proxyProtocol: "v2", trustedProxies: ["10.0.0.0/8"] },
    async (port, seen, server) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encodeProxyHeader({ version: 2, source, destination }))
        .catch(() => {});
      assertEquals(await readAll(conn), "");
      conn.close();
      await until(() => seen.errors.length === 1);
      assertEquals((seen.errors[0] as ProxyHeaderError).code, "untrusted");
      assertEquals(server.stats().disconnects["bad proxy header"], 1);
    },
  );
  await withServer(
    { proxyProtocol: "optional", trustedProxies: ["10.0.0.0/8", "::1"] },
    async (port, seen) => {
      const direct = await Deno.connect({ hostname: "127.0.0.1", port });
      await direct.write(encoder.encode("hi"));
      assertEquals(await readN(direct, 2), "hi");
      direct.close();
      const spoofing = await Deno.connect({ hostname: "127.0.0.1", port });
      await spoofing.write(
        encodeProxyHeader({ version: 1, source, destination }),
      );
      assertEquals(await readAll(spoofing), "");
      spoofing.close();
      await until(() => seen.errors.length === 1);
      assertEquals((seen.errors[0] as ProxyHeaderError).code, "untrusted");
      assertEquals(seen.connects.length, 1);
    },
  );
  await withServer(
    { proxyProtocol: "v1", trustedProxies: ["127.0.0.0/8"] },
    async (port, seen) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        encoder.encode("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\nok"),
      );
      assertEquals(await readN(conn, 2), "ok");
      conn.close();
      await until(() => seen.connects.length === 1);
      assertEquals(seen.connects[0]!.remote, source);
    },
  );
});

Deno.test("TcpServer without proxyProtocol reports socket addresses and no proxyInfo", async () => {
  await withServer({}, async (port, seen) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode("PROXY UNKNOWN\r\n"));
    assertEquals(await readN(conn, 15), "PROXY UNKNOWN\r\n");
    conn.close();
    assertEquals(seen.connects[0]!.info, undefined);
    assertEquals((seen.connects[0]!.local as Deno.NetAddr).port, port);
  });
});

Deno.test("TcpServer health port answers up ready, maint at maxConnections and drain during shutdown", async () => {
  const server = new TcpServer(
    new TcpServerConfig({ port: 0, healthPort: 0, maxConnections: 1 }),
    { onData() {} },
  );
  const serving = server.run();
  const healthPort = server.healthAddr.port;
  const mainPort = (server.addr as Deno.NetAddr).port;
  const ask = async () => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: healthPort,
    });
    const reply = await readAll(conn);
    conn.close();
    return reply;
  };
  assertEquals(await ask(), "up ready\n");
  const held = await Deno.connect({ hostname: "127.0.0.1", port: mainPort });
  await until(() => server.stats().state === "paused");
  assertEquals(await ask(), "maint\n");
  const shutdown = server.shutdown({ timeoutMs: 2_000 });
  assertEquals(await ask(), "drain\n");
  // The main listener is closed first: new connections are refused.
  const refused = await Deno.connect({ hostname: "127.0.0.1", port: mainPort })
    .then(
      (c) => (c.close(), false),
      () => true,
    );
  assert(refused);
  held.close();
  await shutdown;
  await serving;
  const after = await Deno.connect({ hostname: "127.0.0.1", port: healthPort })
    .then((c) => (c.close(), "open"), () => "closed");
  assertEquals(after, "closed");
});

Deno.test("TcpServer shutdown closes connections still waiting for their header", async () => {
  await withServer({ proxyProtocol: "v2" }, async (port, seen, server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      encodeProxyHeader({ version: 2, source, destination }).subarray(0, 5),
    );
    await until(() => server.connectionCount === 1);
    const result = await server.shutdown({ timeoutMs: 1_000 });
    assertEquals(result.forced, 0);
    assertEquals(await readAll(conn), "");
    conn.close();
    assertEquals(seen.connects, []);
    assertEquals(server.stats().disconnects.shutdown, 1);
  });
});

Deno.test("TcpServer shutdown with closeWrites false keeps connections open until the deadline", async () => {
  const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
  });
  const serving = server.run();
  const port = (server.addr as Deno.NetAddr).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode("a"));
  assertEquals(await readN(conn, 1), "a");
  const shutdown = server.shutdown({ timeoutMs: 300, closeWrites: false });
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Still served during the drain: no end of stream, echo works.
  await conn.write(encoder.encode("b"));
  assertEquals(await readN(conn, 1), "b");
  const result = await shutdown;
  assertEquals(result, { closedGracefully: 0, forced: 1 });
  assertEquals(await readAll(conn), "");
  conn.close();
  await serving;
});

Deno.test("TcpServer times out each late header on its own deadline, sparing completed ones", async () => {
  await withServer(
    { proxyProtocol: "v2", proxyHeaderTimeoutMs: 150 },
    async (port, seen, server) => {
      const partial = encodeProxyHeader({ version: 2, source, destination })
        .subarray(0, 10);
      const a = await Deno.connect({ hostname: "127.0.0.1", port });
      await a.write(partial);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const b = await Deno.connect({ hostname: "127.0.0.1", port });
      await b.write(encodeProxyHeader({ version: 2, source, destination }));
      await new Promise((resolve) => setTimeout(resolve, 30));
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(partial);
      assertEquals(await readAll(a), "");
      assertEquals(seen.errors.length, 1); // a only: c is younger
      assertEquals(await readAll(c), "");
      await until(() => seen.errors.length === 2);
      assert(
        seen.errors.every((e) => (e as ProxyHeaderError).code === "timed-out"),
      );
      // b completed its header and is still served after both deadlines.
      await b.write(encoder.encode("late"));
      assertEquals(await readN(b, 4), "late");
      assertEquals(server.stats().disconnects["bad proxy header"], 2);
      a.close();
      b.close();
      c.close();
    },
  );
});

Deno.test("property: arbitrary bytes never break a proxyProtocol server", async () => {
  const v2 = encodeProxyHeader({ version: 2, source, destination });
  const prefixes = fc.constantFrom(
    new Uint8Array(0),
    encoder.encode("PROXY "),
    encoder.encode("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\r\n"),
    v2.subarray(0, 12),
    v2,
  );
  await withServer(
    { proxyProtocol: "any", proxyHeaderTimeoutMs: 2_000 },
    async (port, seen, server) => {
      await assertProperty(
        fc.asyncProperty(
          prefixes,
          fc.uint8Array({ maxLength: 200 }),
          cutPoints,
          async (prefix, tail, cuts) => {
            const conn = await Deno.connect({ hostname: "127.0.0.1", port });
            try {
              for (const chunk of splitAt(concat([prefix, tail]), cuts)) {
                await conn.write(chunk);
              }
              await conn.closeWrite();
              await readAll(conn); // served (echo) or closed: it ends
            } catch {
              // The server may reset a connection it refused mid-write.
            } finally {
              conn.close();
            }
          },
        ),
        { numRuns: 60 },
      );
      await until(() => server.connectionCount === 0);
      // Only PROXY header errors, no callback or server failure.
      assert(
        seen.errors.every((e) => e instanceof ProxyHeaderError),
        String(seen.errors),
      );
      assertEquals(server.stats().handlerErrors, 0);
      // And it still serves.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new Uint8Array([...v2, 0x21]));
      assertEquals(await readN(conn, 1), "!");
      conn.close();
    },
  );
});

Deno.test("TcpServerConfig validates the PROXY and health options", () => {
  const bad: [TcpServerConfigOptions, ErrorConstructor, string][] = [
    [
      { proxyProtocol: "v3" as "v1" },
      RangeError,
      "'proxyProtocol' must be 'v1', 'v2', 'any' or 'optional': received 'v3'",
    ],
    [{ proxyHeaderTimeoutMs: 0 }, RangeError, "'proxyHeaderTimeoutMs' must be"],
    [{ trustedProxies: ["10.0.0.0/33"] }, RangeError, "received '10.0.0.0/33'"],
    [
      { trustedProxies: ["example.com"] },
      RangeError,
      "'trustedProxies' must be",
    ],
    [
      { trustedProxies: "10.0.0.0/8" as unknown as string[] },
      TypeError,
      "'trustedProxies' must be",
    ],
    [{ healthPort: 70000 }, RangeError, "'healthPort' must be"],
    [
      {
        proxyProtocol: "v2",
        transport: "tls",
        tls: { cert: "-----BEGIN x", key: "-----BEGIN y" },
      },
      TypeError,
      "'proxyProtocol' needs transport 'tcp' or 'unix'",
    ],
  ];
  for (const [options, ErrorClass, message] of bad) {
    assertThrows(() => new TcpServerConfig(options), ErrorClass, message);
  }
  const config = new TcpServerConfig({
    proxyProtocol: "optional",
    trustedProxies: ["10.0.0.0/8", "::1", "192.0.2.7"],
  });
  assertEquals(config.proxyHeaderTimeoutMs, 3000);
  assertEquals(config.trustedProxies, ["10.0.0.0/8", "::1", "192.0.2.7"]);
  assertEquals(config.healthPort, undefined);
});
