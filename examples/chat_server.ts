// Line-based chat: every line goes to everyone else as `nick: text`; join and
// leave notices; `/nick NAME`, `/quit`, `/who`. Framing is the library's
// LineCodec: lines longer than 4 KiB are rejected with an error line and
// skipped up to their "\n" (never buffered forever).
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
  FrameTooLargeError,
  LineCodec,
  type NetworkHandler,
  type ServerContext,
  shutdownOnSignals,
  TcpServer,
  type TcpServerConfig,
} from "@millrace/io/net";
import { flag, printError, printListening, serverConfig } from "./_args.ts";

/** The longest accepted line, in bytes. */
export const MAX_LINE_BYTES = 4096;

/** Per-connection state of the chat. */
export interface ChatUser {
  nick: string;
}

/** The chat's context: user data per connection, lines out. */
type Ctx = ServerContext<ChatUser, string | Uint8Array>;

/** The chat's framing: UTF-8 lines, over-long ones dropped with a notice. */
export function chatCodec(): LineCodec<true> {
  return new LineCodec({
    decodeUtf8: true,
    maxFrameSize: MAX_LINE_BYTES,
    overlong: "discard",
  });
}

const NICK = /^[A-Za-z0-9_\-]{1,32}$/;

function nickTaken(ctx: Ctx, nick: string): boolean {
  for (const id of ctx.connectionIds()) {
    if (ctx.getData(id)?.nick === nick) return true;
  }
  return false;
}

function onLine(ctx: Ctx, id: number, line: string): void {
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

/** Creates the chat protocol's handler; use it with {@linkcode chatCodec}. */
export function createChatHandler(
  options: { log?: (line: string) => void } = {},
): NetworkHandler<ChatUser, string, string | Uint8Array> {
  const log = options.log ?? (() => {});
  return {
    onConnect(ctx, id) {
      let nick = `guest${id}`;
      while (nickTaken(ctx, nick)) nick += "_";
      ctx.setData(id, { nick });
      ctx.sendTo(id, `* welcome ${nick}; /nick NAME, /who, /quit\n`);
      ctx.broadcast(`* ${nick} joined\n`, { except: id });
      log(`${nick} joined`);
    },
    onFrame(ctx, id, line) {
      onLine(ctx, id, line);
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
    onError(ctx, error, id) {
      // With overlong: "discard", the codec reports a dropped line here and
      // the connection stays open.
      if (
        error instanceof FrameTooLargeError && id !== undefined && ctx.has(id)
      ) {
        ctx.sendTo(
          id,
          `error: line too long (max ${MAX_LINE_BYTES} bytes), dropped\n`,
        );
        return;
      }
      log(`connection ${id ?? "-"}: ${error.message}`);
    },
  };
}

/** The chat server on `config` (also used by the demo and the tests). */
export function createChatServer(
  config: TcpServerConfig,
  options: { log?: (line: string) => void } = {},
): TcpServer<ChatUser, string, string | Uint8Array> {
  return new TcpServer(config, createChatHandler(options), {
    codec: chatCodec(),
  });
}

if (import.meta.main) {
  const config = serverConfig(Deno.args);
  const workers = flag(Deno.args, "workers", "1");
  const server = workers === "1"
    ? createChatServer(config, { log: printError })
    : new TcpServer(config, {
      handlerModule: import.meta.url,
      workers: workers === "auto" ? "auto" : Number(workers),
    });
  const serving = server.run();
  printListening(await server.listening());
  // First signal: graceful (peers get end of stream and `--grace-ms` to
  // leave); second signal: forced.
  using _signals = shutdownOnSignals(server, {
    timeoutMs: Number(flag(Deno.args, "grace-ms", "2000")),
  });
  await serving;
}

/** The handler of each Worker with `--workers`... */
export default createChatHandler({ log: printError });
/** ...and its framing (a codec is made per Worker). */
export { chatCodec as codec };
