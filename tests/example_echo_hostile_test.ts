// Hostile peers against the two echo examples run as subprocesses
// (examples/echo_server.ts on TcpServer, examples/scratch_echo_server.ts on
// the bare reactor): half-closing peers, peers that send without reading,
// resets with data in flight, many peers at once. Every byte must come back
// to the peers that stay; the server must stay alive with its RSS bounded.
import { assert } from "@std/assert";
import {
  assertHalfClosedEcho,
  assertPacedFlood,
  connect,
  echoOnNewConnection,
  pattern,
  readExactly,
  sleep,
  startExample,
  writeAll,
} from "./_helpers.ts";

const SERVERS = ["echo_server.ts", "scratch_echo_server.ts"];

for (const file of SERVERS) {
  Deno.test(`hostile echo (${file}): half-closing peers get every byte back, then end of stream`, async () => {
    await using ex = await startExample(file, { permissions: ["-A"] });
    const sizes = [0, 1, 1000, 65536, 65537, 3 * 1024 * 1024];
    await Promise.all(
      sizes.map((size, i) => assertHalfClosedEcho(ex.port, pattern(size, i))),
    );
    await echoOnNewConnection(ex.port, "after");
    assert(ex.alive());
  });

  Deno.test(`hostile echo (${file}): a peer that sends and never reads is paced; RSS bounded; resets do not hurt`, async () => {
    await using ex = await startExample(file, { permissions: ["-A"] });
    await echoOnNewConnection(ex.port, "warm");
    await assertPacedFlood(
      ex,
      pattern(256 * 1024, 1),
      { maxBytes: 512 * 1024 * 1024, sampleEvery: 16, rssKiB: ex.rssKiB() },
      () => echoOnNewConnection(ex.port, "while flooded"),
    );
    // Peers that vanish with echoes in flight.
    for (let i = 0; i < 20; i++) {
      const c = await connect(ex.port);
      await writeAll(c, pattern(200_000, i));
      await readExactly(c, 10);
      c.close();
    }
    await sleep(50);
    await echoOnNewConnection(ex.port, "after resets");
    assert(ex.alive());
  });
}
