// An echo server for the EMFILE test (tests/server_emfile_test.ts), which runs it
// under `ulimit -n 64`. Prints `listening on HOST:PORT`, then one stderr line
// per error (accept errors have no connection id).

import {
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";

const encoder = new TextEncoder();
function flag(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at === -1 ? fallback : Deno.args[at + 1] ?? fallback;
}
const port = Number(flag("--port", "0"));
const acceptErrorDelayMs = Number(flag("--accept-error-delay-ms", "100"));
const server = new TcpServer(
  new TcpServerConfig({ port, acceptErrorDelayMs }),
  {
    onData(ctx, id, data) {
      ctx.sendTo(id, data);
    },
    onError(_ctx, error, id) {
      const code = (error as { code?: string }).code ?? error.name;
      Deno.stderr.writeSync(
        encoder.encode(
          `${id === undefined ? "accept" : `conn ${id}`} error ${code}\n`,
        ),
      );
    },
  },
);
const serving = server.run();
const { hostname, port: bound } = server.addr as Deno.NetAddr;
Deno.stdout.writeSync(encoder.encode(`listening on ${hostname}:${bound}\n`));
using _signals = shutdownOnSignals(server, { timeoutMs: 500 });
await serving;
