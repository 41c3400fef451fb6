// Echo server: writes back every byte it receives.
//
//   deno run --allow-net examples/echo_server.ts --hostname 127.0.0.1 --port 7000
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";
import { flag, formatAddr, portFlag, print, printError } from "./_args.ts";

/** The echo protocol: every byte goes straight back. */
export const echoHandler: NetworkHandler = {
  onData(ctx, id, data) {
    ctx.sendTo(id, data);
  },
  onError(_ctx, error, id) {
    printError(`connection ${id ?? "-"}: ${error.message}`);
  },
};

if (import.meta.main) {
  const config = TcpServerConfig.builder()
    .hostname(flag(Deno.args, "hostname", "127.0.0.1"))
    .port(portFlag(Deno.args, "0"))
    .build();
  const server = new TcpServer(config, echoHandler);
  const serving = server.run();
  print(`listening on ${formatAddr(server.addr)}`);
  // First signal: graceful (peers get end of stream and `--grace-ms` to
  // leave); second signal: forced.
  using _signals = shutdownOnSignals(server, {
    timeoutMs: Number(flag(Deno.args, "grace-ms", "2000")),
  });
  await serving;
}
