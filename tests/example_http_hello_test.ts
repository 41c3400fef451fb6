// examples/http_hello against real clients (curl, wrk, raw sockets); the
// parser and responses have unit tests beside them
// (examples/http_hello/http_test.ts).
import { readUntilClosed, startHttpHello } from "./_helpers.ts";
import { assert, assertEquals, assertMatch } from "@std/assert";
import { peer } from "./_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const curlPeer = peer("curl");
const wrkPeer = peer("wrk");

const GET = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: example\r\n${extra}\r\n`;

// ------------------------------------------------------------ real server

/** The text the server sends until it closes the connection (a reset fails). */
async function readText(conn: Deno.Conn): Promise<string> {
  return dec.decode(await readUntilClosed(conn));
}

async function exchange(port: number, wire: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(wire));
  return await readText(conn);
}

Deno.test({
  name: curlPeer.name(
    "http_hello serves curl with keep-alive, pipelining and rejections",
  ),
  ignore: curlPeer.ignore,
  async fn() {
    await using server = await startHttpHello();
    const url = `http://127.0.0.1:${server.port}/`;

    // curl reuses the connection for the second URL (keep-alive).
    const curl = await new Deno.Command("curl", {
      args: ["-sv", url, `${url}again`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(curl.success);
    assertEquals(dec.decode(curl.stdout), "Hello, World!Hello, World!");
    const log = dec.decode(curl.stderr);
    assertMatch(
      log,
      /Re-using existing connection|Reusing existing connection/,
    );
    assertMatch(log, /< HTTP\/1\.1 200 OK/);

    // Three pipelined requests in one write: three answers in order, then the
    // server closes after the `Connection: close` one.
    const piped = await exchange(
      server.port,
      GET("/1") + "HEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n" +
        GET("/3", "Connection: close\r\n"),
    );
    const statuses = [...piped.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    assertEquals(statuses, ["200", "200", "200"]);
    assertEquals(piped.split("Hello, World!").length - 1, 2); // HEAD has no body
    assert(piped.endsWith("connection: close\r\n\r\nHello, World!"), piped);

    // A request split into single bytes is still answered.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    for (const b of enc.encode(GET("/slow", "Connection: close\r\n"))) {
      await conn.write(Uint8Array.of(b));
    }
    assertMatch(
      await readText(conn),
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*Hello, World!$/,
    );
    conn.close();

    // Malformed, oversized header section, oversized request line: error + close.
    assertMatch(
      await exchange(server.port, "GET / HTTP/1.1\r\nHost x\r\n\r\n"),
      /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close/,
    );
    assertMatch(
      await exchange(
        server.port,
        `GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(20000)}\r\n\r\n`,
      ),
      /^HTTP\/1\.1 431 /,
    );
    assertMatch(
      await exchange(server.port, `GET /${"a".repeat(9000)} HTTP/1.1\r\n`),
      /^HTTP\/1\.1 414 /,
    );
    // A good request before a bad one is answered first.
    const mixed = await exchange(server.port, GET("/ok") + "BAD\r\n\r\n");
    assertEquals([...mixed.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), [
      "200",
      "400",
    ]);

    // Still serving after all that.
    const after = await fetch(url);
    assertEquals(await after.text(), "Hello, World!");
  },
});

Deno.test("http_hello exits 0 on SIGTERM", async () => {
  const server = await startHttpHello();
  server.child.kill("SIGTERM");
  assertEquals((await server.child.status).code, 0);
  await server[Symbol.asyncDispose]();
});

Deno.test("http_hello closes idle and slow-loris connections after --idle-timeout", async () => {
  await using server = await startHttpHello("--idle-timeout", "300");
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const loris = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await loris.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n")); // never finished
  // Both end with EOF from the server (no response for the unfinished head).
  assertEquals(await readText(idle), "");
  assertEquals(await readText(loris), "");
  idle.close();
  loris.close();
});

Deno.test({
  name: wrkPeer.name(
    "http_hello answers wrk's pipelined load (3 requests per write) without errors",
  ),
  ignore: wrkPeer.ignore,
  async fn() {
    await using server = await startHttpHello();
    const dir = await Deno.makeTempDir({ prefix: "millrace-wrk-" });
    try {
      const script = `${dir}/pipeline.lua`;
      await Deno.writeTextFile(
        script,
        `init = function(args)
  local r = {}
  r[1] = wrk.format("GET", "/1")
  r[2] = wrk.format("GET", "/2")
  r[3] = wrk.format("GET", "/3")
  req = table.concat(r)
end
request = function() return req end
`,
      );
      const out = await new Deno.Command("wrk", {
        args: [
          "-t1",
          "-c4",
          "-d1s",
          "-s",
          script,
          `http://127.0.0.1:${server.port}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = dec.decode(out.stdout);
      assert(out.success, text + dec.decode(out.stderr));
      const total = Number(text.match(/(\d+) requests in/)?.[1]);
      assert(total > 0, text);
      assert(!/Non-2xx|Socket errors/.test(text), text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
