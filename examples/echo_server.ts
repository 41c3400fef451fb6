// Echo server: writes back every byte it receives.
//
//   deno run --allow-net examples/echo_server.ts --hostname 127.0.0.1 --port 7000
//
// Behind a load balancer (see examples/haproxy/):
//
//   deno run --allow-net examples/echo_server.ts --port 7001 \
//     --proxy-protocol v2 --health-port 7101 --log-peers --drain
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
} from "@millrace/io/net";
import {
  flag,
  formatAddr,
  print,
  printError,
  printListening,
  serverConfig,
} from "./_args.ts";

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
  const config = serverConfig(Deno.args);
  // --log-peers: one `peer CLIENT -> SERVER` line per connection, with the
  // addresses a PROXY header carried (what a test behind HAProxy checks).
  const handler: NetworkHandler = Deno.args.includes("--log-peers")
    ? {
      ...echoHandler,
      onConnect(ctx, id) {
        print(
          `peer ${formatAddr(ctx.remoteAddr(id))} -> ${
            formatAddr(ctx.localAddr(id))
          }`,
        );
      },
    }
    : echoHandler;
  const server = new TcpServer(config, handler);
  const serving = server.run();
  printListening(server.addr);
  if (config.healthPort !== undefined) {
    print(`health on ${formatAddr(server.healthAddr)}`);
  }
  // First signal: graceful; second signal: forced. Peers get end of stream
  // and `--grace-ms` to leave, or with `--drain` keep being served (no end
  // of stream) until they leave or `--grace-ms` passes, as a load balancer
  // drains a server.
  const drain = Deno.args.includes("--drain");
  using _signals = shutdownOnSignals({
    shutdown: (options) =>
      server.shutdown({ ...options, ...(drain ? { closeWrites: false } : {}) }),
  }, {
    timeoutMs: Number(flag(Deno.args, "grace-ms", "2000")),
    onSignal(signal) {
      printError(`${signal}: shutting down`);
    },
  });
  await serving;
}
