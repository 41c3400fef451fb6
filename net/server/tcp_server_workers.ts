// Public types of a multi-worker `TcpServer`: the options that turn it on and
// what a handler module's `init()` receives.

import type { ServerContext } from "./server_context.ts";

/**
 * Runs a {@linkcode TcpServer} on several Workers, each with its own
 * `EventLoop` and a `reusePort` listener on the same address, so that the
 * kernel spreads connections over the cores. Functions cannot cross Workers,
 * so the handler comes from a module:
 *
 * ```ts ignore
 * // handler.ts
 * import type { NetworkHandler, WorkerInitInfo } from "@millrace/io/net";
 * export default { onData(ctx, id, data) { ctx.sendTo(id, data); } } satisfies NetworkHandler;
 * export function init(info: WorkerInitInfo): void {} // optional, once per Worker
 * ```
 *
 * `workers` above 1 needs `SO_REUSEPORT`, which Deno offers on Linux with
 * `--unstable-net` only: without both, the constructor throws
 * `Deno.errors.NotSupported` (it never quietly runs on one core).
 *
 * The handlers' context spans the Workers: `connectionIds()`, `has`,
 * `sendTo`, `broadcast` and `closeConnection` see a connection of another
 * Worker from the moment its `onConnect` starts until its `onDisconnect`
 * (each Worker keeps its live ids, with their addresses, in shared memory),
 * and so do `remoteAddr` and `localAddr`; `proxyInfo` of another Worker's
 * connection comes by message, a moment later, when `proxyProtocol` is set
 * (without it, it is `undefined`); `getData`/`setData` stay with the owner.
 * `stats()` sums counters the Workers keep in shared memory: exact at once.
 *
 * @example Usage
 * ```ts
 * import { TcpServer, TcpServerConfig, type TcpServerWorkersOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const code = "export default { onData(ctx, id, data) { ctx.sendTo(id, data); } };";
 * const options: TcpServerWorkersOptions = {
 *   handlerModule: `data:text/javascript,${encodeURIComponent(code)}`,
 *   workers: 1, // more needs Linux and --unstable-net
 * };
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), options);
 * const serving = server.run();
 * const { port } = (await server.listening()) as Deno.NetAddr;
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * await conn.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(2);
 * assertEquals(await conn.read(buf), 2);
 * conn.close();
 * await server.shutdown({ timeoutMs: 1_000 });
 * await serving;
 * ```
 */
export interface TcpServerWorkersOptions {
  /**
   * The module whose `default` export is the `NetworkHandler`; it may also
   * export `init(info: WorkerInitInfo)`, called once in each Worker before
   * it listens (awaited if it returns a promise). A handler that `init`
   * returns is used instead of `default` (one configured from `workerData`).
   * A framed handler (`onFrame`) needs the module to export its `codec` (a
   * `Codec`, or a function making one): codecs cannot cross Workers.
   * Health checks (`healthPort`) are answered by Worker 0.
   */
  handlerModule: URL | string;
  /**
   * How many Workers serve; `"auto"` is `navigator.hardwareConcurrency`.
   * Above 1, each runs its own loop on its own thread and the main thread
   * only supervises. `1` is today's single-loop server: the module's
   * handler runs in-process on one loop (no Worker, no flag needed), with
   * `init()` called once on this thread; `onWorkerError` is then never
   * called (an uncaught error is the process's, as without `workers`).
   * As in a Worker, the module is a fresh instance of its own (its
   * top-level code runs again with `import.meta.main` false), so a main
   * module may name itself (`handlerModule: import.meta.url`).
   *
   * @default {1}
   */
  workers?: number | "auto";
  /**
   * Most bytes of routed messages (`sendTo`, `broadcast` and `sendFrame`
   * to another Worker's connections) that may wait, per target Worker, in
   * each sender while that Worker's channel is full (a Worker that does not
   * keep up). A message past it is not sent: `sendTo` returns `false` and
   * the sender's `onError(ctx, error, id)` gets a `TooBigError` naming the
   * Worker (`id` is the target connection, `undefined` for a broadcast),
   * or, without `onError` or outside a Worker, the call throws it. Nothing
   * is dropped silently. `Infinity` lets them wait without bound.
   *
   * @default {16777216}
   */
  maxOutboxBytes?: number;
  /** Structured-cloned to every Worker's `init()` as `info.workerData`. @default {undefined} */
  workerData?: unknown;
  /**
   * Called on the main thread when a Worker dies (an uncaught error in it).
   * The server restarts it; its connections were closed with the thread and
   * are reported to the replacement's `onDisconnect` with reason
   * `"worker crashed"`.
   *
   * @default {undefined}
   */
  onWorkerError?: (error: Error, worker: number) => void;
}

/**
 * What a handler module's `init()` receives in each Worker of a
 * multi-worker {@linkcode TcpServer}.
 *
 * @example Usage
 * ```ts
 * import type { WorkerInitInfo } from "@millrace/io/net";
 *
 * // In the handler module: a per-Worker timer that stops at shutdown.
 * export function init(info: WorkerInitInfo): void {
 *   const timer = setInterval(() => info.context.broadcast("tick\n"), 1_000);
 *   info.signal.addEventListener("abort", () => clearInterval(timer));
 * }
 * ```
 */
export interface WorkerInitInfo {
  /** This Worker's index, from 0. */
  index: number;
  /** How many Workers the server runs. */
  workers: number;
  /** The options' `workerData`, structured-cloned. */
  workerData: unknown;
  /** The server-wide context (also handed to every callback). */
  context: ServerContext<unknown, unknown>;
  /** Aborted when this Worker starts shutting down. */
  signal: AbortSignal;
}
