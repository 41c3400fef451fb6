import { assertEquals, assertThrows } from "@std/assert";
import { parseAddress, toDenoAddress } from "./_address.ts";

Deno.test("parseAddress() reads every string form", () => {
  assertEquals(parseAddress("bind", "127.0.0.1:80", true), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 80,
  });
  assertEquals(parseAddress("bind", "[::1]:8080", true), {
    transport: "tcp",
    hostname: "::1",
    port: 8080,
  });
  assertEquals(parseAddress("bind", ":0", true), {
    transport: "tcp",
    hostname: undefined,
    port: 0,
  });
  assertEquals(parseAddress("bind", "localhost:1", true).transport, "tcp");
});

Deno.test("parseAddress() reads objects, Deno addresses and Unix paths", () => {
  assertEquals(parseAddress("connect", { port: 7 }, false), {
    transport: "tcp",
    hostname: undefined,
    port: 7,
  });
  const netAddr: Deno.NetAddr = {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9,
  };
  assertEquals(parseAddress("connect", netAddr, false), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9,
  });
  assertEquals(
    parseAddress("connect", { transport: "unix", path: "/tmp/s" }, false),
    { transport: "unix", path: "/tmp/s" },
  );
  assertEquals(parseAddress("bind", { path: "/tmp/s" }, true), {
    transport: "unix",
    path: "/tmp/s",
  });
});

Deno.test("parseAddress() rejects bad addresses with std-style messages", () => {
  const cases: [unknown, boolean, ErrorConstructor, string][] = [
    [
      "nope",
      true,
      RangeError,
      "Cannot bind as 'address' must be 'host:port', '[host]:port' or ':port': received 'nope'",
    ],
    [
      5,
      true,
      TypeError,
      "Cannot bind as 'address' must be a 'host:port' string or an object: received 5",
    ],
    [
      null,
      true,
      TypeError,
      "Cannot bind as 'address' must be a 'host:port' string or an object: received null",
    ],
    [
      { hostname: 5, port: 1 },
      true,
      TypeError,
      "Cannot bind as 'hostname' must be a non-empty hostname or IP address: received 5",
    ],
    [
      { hostname: "a b", port: 1 },
      true,
      RangeError,
      "Cannot bind as 'hostname' must be a non-empty hostname or IP address: received 'a b'",
    ],
    [
      "127.0.0.1:0",
      false,
      RangeError,
      "Cannot bind as 'port' must be an integer from 1 to 65535: received 0",
    ],
    [
      "127.0.0.1:70000",
      true,
      RangeError,
      "Cannot bind as 'port' must be an integer from 0 to 65535: received 70000",
    ],
    [
      { port: "80" },
      true,
      TypeError,
      "Cannot bind as 'port' must be an integer from 0 to 65535: received '80'",
    ],
    [
      { transport: "udp", port: 1 },
      true,
      RangeError,
      "Cannot bind as 'transport' must be 'tcp' or 'unix': received 'udp'",
    ],
    [
      { transport: "unix", path: "" },
      true,
      RangeError,
      "Cannot bind as 'path' must be a non-empty string: received ''",
    ],
  ];
  for (const [address, allowZero, ErrorClass, message] of cases) {
    assertThrows(
      () => parseAddress("bind", address, allowZero),
      ErrorClass,
      message,
    );
  }
});

Deno.test("toDenoAddress() applies a default hostname only when none was given", () => {
  const parsed = parseAddress("connect", ":7", false);
  assertEquals(toDenoAddress(parsed), { port: 7 });
  assertEquals(toDenoAddress(parsed, "127.0.0.1"), {
    hostname: "127.0.0.1",
    port: 7,
  });
  assertEquals(
    toDenoAddress(parseAddress("connect", "[::1]:7", false), "127.0.0.1"),
    { hostname: "::1", port: 7 },
  );
  assertEquals(
    toDenoAddress(parseAddress("connect", { path: "/tmp/s" }, false)),
    { transport: "unix", path: "/tmp/s" },
  );
});
