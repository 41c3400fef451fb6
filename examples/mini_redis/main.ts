// A small Redis-compatible server on millrace's TcpServer: RESP2 (multibulk
// and inline commands, pipelining), PING, ECHO, SET (EX/PX/NX/XX/KEEPTTL),
// GET, DEL, EXISTS, INCR/DECR, EXPIRE, TTL/PTTL. Unknown commands get
// `-ERR unknown command ...`; a malformed frame gets `-ERR Protocol error: ...`
// and the connection is closed, as redis-server does; bulk strings are capped
// (`--max-bulk`, default 1 MiB), and so are the bytes held for one unfinished
// command (`--max-query-buffer`, default max-bulk + 4 MiB).
//
//   deno run --allow-net examples/mini_redis/main.ts --hostname 127.0.0.1 --port 6380
//   redis-cli -p 6380 SET greeting hello EX 60
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  type SendOptions,
  type ServerContext,
  shutdownOnSignals,
  TcpServer,
} from "@millrace/io/net";
import { integerFlag, printListening, serverConfig } from "../_args.ts";
import { type RespLimits, RespParser, RespWriter } from "./resp.ts";
import { MiniRedisStore } from "./store.ts";

// Replies gathered beyond this are queued before the next command runs.
const FLUSH_AT = 65536;
const NOTHING = new Uint8Array(0);
const NO_COPY: SendOptions = { copy: false };

/** The mini-redis handler over one shared keyspace. */
export function miniRedisHandler(
  store: MiniRedisStore,
  limits: RespLimits = {},
): NetworkHandler<RespParser> {
  // The connection being served (callbacks never nest).
  let ctx!: ServerContext<RespParser>;
  let id = 0;
  let parser!: RespParser;
  let close = false;
  // Set when sendTo reports the queue above the high-water mark: the server
  // stops reading this peer, and the handler stops running its already
  // received commands until onWritable, so a pipeline of GETs is paced by
  // the peer's reading instead of piling up replies.
  let full = false;
  // Set when a sendTo cut the peer as a slow consumer: nothing more to send.
  let gone = false;
  const send = (bytes: Uint8Array, options?: SendOptions): void => {
    // A reply goes out whole even over the high-water mark (a bulk's header
    // and bytes are separate sends): `full` only stops the next command.
    if (bytes.length === 0 || gone || ctx.sendTo(id, bytes, options)) return;
    full = true;
    gone = !ctx.has(id);
  };
  // One writer for all connections: the replies to one read's pipelined
  // commands are gathered and queued with one sendTo (which copies), but a
  // large bulk value is queued on its own (no copy into the writer).
  const out = new RespWriter(send);
  const onCommand = (args: Uint8Array[]): boolean => {
    if (store.execute(args, out) === "close") {
      close = true;
      parser.stop();
      return false;
    }
    if (out.length >= FLUSH_AT) {
      send(out.view());
      out.reset();
    }
    return !full;
  };
  const serve = (
    c: ServerContext<RespParser>,
    i: number,
    data: Uint8Array,
  ): void => {
    const p = c.getData(i);
    if (!p) return;
    ctx = c;
    id = i;
    parser = p;
    out.reset();
    close = false;
    full = gone = false;
    const error = p.push(data, onCommand);
    if (error) {
      out.error(`ERR ${error.message}`);
      close = true;
    }
    // A lone constant reply (+PONG, +OK, ...) is shared and never modified:
    // queued without a copy (the usual case without pipelining).
    const constant = out.constant;
    if (constant !== undefined) send(constant, NO_COPY);
    else send(out.view());
    if (close) c.closeConnection(i);
  };
  return {
    onConnect(ctx, id) {
      ctx.setData(id, new RespParser(limits));
    },
    onData: serve,
    onWritable(ctx, id) {
      // Commands held while the queue was full: go on with them.
      if ((ctx.getData(id)?.bufferedBytes ?? 0) > 0) serve(ctx, id, NOTHING);
    },
  };
}

if (import.meta.main) {
  const maxBulk = integerFlag(Deno.args, "max-bulk", "1048576");
  // At least --max-bulk.
  const maxQuery = integerFlag(
    Deno.args,
    "max-query-buffer",
    String(maxBulk + 4 * 1048576),
    { min: maxBulk },
  );
  const store = new MiniRedisStore();
  const config = serverConfig(Deno.args, (builder) =>
    builder
      .noDelay(true)
      // One reply may hold a whole --max-bulk value on top of a queue at the
      // high-water mark (commands stop there): not a slow consumer.
      .maxWriteBuffer(maxBulk * 2 + 1048576));
  const server = new TcpServer(
    config,
    miniRedisHandler(store, {
      maxBulkLength: maxBulk,
      maxQueryBuffer: maxQuery,
    }),
  );
  const serving = server.run();
  // Signal handlers first: a SIGTERM right after the first line exits 0.
  using _signals = shutdownOnSignals(server, { timeoutMs: 2000 });
  printListening(server.addr);
  // Active expiry (keys never read again would otherwise stay forever).
  const sweeper = setInterval(() => store.sweep(), 100);
  Deno.unrefTimer(sweeper);
  await serving;
  clearInterval(sweeper);
}
