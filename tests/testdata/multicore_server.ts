// A multi-worker TcpServer for tests/multicore_test.ts, run in a child
// process (with or without --unstable-net). Prints JSON lines on stdout:
// {"port":N} once listening, then one line per stdin command:
//   stats              -> the server's stats()
//   ids                -> {"ids":[...]}: the main thread's connectionIds()
//   shutdown MS        -> graceful shutdown with timeoutMs MS, its result
//   force              -> a forced shutdown (also cuts a graceful one short)
// Worker crashes are printed as {"workerError":I}.
import { TcpServer, TcpServerConfig } from "../../net/mod.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const encoder = new TextEncoder();
const print = (value: unknown) =>
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));

let server: TcpServer;
try {
  server = new TcpServer(
    new TcpServerConfig({
      port: 0,
      maxConnections: Number(flag("max", "Infinity")),
      ...(args.includes("--max-write-buffer")
        ? { maxWriteBuffer: Number(flag("max-write-buffer", "0")) }
        : {}),
      ...(args.includes("--proxy")
        ? { proxyProtocol: flag("proxy", "v2") as "v2" }
        : {}),
      ...(args.includes("--health-port")
        ? { healthPort: Number(flag("health-port", "0")) }
        : {}),
    }),
    {
      handlerModule: new URL("./multicore_handler.ts", import.meta.url),
      workers: flag("workers", "2") === "auto"
        ? "auto"
        : Number(flag("workers", "2")),
      onWorkerError: (_error, worker) => print({ workerError: worker }),
      ...(args.includes("--outbox")
        ? { maxOutboxBytes: Number(flag("outbox", "Infinity")) }
        : {}),
      workerData: { gate: new SharedArrayBuffer(4) },
    },
  );
} catch (error) {
  const err = error as Error;
  print({ error: err.name, message: err.message });
  Deno.exit(3);
}
const serving = server.run();
const addr = await server.listening() as Deno.NetAddr;
print({ port: addr.port });

const pending: Promise<unknown>[] = [];
// Commands are read in the background: the process ends with the server.
(async () => {
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += new TextDecoder().decode(chunk);
    let at: number;
    while ((at = buffered.indexOf("\n")) >= 0) {
      const [command, arg] = buffered.slice(0, at).split(" ");
      buffered = buffered.slice(at + 1);
      if (command === "stats") print(server.stats());
      else if (command === "ids") {
        print({ ids: server.context.connectionIds() });
      } else if (command === "shutdown") {
        pending.push(
          server.shutdown({ timeoutMs: Number(arg) }).then((result) =>
            print({ result })
          ),
        );
      } else if (command === "force") {
        pending.push(server.shutdown({ force: true }));
      }
    }
  }
})();
await serving;
await Promise.all(pending);
print({ exited: true });
Deno.exit(0);
