// UDP echo on the reactor: every datagram goes back to its sender. UDP is
// unstable in Deno, so this needs `--unstable-net`; without it the example
// says so and exits 2.
//
//   deno run --allow-net --unstable-net examples/udp_echo.ts --port 7200
//   socat - UDP:127.0.0.1:7200
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM stop it and it
// exits 0.

import {
  EventLoop,
  Interest,
  isDatagramAvailable,
  listenDatagram,
} from "@millrace/io/reactor";
import { flag, portFlag, printError, printListening } from "./_args.ts";

/** The echo: a copy of each datagram back to `remoteAddr`. */
export function serveUdpEcho(
  loop: EventLoop,
  socket: Deno.DatagramConn,
  token = 0,
): void {
  loop.register(socket, token, Interest.READABLE, (event, loop) => {
    if (event.data === undefined || event.remoteAddr === undefined) return;
    // sendTo does not copy, and `data` is only valid during this call.
    loop.sendTo(event.token, event.data.slice(), event.remoteAddr);
  });
}

if (import.meta.main) {
  if (!isDatagramAvailable()) {
    printError(
      "udp_echo needs UDP, which Deno keeps behind a flag: run with 'deno run --allow-net --unstable-net examples/udp_echo.ts'",
    );
    Deno.exit(2);
  }
  await using loop = new EventLoop({
    onError: (error) => printError(`udp: ${(error as Error).message}`),
  });
  const socket = listenDatagram({
    hostname: flag(Deno.args, "hostname", "127.0.0.1"),
    port: portFlag(Deno.args, "0"),
  });
  serveUdpEcho(loop, socket);
  printListening(socket.addr);
  const stop = () => loop.stop();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await loop.run();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}
