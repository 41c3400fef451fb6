// Node `net` echo server: a peer for the raw TCP rows of bench/peers.ts.
// Usage: node node_echo.mjs [--hostname 127.0.0.1] [--port 0]
import net from "node:net";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const hostname = opt("--hostname", "127.0.0.1");
const port = Number(opt("--port", "0"));

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
server.listen({ host: hostname, port, backlog: 511 }, () => {
  const a = server.address();
  process.stdout.write(`listening on ${a.address}:${a.port}\n`);
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
