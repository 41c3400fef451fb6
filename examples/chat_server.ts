// Line-based chat: every line goes to everyone else as `nick: text`; join and
// leave notices; `/nick NAME`, `/quit`, `/who`. Lines longer than 4 KiB are
// rejected with an error line and skipped (never buffered forever).
//
//   deno run --allow-net examples/chat_server.ts --port 7000
//   socat - TCP:127.0.0.1:7000
//
// `--workers N` (or `auto`) serves from N Workers, each with its own loop and
// a reusePort listener; chat lines and notices are broadcast across them.
// N > 1 needs Linux and `deno run --unstable-net --allow-read --allow-net`.
// Nicks of users on other Workers are not checked for clashes.
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  type ServerContext,
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";
import { type LineSink, LineSplitter } from "./_line_splitter.ts";
import { flag, formatAddr, portFlag, print, printError } from "./_args.ts";

/** The longest accepted line, in bytes. */
export const MAX_LINE_BYTES = 4096;

/** Per-connection state of the chat. */
export interface ChatUser {
  nick: string;
  splitter: LineSplitter;
  sink: LineSink;
}

const NICK = /^[A-Za-z0-9_\-]{1,32}$/;

function nickTaken(ctx: ServerContext<ChatUser>, nick: string): boolean {
  for (const id of ctx.connectionIds()) {
    if (ctx.getData(id)?.nick === nick) return true;
  }
  return false;
}

function onLine(ctx: ServerContext<ChatUser>, id: number, line: string): void {
  // Lines after "/quit" in the same chunk find the connection gone.
  if (!ctx.has(id)) return;
  const user = ctx.getData(id)!;
  if (line.startsWith("/")) {
    const [command, ...rest] = line.slice(1).split(" ");
    const arg = rest.join(" ").trim();
    switch (command) {
      case "nick":
        if (!NICK.test(arg)) {
          ctx.sendTo(id, "error: a nick is 1-32 letters, digits, '_' or '-'\n");
        } else if (nickTaken(ctx, arg)) {
          ctx.sendTo(id, `error: nick '${arg}' is taken\n`);
        } else {
          const old = user.nick;
          user.nick = arg;
          ctx.broadcast(`* ${old} is now ${arg}\n`);
        }
        return;
      case "quit":
        ctx.sendTo(id, "* bye\n");
        ctx.closeConnection(id, { flush: true });
        return;
      case "who":
        ctx.sendTo(
          id,
          `* online: ${
            ctx.connectionIds().map((i) => ctx.getData(i)?.nick ?? `guest${i}`)
              .join(", ")
          }\n`,
        );
        return;
      default:
        ctx.sendTo(id, `error: unknown command '/${command}'\n`);
        return;
    }
  }
  if (line.length === 0) return;
  ctx.broadcast(`${user.nick}: ${line}\n`, { except: id });
}

/** Creates the chat protocol's handler (also used by the demo). */
export function createChatHandler(
  options: { log?: (line: string) => void } = {},
): NetworkHandler<ChatUser> {
  const log = options.log ?? (() => {});
  return {
    onConnect(ctx, id) {
      let nick = `guest${id}`;
      while (nickTaken(ctx, nick)) nick += "_";
      const user: ChatUser = {
        nick,
        splitter: new LineSplitter(MAX_LINE_BYTES),
        sink: {
          line: (text) => onLine(ctx, id, text),
          tooLong: () => {
            if (!ctx.has(id)) return;
            ctx.sendTo(
              id,
              `error: line too long (max ${MAX_LINE_BYTES} bytes), dropped\n`,
            );
          },
        },
      };
      ctx.setData(id, user);
      ctx.sendTo(id, `* welcome ${nick}; /nick NAME, /who, /quit\n`);
      ctx.broadcast(`* ${nick} joined\n`, { except: id });
      log(`${nick} joined`);
    },
    onData(ctx, id, data) {
      const user = ctx.getData(id)!;
      user.splitter.push(data, user.sink);
    },
    onDisconnect(ctx, id, reason) {
      // The connection already left connectionIds(), so the broadcast does
      // not reach it; its user data is still readable during this callback.
      const nick = ctx.getData(id)?.nick ?? `guest${id}`;
      ctx.broadcast(`* ${nick} left\n`);
      log(`${nick} left (${reason})`);
    },
    onShutdown(ctx) {
      ctx.broadcast("* server shutting down\n");
    },
    onError(_ctx, error, id) {
      log(`connection ${id ?? "-"}: ${error.message}`);
    },
  };
}

if (import.meta.main) {
  const config = TcpServerConfig.builder()
    .hostname(flag(Deno.args, "hostname", "127.0.0.1"))
    .port(portFlag(Deno.args, "0"))
    .build();
  const workers = flag(Deno.args, "workers", "1");
  const server = workers === "1"
    ? new TcpServer(config, createChatHandler({ log: printError }))
    : new TcpServer(config, {
      handlerModule: import.meta.url,
      workers: workers === "auto" ? "auto" : Number(workers),
    });
  const serving = server.run();
  print(`listening on ${formatAddr(await server.listening())}`);
  // First signal: graceful (peers get end of stream and `--grace-ms` to
  // leave); second signal: forced.
  using _signals = shutdownOnSignals(server, {
    timeoutMs: Number(flag(Deno.args, "grace-ms", "2000")),
  });
  await serving;
}

/** The handler of each Worker with `--workers`. */
export default createChatHandler({ log: printError });
