import { assertEquals, assertThrows } from "@std/assert";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";

Deno.test("TcpServerConfig has documented defaults", () => {
  const c = TcpServerConfig.builder().build();
  assertEquals(c.transport, "tcp");
  assertEquals(c.hostname, "127.0.0.1");
  assertEquals(c.port, 0);
  assertEquals(c.maxReadBufferSize, 65536);
  assertEquals(c.maxConnections, Infinity);
  assertEquals(c.noDelay, true);
  assertEquals(c.keepAlive, false);
  assertEquals(c.idleTimeoutMs, 0);
  assertEquals(c.writeHighWaterMark, 65536);
  assertEquals(c.writeLowWaterMark, 16384);
  assertEquals(c.maxWriteBuffer, 1_048_576);
  assertEquals(c.tcpBacklog, 511);
  assertEquals(c.acceptErrorDelayMs, 100);
  assertEquals(Object.isFrozen(c), true);
});

Deno.test("TcpServerConfig builder sets every field", () => {
  const c = TcpServerConfig.builder()
    .address("[::1]:8080")
    .maxReadBufferSize(1024)
    .maxConnections(10)
    .noDelay(false)
    .keepAlive(true)
    .idleTimeoutMs(500)
    .writeWaterMarks({ high: 4096, low: 1024 })
    .maxWriteBuffer(8192)
    .tcpBacklog(16)
    .build();
  assertEquals(
    [
      c.hostname,
      c.port,
      c.maxReadBufferSize,
      c.maxConnections,
      c.noDelay,
      c.keepAlive,
      c.idleTimeoutMs,
      c.writeHighWaterMark,
      c.writeLowWaterMark,
      c.maxWriteBuffer,
      c.tcpBacklog,
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
  // The low-water mark follows a small high-water mark by default, below it.
  assertEquals(
    TcpServerConfig.builder().writeWaterMarks({ high: 100 }).build()
      .writeLowWaterMark,
    25,
  );
});

Deno.test("TcpServerConfig rejects bad values naming field and value", () => {
  const b = () => TcpServerConfig.builder();
  const cases: [() => unknown, ErrorConstructor, string][] = [
    [
      () => b().maxConnections(0).build(),
      RangeError,
      "'maxConnections' must be an integer from 1 to 2 ** 24 or Infinity: received 0",
    ],
    [() => b().maxConnections(1.5).build(), RangeError, "received 1.5"],
    [
      () => b().maxReadBufferSize(-1).build(),
      RangeError,
      "'maxReadBufferSize' must be an integer from 1 to 2 ** 30: received -1",
    ],
    [() => b().maxReadBufferSize(NaN).build(), RangeError, "received NaN"],
    [
      () => b().port(70000).build(),
      RangeError,
      "'port' must be an integer from 0 to 65535: received 70000",
    ],
    [
      () => b().idleTimeoutMs(-5).build(),
      RangeError,
      "'idleTimeoutMs' must be an integer from 0 to 2147483647: received -5",
    ],
    [
      () => b().idleTimeoutMs(Infinity).build(),
      RangeError,
      "received Infinity",
    ],
    [
      () => b().writeWaterMarks({ high: 10, low: 20 }).build(),
      RangeError,
      "'writeLowWaterMark' must be less than 'writeHighWaterMark' (10): received 20",
    ],
    [() => b().maxWriteBuffer(0).build(), RangeError, "'maxWriteBuffer'"],
    [() => b().tcpBacklog(0).build(), RangeError, "'tcpBacklog'"],
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
      RangeError,
      `'hostname' must be a non-empty hostname or IP address: received ''`,
    ],
    [
      () => b().address("nope"),
      RangeError,
      `'address' must be 'host:port', '[host]:port' or ':port': received 'nope'`,
    ],
    [
      () => b().unix("").build(),
      RangeError,
      "'path' must be a non-empty string",
    ],
    [
      () => b().tls({ cert: "x", key: "y" }).build(),
      RangeError,
      "'tls.cert' must be a PEM string",
    ],
    [
      () => new TcpServerConfig({ transport: "udp" as "tcp" }),
      RangeError,
      `'transport' must be 'tcp', 'unix' or 'tls': received 'udp'`,
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
    () => TcpServerConfig.builder().maxReadBufferSize(Infinity).build(),
    RangeError,
  );
});

Deno.test("TcpServerConfig bounds every size, count and delay (issue 9)", () => {
  const b = () => TcpServerConfig.builder();
  const A = "Cannot create server config as ";
  const cases: [() => unknown, ErrorConstructor, string][] = [
    [
      () => b().maxConnections(2 ** 40).build(),
      RangeError,
      `${A}'maxConnections' must be an integer from 1 to 2 ** 24 or Infinity: received 1099511627776`,
    ],
    [
      () => b().maxWriteBuffer(2 ** 40).build(),
      RangeError,
      `${A}'maxWriteBuffer' must be an integer from 1 to 2 ** 30 or Infinity: received 1099511627776`,
    ],
    [
      () => b().writeWaterMarks({ high: 2 ** 40 }).build(),
      RangeError,
      `${A}'writeHighWaterMark' must be an integer from 2 to 2 ** 30: received 1099511627776`,
    ],
    [
      () => b().tcpBacklog(2 ** 40).build(),
      RangeError,
      `${A}'tcpBacklog' must be an integer from 1 to 65535: received 1099511627776`,
    ],
    [
      () => b().tcpBacklog(65536).build(),
      RangeError,
      `${A}'tcpBacklog' must be an integer from 1 to 65535: received 65536`,
    ],
    [
      () => b().maxReadBufferSize(2 ** 30 + 1).build(),
      RangeError,
      `${A}'maxReadBufferSize' must be an integer from 1 to 2 ** 30: received 1073741825`,
    ],
    [
      () => b().idleTimeoutMs(1.5).build(),
      RangeError,
      `${A}'idleTimeoutMs' must be an integer from 0 to 2147483647: received 1.5`,
    ],
    [
      () => b().idleTimeoutMs(2 ** 31).build(),
      RangeError,
      `${A}'idleTimeoutMs' must be an integer from 0 to 2147483647: received 2147483648`,
    ],
    [
      () => b().maxWriteBuffer(1000).writeWaterMarks({ high: 65536 }).build(),
      RangeError,
      `${A}'maxWriteBuffer' must be at least 'writeHighWaterMark' (65536): received 1000`,
    ],
    [
      () => b().writeWaterMarks({ high: 100, low: 100 }).build(),
      RangeError,
      `${A}'writeLowWaterMark' must be less than 'writeHighWaterMark' (100): received 100`,
    ],
    [
      () => b().writeWaterMarks({ low: 0 }).build(),
      RangeError,
      `${A}'writeLowWaterMark' must be an integer from 1 to 2 ** 30: received 0`,
    ],
    [
      () => b().acceptErrorDelayMs(0.5).build(),
      RangeError,
      `${A}'acceptErrorDelayMs' must be an integer from 0 to 2147483647: received 0.5`,
    ],
    [
      () => new TcpServerConfig({ hostname: 5 as unknown as string }),
      TypeError,
      `${A}'hostname' must be a non-empty hostname or IP address: received 5`,
    ],
    [
      () => new TcpServerConfig({ hostname: "a b" }),
      RangeError,
      `${A}'hostname' must be a non-empty hostname or IP address: received 'a b'`,
    ],
    [
      () => new TcpServerConfig({ port: "80" as unknown as number }),
      TypeError,
      `${A}'port' must be an integer from 0 to 65535: received '80'`,
    ],
    [
      () => new TcpServerConfig(null as unknown as TcpServerConfigOptions),
      TypeError,
      `${A}'options' must be an object: received null`,
    ],
  ];
  for (const [fn, Class, message] of cases) {
    assertThrows(fn, Class, message);
  }
});

Deno.test("TcpServerConfig accepts the ends of every range", () => {
  const c = new TcpServerConfig({
    port: 65535,
    maxReadBufferSize: 2 ** 30,
    maxConnections: 2 ** 24,
    idleTimeoutMs: 2 ** 31 - 1,
    writeHighWaterMark: 2,
    writeLowWaterMark: 1,
    maxWriteBuffer: 2,
    tcpBacklog: 65535,
  });
  assertEquals(
    [
      c.port,
      c.maxReadBufferSize,
      c.maxConnections,
      c.idleTimeoutMs,
      c.tcpBacklog,
    ],
    [65535, 2 ** 30, 2 ** 24, 2 ** 31 - 1, 65535],
  );
  assertEquals(
    [c.writeHighWaterMark, c.writeLowWaterMark, c.maxWriteBuffer],
    [2, 1, 2],
  );
});

Deno.test("TcpServerConfig derives the write limits from the high-water mark", () => {
  const small = new TcpServerConfig({ writeHighWaterMark: 1000 });
  assertEquals([small.writeLowWaterMark, small.maxWriteBuffer], [
    250,
    1_048_576,
  ]);
  const big = new TcpServerConfig({ writeHighWaterMark: 1_048_576 });
  assertEquals([big.writeLowWaterMark, big.maxWriteBuffer], [
    16384,
    16_777_216,
  ]);
  const defaults = new TcpServerConfig();
  assertEquals(
    [
      defaults.writeHighWaterMark,
      defaults.writeLowWaterMark,
      defaults.maxWriteBuffer,
    ],
    [65536, 16384, 1_048_576],
  );
});

Deno.test("TcpServerConfig rejects a health port equal to the port it listens on", () => {
  const message =
    "Cannot create server config as 'healthPort' must be different from 'port': received 8080";
  assertThrows(
    () => new TcpServerConfig({ port: 8080, healthPort: 8080 }),
    RangeError,
    message,
  );
  assertThrows(
    () => TcpServerConfig.builder().port(8080).healthPort(8080).build(),
    RangeError,
    message,
  );
  assertThrows(
    () =>
      new TcpServerConfig({
        port: 8080,
        healthPort: 8080,
        tls: {
          cert: "-----BEGIN CERTIFICATE-----",
          key: "-----BEGIN PRIVATE KEY-----",
        },
      }),
    RangeError,
    message,
  );
  // Both ephemeral, or other ports, or a Unix socket (whose 'port' is unused):
  // no clash.
  assertEquals(new TcpServerConfig({ healthPort: 0 }).healthPort, 0);
  assertEquals(
    new TcpServerConfig({ port: 8080, healthPort: 8081 }).healthPort,
    8081,
  );
  assertEquals(
    TcpServerConfig.builder().port(8080).unix("/tmp/a.sock").healthPort(8080)
      .build().healthPort,
    8080,
  );
});

Deno.test("TcpServerConfig rejects TLS options with a Unix socket", () => {
  const tls = {
    cert: "-----BEGIN CERTIFICATE-----",
    key: "-----BEGIN PRIVATE KEY-----",
  };
  const message =
    "Cannot create server config as 'tls' needs a TCP address: received Unix socket path '/tmp/a.sock'";
  // The transport given, or inferred from 'path': either way the TLS options
  // would have been dropped.
  assertThrows(
    () => new TcpServerConfig({ transport: "unix", path: "/tmp/a.sock", tls }),
    TypeError,
    message,
  );
  assertThrows(
    () => new TcpServerConfig({ path: "/tmp/a.sock", tls }),
    TypeError,
    message,
  );
  assertEquals(
    new TcpServerConfig({ transport: "unix", path: "/tmp/a.sock" }).tls,
    undefined,
  );
});
