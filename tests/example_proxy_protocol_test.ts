// Every example server takes `--proxy-protocol`: a connection that starts
// with a PROXY v2 header (as HAProxy's send-proxy-v2 sends it) is served as
// usual, and the header never reaches the protocol.

import { assert, assertStringIncludes } from "@std/assert";
import { encodeProxyHeader } from "../net/mod.ts";
import {
  kvCodec,
  OP_GET,
  request as kvRequest,
  response as kvResponse,
  STATUS_NOT_FOUND,
} from "../examples/kv/protocol.ts";
import {
  decoder,
  encoder,
  HOST,
  readUntilText,
  startExample,
  within,
  writeAll,
} from "./_helpers.ts";

const header = encodeProxyHeader({
  version: 2,
  source: { transport: "tcp", hostname: "203.0.113.9", port: 40123 },
  destination: { transport: "tcp", hostname: "198.51.100.2", port: 7000 },
});

/** Bytes under 0x80 as a string (they round-trip through UTF-8 unchanged). */
const ascii = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

/** Each example, a request and a text its reply must contain. */
const CASES: [string, string, string][] = [
  ["echo_server.ts", "ping\n", "ping\n"],
  ["chat_server.ts", "/who\n", "* online: guest1"],
  ["http_hello/main.ts", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200"],
  ["mini_redis/main.ts", "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"],
  ["compute_server/main.ts", "hash normal abc\n", "hash 1 "],
  ["upload_server.ts", "PUT a 3\nxyz", "OK 3 "],
  [
    "kv/server.ts",
    ascii(kvCodec().encode(kvRequest(OP_GET, encoder.encode("k")))),
    ascii(kvCodec().encode(kvResponse(STATUS_NOT_FOUND))),
  ],
];

for (const [file, request, expected] of CASES) {
  Deno.test(`${file} --proxy-protocol v2 serves a connection behind a PROXY header`, async () => {
    const example = await startExample(file, {
      args: ["--proxy-protocol", "v2"],
      permissions: [
        "-A",
      ],
      readStdout: true,
    });
    const drain = example.stdout.drain().catch(() => {});
    try {
      const conn = await Deno.connect({ hostname: HOST, port: example.port });
      try {
        await writeAll(
          conn,
          new Uint8Array([...header, ...encoder.encode(request)]),
        );
        const reply = await within(
          readUntilText(conn, expected),
          20_000,
          `${file} reply`,
        );
        assertStringIncludes(reply, expected);
      } finally {
        conn.close();
      }
      // A header-less connection is refused in mode v2: closed without a
      // reply (upload_server, on a bare loop, says "ERR bad proxy header").
      const bare = await Deno.connect({ hostname: HOST, port: example.port });
      await writeAll(bare, encoder.encode(request)).catch(() => {});
      let answer = "";
      const buf = new Uint8Array(256);
      for (
        let n;
        (n = await within(
          bare.read(buf).catch(() => null),
          20_000,
          "close",
        )) !== null;
      ) {
        answer += decoder.decode(buf.subarray(0, n));
      }
      assert(
        answer === "" || answer === "ERR bad proxy header\n",
        `${file} answered a bare request: ${answer}`,
      );
      bare.close();
    } finally {
      example.child.kill("SIGTERM");
      await example.child.status;
      await drain;
      await example.stderr;
    }
  });
}
