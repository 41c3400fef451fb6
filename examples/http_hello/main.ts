// HTTP/1.1 hello world on millrace's TcpServer: keep-alive, pipelining
// (requests answered in order), 400 on malformed requests, 414/431 on an
// oversized request line/header section, 413 on an oversized body.
//
//   deno run --allow-net examples/http_hello/main.ts --hostname 127.0.0.1 --port 8080
//     [--idle-timeout 30000]   # ms without traffic before a connection is closed
//     [--header-timeout-ms 10000]  # ms for a whole request head, else 408
//     [--workers N|auto]       # serve from N Workers (reusePort); N > 1 needs
//                              # Linux and --unstable-net --allow-read
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  type SendOptions,
  type ServerContext,
  shutdownOnSignals,
  TcpServer,
  type WorkerInitInfo,
} from "@millrace/io/net";
import { flag, integerFlag, printListening, serverConfig } from "../_args.ts";
import {
  errorResponse,
  HelloResponses,
  type HttpLimits,
  HttpRequestParser,
} from "./http.ts";

/** Options of {@linkcode helloHandler}. */
export interface HelloHandlerOptions {
  /**
   * Milliseconds a request head may take from its first byte (Node's
   * headersTimeout): the idle timeout alone is re-armed by every byte, so a
   * head trickled in would never end. @default {10000}
   */
  headerTimeoutMs?: number;
}

/** The HTTP hello handler, plus the sweep of overdue request heads. */
export interface HelloHandler extends NetworkHandler<HttpRequestParser> {
  /** Answers 408 and closes every connection whose head is overdue. */
  sweepHeads(ctx: ServerContext<HttpRequestParser>): void;
}

const NO_COPY: SendOptions = { copy: false };

const HEADER_TIMEOUT = errorResponse({
  status: 408,
  message: "request header timeout",
});

/** The HTTP hello handler; `limits` bound what one request may hold. */
export function helloHandler(
  limits: HttpLimits = {},
  options: HelloHandlerOptions = {},
): HelloHandler {
  const headerTimeoutMs = options.headerTimeoutMs ?? 10000;
  // Connections holding an unfinished head, and when it began.
  const heads = new Map<number, number>();
  const overdue = (ctx: ServerContext<HttpRequestParser>, id: number) => {
    heads.delete(id);
    try {
      ctx.sendTo(id, HEADER_TIMEOUT);
    } catch {
      // Write side already shut (a shutdown): just close.
    }
    ctx.closeConnection(id);
  };
  const responses = new HelloResponses();
  // The responses to one read's requests are queued with one sendTo. The
  // usual batch is one request: its cached response (never modified) is
  // queued as is, without a copy. Larger batches are gathered in one scratch
  // buffer for all connections, which sendTo copies.
  let first: Uint8Array | undefined;
  let out = new Uint8Array(16384);
  let outLen = 0;
  let close = false;
  const add = (bytes: Uint8Array): void => {
    if (first !== undefined) {
      const held = first;
      first = undefined;
      add(held);
    }
    if (outLen + bytes.length > out.length) {
      const grown = new Uint8Array(
        Math.max(out.length * 2, outLen + bytes.length),
      );
      grown.set(out.subarray(0, outLen));
      out = grown;
    }
    out.set(bytes, outLen);
    outLen += bytes.length;
  };
  const onRequest = (req: Parameters<typeof responses.for>[0]): void => {
    const res = responses.for(req);
    if (first === undefined && outLen === 0) first = res;
    else add(res);
    if (!req.keepAlive) close = true;
  };
  return {
    onConnect(ctx, id) {
      ctx.setData(id, new HttpRequestParser(limits));
    },
    onData(ctx, id, data) {
      const parser = ctx.getData(id);
      if (!parser) return;
      if (parser.headPending) {
        // Checked on arrival too, not only by the sweep.
        const since = heads.get(id);
        if (
          since !== undefined && performance.now() - since > headerTimeoutMs
        ) {
          overdue(ctx, id);
          return;
        }
      }
      first = undefined;
      outLen = 0;
      close = false;
      const error = parser.push(data, onRequest);
      if (error) {
        add(errorResponse(error));
        close = true;
      }
      const answered = first !== undefined || outLen > 0;
      if (first !== undefined) ctx.sendTo(id, first, NO_COPY);
      else if (outLen > 0) ctx.sendTo(id, out.subarray(0, outLen));
      first = undefined;
      if (close) ctx.closeConnection(id);
      else if (parser.headPending) {
        // A new head (a request was answered, so any older one is done).
        if (answered || !heads.has(id)) heads.set(id, performance.now());
      } else if (heads.size > 0) heads.delete(id);
    },
    onDisconnect(_ctx, id) {
      heads.delete(id);
    },
    sweepHeads(ctx) {
      const now = performance.now();
      for (const [id, since] of heads) {
        if (now - since > headerTimeoutMs) overdue(ctx, id);
      }
    },
  };
}

function sweepEvery(
  handler: HelloHandler,
  ctx: ServerContext<HttpRequestParser>,
  headerTimeoutMs: number,
): ReturnType<typeof setInterval> {
  return setInterval(
    () => handler.sweepHeads(ctx),
    Math.min(1000, Math.max(10, headerTimeoutMs / 4)),
  );
}

/** With `--workers`: each Worker's handler, with its own head sweeper. */
export function init(info: WorkerInitInfo): HelloHandler {
  const { headerTimeoutMs } = info.workerData as { headerTimeoutMs: number };
  const handler = helloHandler({}, { headerTimeoutMs });
  const ctx = info.context as ServerContext<HttpRequestParser>;
  const sweeper = sweepEvery(handler, ctx, headerTimeoutMs);
  info.signal.addEventListener("abort", () => clearInterval(sweeper));
  return handler;
}

if (import.meta.main) {
  const config = serverConfig(Deno.args, (builder) =>
    builder
      .noDelay(true)
      // Idle keep-alive connections (and stalled heads) are closed; a head
      // trickled in under it meets --header-timeout-ms.
      .idleTimeoutMs(Number(flag(Deno.args, "idle-timeout", "30000"))));
  const headerTimeoutMs = integerFlag(Deno.args, "header-timeout-ms", "10000");
  const workers = flag(Deno.args, "workers", "1");
  if (workers !== "1") {
    const server = new TcpServer(config, {
      handlerModule: import.meta.url,
      workers: workers === "auto" ? "auto" : Number(workers),
      workerData: { headerTimeoutMs },
    });
    const serving = server.run();
    using _signals = shutdownOnSignals(server, { timeoutMs: 2000 });
    printListening(await server.listening());
    await serving;
    Deno.exit(0);
  }
  const handler = helloHandler({}, { headerTimeoutMs });
  const server = new TcpServer(config, handler);
  const serving = server.run();
  // Signal handlers first: a SIGTERM right after the first line exits 0.
  using _signals = shutdownOnSignals(server, { timeoutMs: 2000 });
  printListening(server.addr);
  const sweeper = sweepEvery(handler, server.context, headerTimeoutMs);
  Deno.unrefTimer(sweeper);
  await serving;
  clearInterval(sweeper);
}
