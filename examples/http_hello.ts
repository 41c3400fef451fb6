// HTTP/1.1 hello world on millrace's TcpServer: keep-alive, pipelining
// (requests answered in order), 400 on malformed requests, 414/431 on an
// oversized request line/header section, 413 on an oversized body.
//
//   deno run --allow-net examples/http_hello.ts --hostname 127.0.0.1 --port 8080
//     [--idle-timeout 30000]   # ms without traffic before a connection is closed
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully (a second signal forces) and it exits 0.

import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
} from "@millrace/io/net";
import { flag, formatAddr, portFlag, print } from "./_args.ts";
import {
  errorResponse,
  HelloResponses,
  type HttpLimits,
  HttpRequestParser,
} from "./_http.ts";

/** The HTTP hello handler; `limits` bound what one request may hold. */
export function helloHandler(
  limits: HttpLimits = {},
): NetworkHandler<HttpRequestParser> {
  const responses = new HelloResponses();
  // One scratch buffer for all connections: responses to a batch of
  // pipelined requests are gathered and queued with one sendTo (which copies).
  let out = new Uint8Array(16384);
  let outLen = 0;
  let close = false;
  const add = (bytes: Uint8Array): void => {
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
    add(responses.for(req));
    if (!req.keepAlive) close = true;
  };
  return {
    onConnect(ctx, id) {
      ctx.setData(id, new HttpRequestParser(limits));
    },
    onData(ctx, id, data) {
      const parser = ctx.getData(id);
      if (!parser) return;
      outLen = 0;
      close = false;
      const error = parser.push(data, onRequest);
      if (error) {
        add(errorResponse(error));
        close = true;
      }
      if (outLen > 0) ctx.sendTo(id, out.subarray(0, outLen));
      if (close) ctx.closeConnection(id);
    },
  };
}

if (import.meta.main) {
  const config = TcpServerConfig.builder()
    .hostname(flag(Deno.args, "hostname", "127.0.0.1"))
    .port(portFlag(Deno.args, "0"))
    .noDelay(true)
    // Idle keep-alive connections (and slow-loris heads) are closed.
    .idleTimeout(Number(flag(Deno.args, "idle-timeout", "30000")))
    .build();
  const server = new TcpServer(config, helloHandler());
  const serving = server.run();
  // Signal handlers first: a SIGTERM right after the first line exits 0.
  using _signals = shutdownOnSignals(server, { timeoutMs: 2000 });
  print(`listening on ${formatAddr(server.addr)}`);
  await serving;
}
