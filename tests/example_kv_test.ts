// examples/kv/server.ts and examples/kv/client.ts: the length-prefixed
// key-value protocol in process, and the two programs as subprocesses.

import { assertEquals, assertMatch, assertRejects } from "@std/assert";
import { TcpServerConfig } from "@millrace/io/net";
import { createKvServer } from "../examples/kv/server.ts";
import { KvClient, KvError } from "../examples/kv/client.ts";
import { OP_GET, request } from "../examples/kv/protocol.ts";
import { connectTo, readAll, startExample, within } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

async function withServer(
  body: (port: number, log: string[]) => Promise<void>,
  maxBytes?: number,
): Promise<void> {
  const log: string[] = [];
  const server = createKvServer(new TcpServerConfig({ port: 0 }), {
    log: (line) => log.push(line),
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });
  const running = server.run();
  try {
    await body((server.addr as Deno.NetAddr).port, log);
  } finally {
    await server.close();
    await running;
  }
}

Deno.test("kv: SET, GET, DEL round trips, binary values included", async () => {
  await withServer(async (port) => {
    using client = await KvClient.connect({ port });
    assertEquals(await client.get("missing"), undefined);
    await client.set("greeting", "hello");
    assertEquals(dec(await client.get("greeting")), "hello");
    const binary = new Uint8Array(300_000).map((_, i) => i % 251);
    await client.set("blob", binary);
    assertEquals(await client.get("blob"), binary);
    assertEquals(await client.delete("greeting"), true);
    assertEquals(await client.delete("greeting"), false);
    assertEquals(await client.get("greeting"), undefined);
  });
});

Deno.test("kv: a malformed request gets an ERROR reply and the connection stays", async () => {
  await withServer(async (port) => {
    using client = await KvClient.connect({ port });
    assertEquals(
      dec((await client.call(new Uint8Array([9, 0, 1, 0x61]))).body),
      "unknown op 9",
    );
    assertEquals(
      dec((await client.call(request(OP_GET, enc("k"), enc("v")))).body),
      "only SET carries a value",
    );
    await client.set("k", "still works");
    assertEquals(dec(await client.get("k")), "still works");
  });
});

Deno.test("kv: the store is bounded", async () => {
  await withServer(async (port) => {
    using client = await KvClient.connect({ port });
    await client.set("a", "x".repeat(50));
    await assertRejects(
      () => client.set("b", "x".repeat(60)),
      KvError,
      "store full",
    );
    assertEquals(await client.delete("a"), true);
    await client.set("b", "x".repeat(60));
  }, 100);
});

Deno.test("kv: a frame announcing more than 1 MiB closes that connection only", async () => {
  await withServer(async (port, log) => {
    using client = await KvClient.connect({ port });
    const conn = await connectTo({
      transport: "tcp",
      hostname: "127.0.0.1",
      port,
    });
    await conn.write(new Uint8Array([0, 0x20, 0, 1, 1]));
    assertEquals((await within(readAll(conn), 5000, "close")).length, 0);
    conn.close();
    assertMatch(
      log.join("\n"),
      /exceeds 'maxFrameSize' \(1048576\): received 2097153 bytes/,
    );
    await client.set("k", "v");
    assertEquals(dec(await client.get("k")), "v");
  });
});

Deno.test("kv: kv/client.ts against kv/server.ts as programs", async () => {
  const server = await startExample("kv/server.ts", { readStdout: true });
  try {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "examples/kv/client.ts",
          "--port",
          String(server.port),
          ...args,
        ],
        cwd: new URL("..", import.meta.url),
        env: { DENO_NO_UPDATE_CHECK: "1" },
        stdin: "null",
      }).output();
      return { code: out.code, stdout: dec(out.stdout)!.trim() };
    };
    assertEquals(await run("set", "greeting", "hello world"), {
      code: 0,
      stdout: "OK",
    });
    assertEquals(await run("get", "greeting"), {
      code: 0,
      stdout: "hello world",
    });
    assertEquals(await run("del", "greeting"), { code: 0, stdout: "OK" });
    assertEquals(await run("get", "greeting"), { code: 0, stdout: "(nil)" });
  } finally {
    server.child.kill("SIGTERM");
    const status = await within(server.child.status, 10_000, "server exits");
    await server.stdout.rest();
    assertEquals(status.code, 0, await server.stderr);
  }
});
