import { assertEquals, assertThrows } from "@std/assert";
import { TcpServerConfig } from "./tcp_server_config.ts";

Deno.test("TcpServerConfig has documented defaults", () => {
  const c = TcpServerConfig.builder().build();
  assertEquals(c.transport, "tcp");
  assertEquals(c.hostname, "127.0.0.1");
  assertEquals(c.port, 0);
  assertEquals(c.bufferSize, 65536);
  assertEquals(c.maxConnections, Infinity);
  assertEquals(c.noDelay, true);
  assertEquals(c.keepAlive, false);
  assertEquals(c.idleTimeoutMs, 0);
  assertEquals(c.writeHighWaterMark, 65536);
  assertEquals(c.writeLowWaterMark, 16384);
  assertEquals(c.maxWriteBuffer, 1_048_576);
  assertEquals(c.backlog, 511);
  assertEquals(Object.isFrozen(c), true);
});

Deno.test("TcpServerConfig builder sets every field", () => {
  const c = TcpServerConfig.builder()
    .address("[::1]:8080")
    .bufferSize(1024)
    .maxConnections(10)
    .noDelay(false)
    .keepAlive(true)
    .idleTimeout(500)
    .writeHighWaterMark(4096)
    .writeLowWaterMark(1024)
    .maxWriteBuffer(8192)
    .backlog(16)
    .build();
  assertEquals(
    [
      c.hostname,
      c.port,
      c.bufferSize,
      c.maxConnections,
      c.noDelay,
      c.keepAlive,
      c.idleTimeoutMs,
      c.writeHighWaterMark,
      c.writeLowWaterMark,
      c.maxWriteBuffer,
      c.backlog,
    ],
    ["::1", 8080, 1024, 10, false, true, 500, 4096, 1024, 8192, 16],
  );
  assertEquals(
    TcpServerConfig.builder().hostname("localhost").port(1).build().hostname,
    "localhost",
  );
  assertEquals(
    TcpServerConfig.builder().address(":9").build().hostname,
    "127.0.0.1",
  );
  assertEquals(
    TcpServerConfig.builder().address({ hostname: "::1", port: 7 }).build()
      .port,
    7,
  );
  const u = TcpServerConfig.builder().unix("/tmp/a.sock").build();
  assertEquals([u.transport, u.path], ["unix", "/tmp/a.sock"]);
  const t = TcpServerConfig.builder().tls({
    cert: "-----BEGIN CERTIFICATE-----",
    key: "-----BEGIN PRIVATE KEY-----",
    alpnProtocols: ["h2"],
  }).build();
  assertEquals([t.transport, t.tls?.alpnProtocols], ["tls", ["h2"]]);
  // The low-water mark follows a small high-water mark by default.
  assertEquals(
    TcpServerConfig.builder().writeHighWaterMark(100).build().writeLowWaterMark,
    100,
  );
});

Deno.test("TcpServerConfig rejects bad values naming field and value", () => {
  const b = () => TcpServerConfig.builder();
  const cases: [() => unknown, ErrorConstructor, string][] = [
    [
      () => b().maxConnections(0).build(),
      RangeError,
      "'maxConnections' must be a positive integer or Infinity: received 0",
    ],
    [() => b().maxConnections(1.5).build(), RangeError, "received 1.5"],
    [
      () => b().bufferSize(-1).build(),
      RangeError,
      "'bufferSize' must be a positive integer: received -1",
    ],
    [() => b().bufferSize(NaN).build(), RangeError, "received NaN"],
    [
      () => b().port(70000).build(),
      RangeError,
      "'port' must be an integer from 0 to 65535: received 70000",
    ],
    [
      () => b().idleTimeout(-5).build(),
      RangeError,
      "'idleTimeoutMs' must be a finite number",
    ],
    [() => b().idleTimeout(Infinity).build(), RangeError, "received Infinity"],
    [
      () => b().writeHighWaterMark(10).writeLowWaterMark(20).build(),
      RangeError,
      "'writeLowWaterMark' must be at most 'writeHighWaterMark' (10): received 20",
    ],
    [() => b().maxWriteBuffer(0).build(), RangeError, "'maxWriteBuffer'"],
    [() => b().backlog(0).build(), RangeError, "'backlog'"],
    [
      () => b().noDelay("yes" as unknown as boolean).build(),
      TypeError,
      `'noDelay' must be a boolean: received 'yes'`,
    ],
    [
      () => b().keepAlive(1 as unknown as boolean).build(),
      TypeError,
      "'keepAlive' must be a boolean: received 1",
    ],
    [
      () => b().hostname("").build(),
      TypeError,
      `'hostname' must be a non-empty string: received ''`,
    ],
    [
      () => b().address("nope"),
      TypeError,
      `'address' must be "host:port": received 'nope'`,
    ],
    [
      () => b().unix("").build(),
      TypeError,
      "'path' must be a non-empty string",
    ],
    [
      () => b().tls({ cert: "x", key: "y" }).build(),
      TypeError,
      "'tls.cert' must be a PEM string",
    ],
    [
      () => new TcpServerConfig({ transport: "udp" as "tcp" }),
      TypeError,
      `'transport' must be "tcp", "unix" or "tls": received 'udp'`,
    ],
  ];
  for (const [fn, Class, message] of cases) {
    assertThrows(fn, Class, message);
  }
});

Deno.test("TcpServerConfig accepts Infinity where documented", () => {
  const c = TcpServerConfig.builder().maxConnections(Infinity).maxWriteBuffer(
    Infinity,
  ).build();
  assertEquals([c.maxConnections, c.maxWriteBuffer], [Infinity, Infinity]);
  assertThrows(
    () => TcpServerConfig.builder().bufferSize(Infinity).build(),
    RangeError,
  );
});
