// examples/upload_server.ts: the request line is read on the EventLoop, the
// body on a TcpStream after `deregister()` hands the connection over (the
// read in flight and the queued `READY` go along). Every byte of the body
// must reach the checksum, in order, however it is split.
import { assertEquals } from "@std/assert";
import { fnv1a32 } from "../examples/upload_server.ts";
import { startExample } from "./_helpers.ts";
import {
  decoder,
  encoder,
  HOST,
  pattern,
  readAll,
  within,
  writeAll,
} from "./_helpers.ts";

/** Sends `parts` (with a pause between them) and returns the whole reply. */
async function upload(port: number, parts: Uint8Array[]): Promise<string> {
  using conn = await Deno.connect({ hostname: HOST, port });
  const reading = readAll(conn);
  for (const part of parts) {
    await writeAll(conn, part);
    await new Promise((r) => setTimeout(r, 5));
  }
  return decoder.decode(await within(reading, 10_000, "the reply"));
}

const hex = (n: number) => n.toString(16).padStart(8, "0");

Deno.test("upload example: the body crosses from the loop to a stream intact", async () => {
  await using server = await startExample("upload_server.ts", {
    args: ["--deadline-ms", "3000"],
    permissions: ["-A"],
  });
  const body = pattern(300_000, 7);
  const expected = `READY\nOK ${body.length} ${hex(fnv1a32(body))}\n`;
  const line = encoder.encode(`PUT a.bin ${body.length}\n`);
  // Line and body in one write; line alone then the body; the line split
  // and the body's start glued to it; the body in many small pieces.
  const glued = new Uint8Array(line.length + body.length);
  glued.set(line);
  glued.set(body, line.length);
  const splits: Uint8Array[][] = [
    [glued],
    [line, body],
    [
      line.subarray(0, 5),
      glued.subarray(5, line.length + 100),
      body.subarray(100),
    ],
    [
      line,
      ...Array.from(
        { length: 30 },
        (_, i) => body.subarray(i * 10_000, (i + 1) * 10_000),
      ),
    ],
  ];
  for (const parts of splits) {
    assertEquals(await upload(server.port, parts), expected);
  }
  // Many at once.
  const replies = await Promise.all(
    Array.from({ length: 20 }, () => upload(server.port, [line, body])),
  );
  for (const reply of replies) assertEquals(reply, expected);
  assertEquals(server.alive(), true);
});

Deno.test("upload example: the stream's deadline, quota and bad requests", async () => {
  await using server = await startExample("upload_server.ts", {
    args: ["--deadline-ms", "200", "--max-bytes", "1000"],
    permissions: ["-A"],
  });
  // Promises 1000 bytes, sends 10, then waits: the deadline ends it.
  assertEquals(
    await upload(server.port, [encoder.encode("PUT slow 1000\n0123456789")]),
    "READY\nERR timeout\n",
  );
  assertEquals(
    await upload(server.port, [encoder.encode("GET x\n")]),
    "ERR bad request\n",
  );
  // "slow" reserved its 1000 bytes: a second upload is over quota.
  assertEquals(
    await upload(server.port, [encoder.encode("PUT slow 1\nx")]),
    "READY\nERR quota\n",
  );
  assertEquals(
    await upload(server.port, [encoder.encode("PUT other 3\nabc")]),
    `READY\nOK 3 ${hex(fnv1a32(encoder.encode("abc")))}\n`,
  );
  server.child.kill("SIGTERM");
  assertEquals((await server.child.status).code, 0);
});
