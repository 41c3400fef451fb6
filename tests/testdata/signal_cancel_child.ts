// deno-lint-ignore-file no-console
// Child process for tests/stream_signal_test.ts: pending stream operations
// cancelled by a real SIGINT through Canceller.fromSignals().
import { Canceller } from "../../net/stream/canceller.ts";
import { CancelledError } from "../../net/errors.ts";
import { TcpListener } from "../../net/stream/tcp_listener.ts";
import { TcpStream } from "../../net/stream/tcp_stream.ts";

using canceller = Canceller.fromSignals(["SIGINT"], {
  onSignal: (signal) => console.log(`signal ${signal}`),
});
using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
  canceller,
});
using client = await TcpStream.connect(listener.addr, { canceller });
using server = await listener.accept();

const describe = (error: unknown): string =>
  error instanceof CancelledError
    ? `CancelledError (${(error.cause as Error).message})`
    : String(error);
const read = client.read(new Uint8Array(16)).then(
  (n) => `read resolved ${n}`,
  (error) => `read rejected ${describe(error)}`,
);
const readLine = server.readUntil(new Uint8Array([10])).then(
  (line) => `readUntil resolved ${line}`,
  (error) => `readUntil rejected ${describe(error)}`,
);
const accept = listener.accept().then(
  () => "accept resolved",
  (error) => `accept rejected ${describe(error)}`,
);
console.log("ready");
for (const line of await Promise.all([read, readLine, accept])) {
  console.log(line);
}
const late = await client.writeAll(new Uint8Array([1])).then(
  () => "late write resolved",
  (error) => `late write rejected ${describe(error)}`,
);
console.log(late);
