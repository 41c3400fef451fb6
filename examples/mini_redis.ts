// A small Redis-compatible server on millrace's TcpServer: RESP2 (multibulk
// and inline commands, pipelining), PING, ECHO, SET (EX/PX/NX/XX/KEEPTTL),
// GET, DEL, EXISTS, INCR/DECR, EXPIRE, TTL/PTTL. Unknown commands get
// `-ERR unknown command ...`; a malformed frame gets `-ERR Protocol error: ...`
// and the connection is closed, as redis-server does; bulk strings are capped
// (`--max-bulk`, default 1 MiB).
//
//   deno run --allow-net examples/mini_redis.ts --hostname 127.0.0.1 --port 6380
//   redis-cli -p 6380 SET greeting hello EX 60
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
import { type RespLimits, RespParser, RespWriter } from "./_resp.ts";
import { MiniRedisStore } from "./_redis_store.ts";

/** The mini-redis handler over one shared keyspace. */
export function miniRedisHandler(
  store: MiniRedisStore,
  limits: RespLimits = {},
): NetworkHandler<RespParser> {
  // One writer for all connections: the replies to one read's pipelined
  // commands are gathered and queued with one sendTo (which copies).
  const out = new RespWriter();
  let close = false;
  const onCommand = (args: Uint8Array[]): boolean => {
    if (store.execute(args, out) === "close") {
      close = true;
      return false;
    }
    return true;
  };
  return {
    onConnect(ctx, id) {
      ctx.setData(id, new RespParser(limits));
    },
    onData(ctx, id, data) {
      const parser = ctx.getData(id);
      if (!parser) return;
      out.reset();
      close = false;
      const error = parser.push(data, onCommand);
      if (error) {
        out.error(`ERR ${error.message}`);
        close = true;
      }
      const replies = out.view();
      if (replies.length > 0) ctx.sendTo(id, replies);
      if (close) ctx.closeConnection(id);
    },
  };
}

if (import.meta.main) {
  const maxBulk = Number(flag(Deno.args, "max-bulk", "1048576"));
  if (!Number.isInteger(maxBulk) || maxBulk < 1) {
    printError(
      `error: --max-bulk must be a positive integer: received "${maxBulk}"`,
    );
    Deno.exit(2);
  }
  const store = new MiniRedisStore();
  const config = TcpServerConfig.builder()
    .hostname(flag(Deno.args, "hostname", "127.0.0.1"))
    .port(portFlag(Deno.args, "0"))
    .noDelay(true)
    .build();
  const server = new TcpServer(
    config,
    miniRedisHandler(store, { maxBulkLength: maxBulk }),
  );
  const serving = server.run();
  // Signal handlers first: a SIGTERM right after the first line exits 0.
  using _signals = shutdownOnSignals(server, { timeoutMs: 2000 });
  print(`listening on ${formatAddr(server.addr)}`);
  // Active expiry (keys never read again would otherwise stay forever).
  const sweeper = setInterval(() => store.sweep(), 100);
  Deno.unrefTimer(sweeper);
  await serving;
  clearInterval(sweeper);
}
