import { assertEquals, assertThrows } from "@std/assert";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerTlsOptions } from "./tcp_server_config_options.ts";

const TLS: TcpServerTlsOptions = {
  cert: "-----BEGIN CERTIFICATE-----",
  key: "-----BEGIN PRIVATE KEY-----",
};

/** What decides where a config listens. */
function whereOf(config: TcpServerConfig): unknown[] {
  return [config.transport, config.hostname, config.port, config.path];
}

Deno.test("TcpServerConfigBuilder listens where the last address(), hostname(), port() or unix() says", () => {
  const b = () => TcpServerConfig.builder().unix("/tmp/a.sock");
  assertEquals(whereOf(b().address("127.0.0.1:8080").build()), [
    "tcp",
    "127.0.0.1",
    8080,
    undefined,
  ]);
  assertEquals(whereOf(b().address({ hostname: "::1", port: 7 }).build()), [
    "tcp",
    "::1",
    7,
    undefined,
  ]);
  assertEquals(whereOf(b().hostname("::1").build()), [
    "tcp",
    "::1",
    0,
    undefined,
  ]);
  assertEquals(whereOf(b().port(8080).build()), [
    "tcp",
    "127.0.0.1",
    8080,
    undefined,
  ]);
  // ... and the other way round: a Unix socket after a TCP address.
  const unix = TcpServerConfig.builder().address("127.0.0.1:8080")
    .unix("/tmp/b.sock").build();
  assertEquals([unix.transport, unix.path], ["unix", "/tmp/b.sock"]);
  const viaAddress = TcpServerConfig.builder().port(8080)
    .address({ transport: "unix", path: "/tmp/c.sock" }).build();
  assertEquals([viaAddress.transport, viaAddress.path], [
    "unix",
    "/tmp/c.sock",
  ]);
});

Deno.test("TcpServerConfigBuilder keeps tls() on the TCP address set after unix()", () => {
  const config = TcpServerConfig.builder()
    .tls(TLS)
    .unix("/tmp/a.sock")
    .port(8443)
    .build();
  assertEquals(whereOf(config), ["tls", "127.0.0.1", 8443, undefined]);
  assertEquals(config.tls?.cert, TLS.cert);
  const later = TcpServerConfig.builder()
    .unix("/tmp/a.sock")
    .tls(TLS)
    .address(":8443")
    .build();
  assertEquals(whereOf(later), ["tls", "127.0.0.1", 8443, undefined]);
});

Deno.test("TcpServerConfigBuilder rejects tls() with a Unix socket, in either order", () => {
  const message =
    "Cannot create server config as 'tls' needs a TCP address: received Unix socket path '/tmp/a.sock'";
  assertThrows(
    () => TcpServerConfig.builder().unix("/tmp/a.sock").tls(TLS).build(),
    TypeError,
    message,
  );
  assertThrows(
    () => TcpServerConfig.builder().tls(TLS).unix("/tmp/a.sock").build(),
    TypeError,
    message,
  );
  assertThrows(
    () =>
      TcpServerConfig.builder().tls(TLS)
        .address({ transport: "unix", path: "/tmp/a.sock" }).build(),
    TypeError,
    message,
  );
});

Deno.test("TcpServerConfigBuilder's noDelay() and keepAlive() alone turn the flag on", () => {
  const on = TcpServerConfig.builder().noDelay(false).noDelay().keepAlive()
    .build();
  assertEquals([on.noDelay, on.keepAlive], [true, true]);
  const off = TcpServerConfig.builder().noDelay(false).keepAlive(false).build();
  assertEquals([off.noDelay, off.keepAlive], [false, false]);
});

Deno.test("TcpServerConfigBuilder.writeWaterMarks() sets both marks, a left-out one to its default", () => {
  const both = TcpServerConfig.builder()
    .writeWaterMarks({ high: 8192, low: 2048 })
    .build();
  assertEquals([both.writeHighWaterMark, both.writeLowWaterMark], [8192, 2048]);
  // A later call replaces the pair: the low mark derives from the new high one.
  const again = TcpServerConfig.builder()
    .writeWaterMarks({ high: 8192, low: 2048 })
    .writeWaterMarks({ high: 4096 })
    .build();
  assertEquals([again.writeHighWaterMark, again.writeLowWaterMark], [
    4096,
    1024,
  ]);
  const defaults = TcpServerConfig.builder().writeWaterMarks({}).build();
  assertEquals(
    [defaults.writeHighWaterMark, defaults.writeLowWaterMark],
    [65_536, 16_384],
  );
  assertThrows(
    () => TcpServerConfig.builder().writeWaterMarks(null as never),
    TypeError,
    "Cannot create server config as 'marks' must be an object: received null",
  );
});
