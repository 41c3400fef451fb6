// Node `net` echo server: a peer for the raw TCP rows of bench/peers.ts.
// Usage: node node_echo.mjs [--hostname 127.0.0.1] [--port 0]
import net from "node:net";
import { listenAnnounced } from "./_node_server.mjs";

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on("data", (chunk) => {
    // Backpressure like a careful hand-written server: pause while the
    // socket's queue is above its high-water mark.
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once("drain", () => socket.resume());
    }
  });
  socket.on("error", () => socket.destroy());
});
listenAnnounced(server, { backlog: 511 });
