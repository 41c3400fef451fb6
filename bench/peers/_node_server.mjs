// What the Node peers share: `[--hostname 127.0.0.1] [--port 0]`, the
// `listening on HOST:PORT` first stdout line, and exit 0 on SIGINT/SIGTERM.

/**
 * Starts `server` (a `net` or `http` server) on the address its command line
 * names, with `options` added to `listen()`'s.
 */
// deno-lint-ignore explicit-module-boundary-types -- plain JS, run by Node
export function listenAnnounced(server, options = {}) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  server.listen({
    host: opt("--hostname", "127.0.0.1"),
    port: Number(opt("--port", "0")),
    ...options,
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
}
