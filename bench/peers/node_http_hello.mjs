// Node `http` hello world: the HTTP peer for examples/http_hello.ts.
// Usage: node node_http_hello.mjs [--hostname 127.0.0.1] [--port 0]
import http from "node:http";
import { listenAnnounced } from "./_node_server.mjs";

const body = "Hello, World!";
const server = http.createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "text/plain;charset=UTF-8",
    "content-length": body.length,
  });
  res.end(body);
});
server.keepAliveTimeout = 30000;
listenAnnounced(server);
