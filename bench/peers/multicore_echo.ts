// Echo server for bench/multicore.ts: today's single-loop TcpServer
// (`--workers 0`) or a TcpServer with `workers: N` loading this module as its
// handler. `--burn-us U` spins U µs of CPU per onData (a compute-bound
// handler); `--broadcast` broadcasts what arrives to every connection instead
// of echoing it. `--workers 0 --reuse-port` listens with SO_REUSEPORT, so
// that several such processes share one port (`--port P`): independent
// single-loop servers, no Worker, no channel, no shared memory. Prints
// `listening on HOST:PORT`; SIGTERM shuts it down.
//   deno run -A --unstable-net bench/peers/multicore_echo.ts --workers 2 [--burn-us 200]
import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
  TcpServerConfig,
  type WorkerInitInfo,
} from "../../net/mod.ts";
// Private: how a Worker's TcpServer gets a reusePort listener.
import { workerHooks } from "../../net/server/_worker_hooks.ts";

function echo(burnUs: number, broadcast = false): NetworkHandler {
  if (broadcast) {
    return { onData: (ctx, _id, data) => void ctx.broadcast(data) };
  }
  return {
    onData(ctx, id, data) {
      if (burnUs > 0) {
        const end = performance.now() + burnUs / 1000;
        while (performance.now() < end) {
          // burn
        }
      }
      ctx.sendTo(id, data);
    },
  };
}

/** Each Worker's handler, burning `workerData.burnUs`. */
export function init(info: WorkerInitInfo): NetworkHandler {
  const { burnUs, broadcast } = info.workerData as {
    burnUs: number;
    broadcast: boolean;
  };
  return echo(burnUs, broadcast);
}

if (import.meta.main) {
  const option = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1]! : fallback;
  };
  const workers = Number(option("--workers", "0"));
  const burnUs = Number(option("--burn-us", "0"));
  const broadcast = Deno.args.includes("--broadcast");
  const config = new TcpServerConfig({ port: Number(option("--port", "0")) });
  const server = workers === 0
    ? new TcpServer(config, echo(burnUs, broadcast))
    : new TcpServer(config, {
      handlerModule: import.meta.url,
      workers,
      workerData: { burnUs, broadcast },
    });
  if (workers === 0 && Deno.args.includes("--reuse-port")) {
    // Only the listener changes: ids from a local counter, no shared limit.
    let nextId = 0;
    workerHooks.set(server, {
      reusePort: true,
      onLoop() {},
      allocateId: () => ++nextId,
      admit: () => true,
      openCount: () => 0,
      released() {},
    });
  }
  const serving = server.run();
  using _signals = shutdownOnSignals(server, { timeoutMs: 1000 });
  const addr = await server.listening() as Deno.NetAddr;
  Deno.stdout.writeSync(
    new TextEncoder().encode(`listening on ${addr.hostname}:${addr.port}\n`),
  );
  await serving;
}
