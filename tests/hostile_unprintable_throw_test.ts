// Regression tests (found by the hostile suite, fixed in be21ca2): a callback
// that throws a value String() cannot convert (a null-prototype object, an
// object whose toString throws) once escaped the server's catch blocks, so
// from onConnect it closed the LISTENER (every later peer refused) and from
// onData it left the connection counted forever. It must cost one
// connection, like any other throw.
import { assertEquals } from "@std/assert";
import {
  connect,
  echoOnce,
  encoder,
  readToEnd,
  startServer,
  waitFor,
  within,
  writeAll,
} from "./testdata/hostile_helpers.ts";

const UNPRINTABLE: [string, () => unknown][] = [
  ["a null-prototype object", () => Object.create(null)],
  ["an object whose toString throws", () => ({
    toString() {
      throw new Error("no");
    },
  })],
  ["a revoked proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  }],
];

for (const [what, thrown] of UNPRINTABLE) {
  Deno.test(`hostile handler: onConnect throwing ${what} costs one connection, not the listener`, async () => {
    await using h = startServer({
      onConnect(_ctx, id) {
        if (id === 1) throw thrown();
      },
      onData(ctx, id, data) {
        ctx.sendTo(id, data);
      },
    });
    const victim = await connect(h.port);
    try {
      await within(readToEnd(victim), 5000, "victim cut");
    } finally {
      victim.close();
    }
    await waitFor(() => h.seen.connects.includes(1), 5000, "victim accepted");
    const next = await connect(h.port);
    try {
      await within(echoOnce(next, "next"), 5000, "next peer served");
    } finally {
      next.close();
    }
    await waitFor(() => h.server.connectionCount === 0, 5000, "count 0");
  });

  Deno.test(`hostile handler: onData throwing ${what} removes the connection`, async () => {
    await using h = startServer({
      onData(ctx, id, data) {
        if (id === 1) throw thrown();
        ctx.sendTo(id, data);
      },
    }, { maxConnections: 1 });
    const victim = await connect(h.port);
    try {
      await writeAll(victim, encoder.encode("x"));
      await within(readToEnd(victim), 5000, "victim cut");
    } finally {
      victim.close();
    }
    // onDisconnect("handler error") and the slot freed (maxConnections 1).
    await waitFor(() => h.server.connectionCount === 0, 3000, "count 0");
    assertEquals(h.reasonOf(1), "handler error");
    const next = await connect(h.port);
    try {
      await within(echoOnce(next, "next"), 5000, "next peer served");
    } finally {
      next.close();
    }
  });
}
