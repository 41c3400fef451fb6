// An echo server for the EMFILE test (tests/net_emfile_test.ts), which runs it
// under `ulimit -n 64`. Prints `listening on HOST:PORT`, then one stderr line
// per error (accept errors have no connection id).

import {
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";

const encoder = new TextEncoder();
const port = Number(Deno.args[Deno.args.indexOf("--port") + 1] ?? "0");
const server = new TcpServer(new TcpServerConfig({ port }), {
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
});
const serving = server.run();
const { hostname, port: bound } = server.addr as Deno.NetAddr;
Deno.stdout.writeSync(encoder.encode(`listening on ${hostname}:${bound}\n`));
using _signals = shutdownOnSignals(server, { timeoutMs: 500 });
await serving;
