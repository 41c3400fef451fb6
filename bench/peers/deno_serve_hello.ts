// `Deno.serve` hello world: the HTTP peer for examples/http_hello/main.ts.
// Usage: deno run --allow-net bench/peers/deno_serve_hello.ts
//          [--hostname 127.0.0.1] [--port 0]

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1]! : fallback;
}

const ac = new AbortController();
const server = Deno.serve({
  hostname: option("--hostname", "127.0.0.1"),
  port: Number(option("--port", "0")),
  signal: ac.signal,
  onListen({ hostname, port }) {
    Deno.stdout.writeSync(
      new TextEncoder().encode(`listening on ${hostname}:${port}\n`),
    );
  },
}, () => new Response("Hello, World!"));
const stop = (): void => ac.abort();
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
await server.finished;
Deno.removeSignalListener("SIGTERM", stop);
Deno.removeSignalListener("SIGINT", stop);
