// deno-lint-ignore-file no-console
// Child process for tests/stream_emfile_test.ts: an accept loop on TcpListener
// that holds every connection, run under `ulimit -n 64` so that accept() runs
// out of descriptors. Commands on stdin, one per line: "stats", "release"
// (close the held connections), "exit".
import { isDescriptorExhaustion } from "../../_internal/accept_policy.ts";
import { Canceller } from "../../net/stream/canceller.ts";
import { TcpListener } from "../../net/stream/tcp_listener.ts";
import type { TcpStream } from "../../net/stream/tcp_stream.ts";

// Registering a signal listener before descriptors run out matters: Deno
// 2.9.6 sets up its signal driver (a socket pair) lazily, ~0.3-1 s after start,
// and panics ("Too many open files", ext/signals/lib.rs) if that happens while
// exhausted. Servers that call shutdownOnSignals() at start are immune.
using canceller = Canceller.fromSignals(["SIGTERM"]);

let errors = 0;
let exhausted = 0;
let accepted = 0;
const held: TcpStream[] = [];
const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
  canceller,
  acceptErrorDelayMs: 100,
  onError(error) {
    errors++;
    if (isDescriptorExhaustion(error)) exhausted++;
  },
});
console.log(`listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);

const serving = (async () => {
  try {
    for await (const stream of listener) {
      accepted++;
      held.push(stream);
    }
  } catch (error) {
    if (!canceller.cancelled) throw error;
  }
})();

const decoder = new TextDecoder();
const buffer = new Uint8Array(1024);
let pending = "";
commands: while (true) {
  const n = await Deno.stdin.read(buffer);
  if (n === null) break;
  pending += decoder.decode(buffer.subarray(0, n));
  let index;
  while ((index = pending.indexOf("\n")) !== -1) {
    const command = pending.slice(0, index);
    pending = pending.slice(index + 1);
    if (command === "stats") {
      console.log(
        `stats accepted=${accepted} held=${held.length} errors=${errors} exhausted=${exhausted}`,
      );
    } else if (command === "release") {
      for (const stream of held.splice(0)) stream.close();
      console.log("released");
    } else if (command === "exit") {
      break commands;
    }
  }
}
listener.close();
await serving;
for (const stream of held.splice(0)) stream.close();
console.log("bye");
