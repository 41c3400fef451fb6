/**
 * An echo server written against the reactor directly, in the manner of
 * mill-io's "scratch" example: one listener source, one handler per
 * connection, bytes written back as they arrive.
 *
 * Usage:
 *   deno run --allow-net examples/scratch_echo_server.ts [--hostname 127.0.0.1] [--port 0]
 *
 * Prints `listening on HOST:PORT` first; SIGINT/SIGTERM stop it with exit 0.
 *
 * @module
 */
import { type Event, EventLoop, Interest } from "@millrace/io/reactor";

function flag(name: string, fallback: string): string {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name && i + 1 < args.length) return args[i + 1]!;
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return fallback;
}

/**
 * The handler of every connection: echo what arrives, stop reading from a
 * peer whose queue is over the high-water mark until it drains, close
 * gracefully at the peer's end of stream. (Exported for
 * `net/server/_connection_table_bench.ts`, which runs it on fake
 * connections.)
 *
 * @param event What the connection has to deliver.
 * @param loop The loop it is registered on.
 */
export function onConnection(event: Event, loop: EventLoop): void {
  if (event.data !== undefined) {
    // The loop takes the receive buffer over: no copy. A peer that sends
    // without reading fills our queue: stop reading from it until it drains.
    if (!loop.write(event.token, event.data)) {
      loop.reregister(event.token, Interest.WRITABLE);
    }
  } else if (event.writable) {
    loop.reregister(event.token, Interest.READABLE);
  } else if (event.readClosed) {
    void loop.close(event.token, { flush: true });
  }
  // Errors (reset, broken pipe) close the connection by themselves.
}

if (import.meta.main) {
  const hostname = flag("--hostname", "127.0.0.1");
  const port = Number(flag("--port", "0"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot start echo server as '--port' must be an integer from 0 to 65535: received '${
        flag("--port", "0")
      }'`,
    );
  }

  const LISTENER = 0;
  const loop = new EventLoop({
    onError: (error, token) => {
      // deno-lint-ignore no-console
      console.error(`handler of token ${token} failed:`, error);
    },
  });

  let nextToken = LISTENER + 1;
  const listener = Deno.listen({ hostname, port });
  loop.register(listener, LISTENER, Interest.READABLE, (event, loop) => {
    const conn = event.conn;
    if (conn === undefined) return; // accept error: the loop backs off
    (conn as Deno.TcpConn).setNoDelay(true);
    loop.register(conn, nextToken++, Interest.READABLE, onConnection);
  });

  // An AbortSignal rather than loop.stop(): a signal that arrives before run()
  // starts is not lost.
  const shutdown = new AbortController();
  const stop = (): void => shutdown.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);

  const addr = listener.addr;
  await Deno.stdout.write(
    new TextEncoder().encode(`listening on ${addr.hostname}:${addr.port}\n`),
  );

  await loop.run({ signal: shutdown.signal });
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await loop[Symbol.asyncDispose]();
}
