// Reproducers of two EventLoop hand-over defects found by the model test
// (tests/reactor_model_test.ts, which steers around them until they are
// fixed: see OWN_BUFFER_AFTER_HAND_OVER and HAND_OVER_WITH_QUEUED_WRITES).
//
//   deno run -A tests/testdata/repro_handover.ts echo      # crashes today
//   deno run -A tests/testdata/repro_handover.ts deferred  # stalls today
//
// echo:     a handler that writes the event's own `data` after a hand-over
//           (deregister + register) kills the process: the adopted read's
//           buffer, which is not the pool's, is released into the pool
//           (BufferPool.#keep: "Cannot read properties of undefined").
// deferred: a connection handed over while a write is queued delivers its
//           first chunk and then never reads again: the next read is
//           deferred behind the previous owner's write, and that write's
//           completion does not issue it.
//
// Exits 0 when the loop behaves, 1 when the defect shows.

import { type Event, EventLoop, Interest } from "../../reactor/mod.ts";

const which = Deno.args[0] ?? "deferred";
const loop = new EventLoop();
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const accepting = listener.accept();
const peer = await Deno.connect({
  hostname: "127.0.0.1",
  port: listener.addr.port,
});
const conn = await accepting;
let got = 0, eof = false;
const handler = (ev: Event, l: EventLoop): void => {
  if (ev.data) {
    got += ev.data.length;
    if (which === "echo") l.write(ev.token, ev.data);
  }
  if (ev.readClosed) eof = true;
};
loop.register(conn, 1, Interest.READABLE, handler);
const running = loop.run();
if (which === "deferred") loop.write(1, new Uint8Array([1]));
const source = loop.deregister(1);
loop.register(source, 2, Interest.READABLE, handler);
await peer.write(new Uint8Array([1]));
await new Promise((r) => setTimeout(r, 100));
await peer.write(new Uint8Array([2, 3]));
await peer.closeWrite();
await new Promise((r) => setTimeout(r, 500));
const ok = got === 3 && eof;
// deno-lint-ignore no-console
console.log(
  `${which}: delivered ${got} of 3 bytes, end of stream ${
    eof ? "delivered" : "not delivered"
  }: ${ok ? "ok" : "DEFECT"}`,
);
peer.close();
await loop.close(2);
loop.stop();
await running;
await loop[Symbol.asyncDispose]();
listener.close();
Deno.exit(ok ? 0 : 1);
