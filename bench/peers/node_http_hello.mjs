// Node `http` hello world: the HTTP peer for examples/http_hello.ts.
// Usage: node node_http_hello.mjs [--hostname 127.0.0.1] [--port 0]
import http from "node:http";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};

const body = "Hello, World!";
const server = http.createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "text/plain;charset=UTF-8",
    "content-length": body.length,
  });
  res.end(body);
});
server.keepAliveTimeout = 30000;
server.listen({
  host: opt("--hostname", "127.0.0.1"),
  port: Number(opt("--port", "0")),
}, () => {
  const a = server.address();
  process.stdout.write(`listening on ${a.address}:${a.port}\n`);
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
