// `TcpServer`: mill-net's server on the reactor, without mill-net's flaws
// (stranded reads, failing sends, accept-then-drop at the limit, hot accept
// loops, ignored options).

import { validateDelay } from "../../_internal/validate.ts";
import { EventLoop } from "../../reactor/event_loop.ts";
import { toError } from "../../_internal/to_error.ts";
import { Interest } from "../../reactor/interest.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { ConnectionTable } from "./_connection_table.ts";
import { ConnectionDrain } from "./_connection_drain.ts";
import {
  configOf,
  connectionSettingsFor,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  listenFor,
  loopOptionsFor,
} from "./_server_setup.ts";
import { serverStats } from "./_server_stats.ts";
import { validateHandler, watchResult } from "./_handler_checks.ts";
import type { HandlerResult, NetworkHandler } from "./network_handler.ts";
import type { ServerContext } from "./server_context.ts";
import type { Codec } from "../codec/codec.ts";
import { framingHandler } from "./_framing.ts";
import type { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";
import type { TcpServerWorkersOptions } from "./tcp_server_workers.ts";
import { type ModuleServer, moduleServer } from "./_module_server.ts";
import type {
  TcpServerOptions,
  TcpServerRunOptions,
  TcpServerShutdownOptions,
  TcpServerShutdownResult,
  TcpServerStats,
} from "./tcp_server_options.ts";
import { type WorkerHooks, workerHooks } from "./_worker_hooks.ts";
import {
  HealthResponder,
  type HealthState,
} from "../proxy/_health_responder.ts";

/** The server's own states; "paused" is the accept gate's (at the limit). */
type State = Exclude<TcpServerStats["state"], "paused">;

/**
 * A TCP (or Unix socket, or TLS) server on an {@linkcode EventLoop}, in the
 * manner of mill-net: a {@linkcode NetworkHandler} gets callbacks with one
 * {@linkcode ServerContext} to send, broadcast and close.
 *
 * - Reads are driven by the loop until the socket is drained: no byte waits
 *   for another readiness event.
 * - `sendTo` queues and never fails for lack of buffer space; a peer that
 *   lets more than `maxWriteBuffer` bytes pile up is disconnected as a slow
 *   consumer while everyone else keeps receiving. While a connection's queue
 *   is above the high-water mark it is not read (backpressure both ways).
 * - At `maxConnections` the server stops accepting (the kernel backlog holds
 *   new peers) and resumes below it. Accept errors such as EMFILE are
 *   reported to `onError` and retried after a delay, never in a hot loop.
 * - Connection ids count up from 1 and are never reused.
 * - A callback that throws costs that one connection (reason
 *   `"handler error"`).
 * - With a `codec` (third argument), `onFrame` gets whole frames; see
 *   {@linkcode TcpServerOptions}.
 *
 * @example An echo server on its own loop
 * ```ts
 * import { TcpServer, TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(TcpServerConfig.builder().port(0).build(), {
 *   onData(ctx, id, data) {
 *     ctx.sendTo(id, data);
 *   },
 * });
 * const done = server.run();
 * const { port } = server.addr as Deno.NetAddr;
 *
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * await conn.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(2);
 * assertEquals(await conn.read(buf), 2);
 * conn.close();
 *
 * await server.shutdown({ timeoutMs: 1000 });
 * await done;
 * ```
 *
 * @example On a loop you run yourself
 * ```ts
 * import { EventLoop } from "@millrace/io/reactor";
 * import { TcpServer, TcpServerConfig } from "@millrace/io/net";
 *
 * const loop = new EventLoop();
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
 *   onData(ctx, id, data) {
 *     ctx.sendTo(id, data);
 *   },
 * });
 * server.start(loop);
 * const running = loop.run();
 * await server.close();
 * loop.stop();
 * await running;
 * await loop[Symbol.asyncDispose]();
 * ```
 */
export class TcpServer<T = unknown, F = Uint8Array, E = F>
  implements AsyncDisposable {
  readonly #config: TcpServerConfig;
  readonly #handler: NetworkHandler<T, unknown, E>;
  readonly #codec: Codec<F, E> | undefined;
  #state: State = "idle";
  #loop: EventLoop | undefined;
  #ownLoop = false;
  #table: ConnectionTable<T, E> | undefined;
  #gate: AcceptGate<T, E> | undefined;
  #listenerToken = -1;
  #listenerClosed: Promise<void> | undefined;
  #addr: Deno.Addr | undefined;
  #startedAt = 0;
  #shutdown: Promise<TcpServerShutdownResult> | undefined;
  /** The connections' wait of a shutdown in progress. */
  #drain: ConnectionDrain<T, E> | undefined;
  #listening = Promise.withResolvers<Deno.Addr>();
  // Set with `workers`: the Workers do the serving (see _worker_server.ts).
  readonly #workers: ModuleServer<T> | undefined;
  #hooks: WorkerHooks | undefined;
  #health: HealthResponder | undefined;

  /**
   * Creates a server; it binds on {@linkcode TcpServer.start} or
   * {@linkcode TcpServer.run}.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * // A plain options object works as well as a TcpServerConfig.
   * const server = new TcpServer({ port: 0, idleTimeoutMs: 30_000 }, {
   *   onData: (ctx, id, data) => void ctx.sendTo(id, data),
   * });
   * assertEquals(server.config.idleTimeoutMs, 30_000);
   * ```
   *
   * @param config A configuration, or the options to build one from.
   * @param handler The callbacks (`onData` required, or `onFrame` with a
   *   `codec`), or {@linkcode TcpServerWorkersOptions} to serve from Workers
   *   with a handler module.
   * @param options A `codec` to frame the byte stream with.
   * @throws {TypeError} If `handler` lacks `onData` (`onFrame` with a codec)
   * or an option has the wrong type.
   * @throws {RangeError} If an option is out of its documented range.
   * @throws {Deno.errors.NotSupported} If `workers` is above 1 and the
   * platform is not Linux or Deno runs without `--unstable-net`.
   */
  constructor(
    config: TcpServerConfig | TcpServerConfigOptions,
    handler: NetworkHandler<T, F, E> | TcpServerWorkersOptions,
    options: TcpServerOptions<F, E> = {},
  ) {
    const codec = options?.codec;
    if (
      handler !== null && typeof handler === "object" &&
      "handlerModule" in handler
    ) {
      if (codec !== undefined) {
        throw new TypeError(
          "Cannot create server as 'codec' cannot cross Workers: export it as 'codec' from the handler module",
        );
      }
      this.#config = configOf(config);
      this.#workers = moduleServer<T>(this.#config, handler);
      this.#handler = { onData() {} };
      return;
    }
    validateHandler("create server", handler, codec !== undefined);
    this.#config = configOf(config);
    this.#codec = codec;
    this.#handler =
      (codec === undefined
        ? handler
        : framingHandler(handler, codec)) as NetworkHandler<T, unknown, E>;
    this.#listening.promise.catch(() => {});
  }

  /** The configuration the server was created with. */
  get config(): TcpServerConfig {
    return this.#config;
  }

  /** The bound address (known once started). */
  get addr(): Deno.Addr {
    if (this.#workers !== undefined) return this.#workers.addr;
    if (this.#addr === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get address as the server has not started",
      );
    }
    return this.#addr;
  }

  /**
   * The address of the health port (config `healthPort`), once started.
   *
   * @throws {Deno.errors.NotConnected} If the server has no health port or
   * has not started.
   */
  get healthAddr(): Deno.NetAddr {
    if (this.#health === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get health address as the server has no health port running",
      );
    }
    return this.#health.addr;
  }

  /** The number of open connections. */
  get connectionCount(): number {
    if (this.#workers !== undefined) return this.#workers.connectionCount;
    return this.#table?.connectionCount ?? 0;
  }

  /**
   * The context handed to callbacks, for use outside them (e.g. a timer
   * broadcasting). Available once started.
   */
  get context(): ServerContext<T, E> {
    if (this.#workers !== undefined) {
      return this.#workers.context as unknown as ServerContext<T, E>;
    }
    if (this.#table === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get context as the server has not started",
      );
    }
    return this.#table;
  }

  /**
   * Resolves with the bound address once the server listens: as soon as it
   * started on one loop, once every Worker listens with `workers`.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const server = new TcpServer({ port: 0 }, { onData() {} });
   * const serving = server.run();
   * const addr = await server.listening();
   * assertEquals(addr.transport, "tcp");
   * await server.close();
   * await serving;
   * ```
   *
   * @returns The bound address.
   */
  listening(): Promise<Deno.Addr> {
    return this.#workers?.listening() ?? this.#listening.promise;
  }

  /**
   * Binds the listener and registers it on `loop`; the loop's `run()` then
   * serves. Throws what `Deno.listen`/`Deno.listenTls` throws (e.g.
   * `AddrInUse`).
   *
   * @example Serve on a loop of your own
   * ```ts
   * import { EventLoop } from "@millrace/io/reactor";
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const loop = new EventLoop();
   * const server = new TcpServer({ port: 0 }, { onData: (ctx, id, data) => void ctx.sendTo(id, data) });
   * server.start(loop);
   * const running = loop.run();
   * assertEquals(server.stats().state, "listening");
   * await server.shutdown();
   * loop.stop();
   * await running;
   * await loop[Symbol.asyncDispose]();
   * ```
   *
   * @param loop The event loop to serve on.
   * @throws {Deno.errors.AlreadyExists} If the server was started before.
   * @throws {Deno.errors.AddrInUse} And Deno's other listen errors.
   */
  start(loop: EventLoop): void {
    if (this.#workers !== undefined) {
      throw new TypeError(
        "Cannot start server on a loop as it serves from Workers: use 'run()'",
      );
    }
    if (this.#state !== "idle") {
      throw new Deno.errors.AlreadyExists(
        `Cannot start server as it is ${this.#state}`,
      );
    }
    const config = this.#config;
    // Set only in a multi-worker server's Workers (see _server_worker.ts).
    this.#hooks = workerHooks.get(this);
    const listener = listenFor(config, this.#hooks?.reusePort ?? false);
    if (this.#hooks !== undefined) {
      this.#hooks.resume = () => this.#connectionRemoved();
    }
    if (config.healthPort !== undefined) {
      try {
        this.#health = new HealthResponder(
          config.hostname,
          config.healthPort,
          () => this.#healthState(),
        );
      } catch (error) {
        listener.close();
        throw error;
      }
    }
    this.#loop = loop;
    this.#addr = listener.addr;
    this.#table = new ConnectionTable<T, E>(
      loop,
      this.#handler,
      connectionSettingsFor(
        config,
        this.#codec as Codec<unknown, unknown> | undefined,
        this.#ownLoop,
        this.#hooks,
      ),
    );
    this.#table.onRemoved = () => {
      this.#hooks?.released();
      this.#connectionRemoved();
    };
    this.#listenerToken = loop.allocateToken();
    this.#gate = new AcceptGate(
      this.#listenerToken,
      this.#table,
      this.#hooks,
      config.maxConnections,
    );
    loop.register(
      listener,
      this.#listenerToken,
      Interest.READABLE,
      this.#gate.onEvent,
    );
    this.#state = "listening";
    this.#startedAt = performance.now();
    this.#listening.resolve(listener.addr);
    const handler = this.#handler;
    if (handler.onListening !== undefined) {
      const table = this.#table;
      this.#callReported(() => handler.onListening!(table, listener.addr));
    }
  }

  /**
   * Creates an {@linkcode EventLoop} sized from the config, starts the server
   * on it and runs it. The address is known when this returns (binding is
   * synchronous); the promise resolves once the server has shut down and the
   * loop is disposed.
   *
   * @example Run until shut down
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   *
   * const server = new TcpServer({ port: 0 }, { onData: (ctx, id, data) => void ctx.sendTo(id, data) });
   * const serving = server.run();
   * // ... serve; here the example stops by itself.
   * await server.shutdown({ timeoutMs: 1_000 });
   * await serving;
   * ```
   *
   * @param options Optional abort signal (graceful shutdown).
   * @returns A promise that resolves after shutdown.
   * @throws {Deno.errors.AlreadyExists} (as a rejection) If the server was
   * started before; Deno's listen errors (e.g. `AddrInUse`) likewise.
   */
  run(options: TcpServerRunOptions = {}): Promise<void> {
    if (this.#workers !== undefined) return this.#workers.run(options);
    if (this.#state !== "idle") {
      return Promise.reject(
        new Deno.errors.AlreadyExists(
          `Cannot run server as it is ${this.#state}`,
        ),
      );
    }
    const loop = new EventLoop(loopOptionsFor(this.#config));
    this.#ownLoop = true;
    try {
      workerHooks.get(this)?.onLoop(loop);
      this.start(loop);
    } catch (error) {
      this.#ownLoop = false;
      return loop[Symbol.asyncDispose]().then(() => {
        throw error;
      });
    }
    const signal = options.signal;
    const onAbort = () => void this.shutdown();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return loop.run().finally(() => {
      signal?.removeEventListener("abort", onAbort);
    }).then(() => this.#shutdown?.then(() => {}));
  }

  /** A server-wide callback: a throw or rejection is only reported. */
  #callReported(call: () => HandlerResult): void {
    const report = (error: unknown) => this.#table!.reportError(toError(error));
    try {
      watchResult(call(), report);
    } catch (error) {
      report(error);
    }
  }

  #healthState(): HealthState {
    if (this.#state !== "listening") return "drain";
    return this.#gate!.paused ? "maint" : "up ready";
  }

  #connectionRemoved(): void {
    this.#gate!.connectionRemoved();
    this.#drain?.connectionRemoved();
  }

  /**
   * The stats of the server; cheap enough to call often.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const server = new TcpServer({ port: 0 }, { onData: (ctx, id, data) => void ctx.sendTo(id, data) });
   * const serving = server.run();
   * assertEquals(server.stats().connections, 0);
   * await server.shutdown();
   * await serving;
   * ```
   *
   * @returns A snapshot of state, counters and queued bytes.
   */
  stats(): TcpServerStats {
    if (this.#workers !== undefined) return this.#workers.stats();
    return serverStats(
      this.#state,
      this.#loop,
      this.#table,
      this.#gate,
      this.#startedAt,
    );
  }

  /**
   * Shuts the server down. Graceful (the default): close the listener
   * first (a load balancer's connect check then fails, and a `healthPort`
   * answers `drain`), call `onShutdown`, flush each connection's queue and
   * half-close it so the peer reads end of stream (unless `closeWrites` is
   * `false`), wait up to `timeoutMs` for connections to close, then
   * force-close the rest (reason `"shutdown"`). With `force`, every
   * connection is closed at once. Idempotent: later calls return the first
   * call's promise. A server on its own loop (`run()`) stops the loop.
   *
   * @param options `force`, `timeoutMs` and `closeWrites`.
   * @returns Counts of connections closed gracefully and forced.
   * @example Graceful shutdown with a deadline
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const server = new TcpServer({ port: 0 }, { onData: (ctx, id, data) => void ctx.sendTo(id, data) });
   * const serving = server.run();
   * const result = await server.shutdown({ timeoutMs: 1_000 });
   * assertEquals(result.forced, 0);
   * await serving;
   * ```
   *
   * @throws {RangeError} If `timeoutMs` is not from 0 to 2 ** 31 - 1.
   */
  shutdown(
    options: TcpServerShutdownOptions = {},
  ): Promise<TcpServerShutdownResult> {
    if (this.#workers !== undefined) return this.#workers.shutdown(options);
    if (this.#shutdown !== undefined) {
      // A second, forcing request cuts a graceful shutdown short.
      if (options.force) this.#drain?.force();
      return this.#shutdown;
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    validateDelay("shut down server", "timeoutMs", timeoutMs);
    this.#shutdown = this.#runShutdown(
      options.force ?? false,
      timeoutMs,
      options.closeWrites ?? true,
    );
    return this.#shutdown;
  }

  async #runShutdown(
    force: boolean,
    timeoutMs: number,
    closeWrites: boolean,
  ): Promise<TcpServerShutdownResult> {
    if (this.#state === "idle") {
      this.#state = "closed";
      return { closedGracefully: 0, forced: 0 };
    }
    const loop = this.#loop!;
    const table = this.#table!;
    this.#state = "shutting down";
    table.shuttingDown = true;
    this.#gate!.close();
    if (loop.has(this.#listenerToken)) {
      this.#listenerClosed = loop.close(this.#listenerToken).catch(() => {});
    }
    const drain = new ConnectionDrain(table);
    this.#drain = drain;
    const handler = this.#handler;
    const result = await drain.run(force, timeoutMs, closeWrites, () => {
      if (handler.onShutdown !== undefined) {
        this.#callReported(() => handler.onShutdown!(table));
      }
    });
    await this.#listenerClosed;
    // Reports "drain" until here, so a load balancer stops routing to us
    // even before the closed listener fails its connect check.
    await this.#health?.close();
    this.#health = undefined;
    this.#state = "closed";
    if (this.#ownLoop) {
      loop.stop();
      await loop[Symbol.asyncDispose]();
    }
    return result;
  }

  /**
   * Forced shutdown: closes the listener and every connection now.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   *
   * const server = new TcpServer({ port: 0 }, { onData: (ctx, id, data) => void ctx.sendTo(id, data) });
   * const serving = server.run();
   * await server.close();
   * await serving;
   * ```
   *
   * @returns Counts as for {@linkcode TcpServer.shutdown}.
   */
  close(): Promise<TcpServerShutdownResult> {
    return this.shutdown({ force: true });
  }

  /**
   * Forced shutdown, for `await using`.
   *
   * @example Usage
   * ```ts
   * import { TcpServer } from "@millrace/io/net";
   *
   * const server = new TcpServer({ port: 0 }, { onData() {} });
   * const serving = server.run();
   * {
   *   await using _scoped = server; // forced shutdown at the end of the block
   * }
   * await serving;
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
