// `workers: 1` with a handler module: the module's handler runs on this
// thread, on one loop: the same TcpServer (ids, ctx, stats, limits) as one
// made with the handler directly, so it costs what today's server costs. No
// Worker and no channel: there is no other thread to coordinate with.

import { validateDelay } from "../../_internal/validate.ts";
import type { ServerContext } from "./server_context.ts";
import { TcpServer } from "./tcp_server.ts";
import type { TcpServerConfig } from "./tcp_server_config.ts";
import type {
  TcpServerRunOptions,
  TcpServerShutdownOptions,
  TcpServerShutdownResult,
  TcpServerStats,
} from "./tcp_server_options.ts";
import type { TcpServerWorkersOptions } from "./tcp_server_workers.ts";
import { importHandlerModule, moduleHandler } from "./_handler_module.ts";
import type { ModuleServer, ModuleServerOptions } from "./_module_server.ts";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from "./_server_setup.ts";

/**
 * The module's URL with a fragment of its own: imported under it, the module
 * is a fresh instance, as in a Worker (top-level code runs again with
 * `import.meta.main` false; module state is not the importer's). Without
 * it, the usual `handlerModule: import.meta.url` from a main module that
 * awaits `listening()` at top level would wait for its own evaluation.
 */
function freshInstance(href: string): string {
  const url = new URL(href);
  url.hash = "millrace-in-process";
  return url.href;
}

/**
 * The context `init()` gets: the server's own once it started (callbacks
 * get that one directly); before, every use throws `NotConnected`.
 */
function laterContext<T>(get: () => ServerContext<T>): ServerContext<T> {
  return new Proxy({} as ServerContext<T>, {
    get(_target, key) {
      const context = get();
      const value = Reflect.get(context, key, context);
      return typeof value === "function" ? value.bind(context) : value;
    },
  });
}

export class InProcessServer<T> implements ModuleServer<T> {
  readonly #config: TcpServerConfig;
  readonly #options: TcpServerWorkersOptions;
  /** The handler module's URL, as a fresh instance (see freshInstance). */
  readonly #module: string;
  #server: TcpServer<T, unknown, unknown> | undefined;
  #status: "idle" | "starting" | "started" | "closed" = "idle";
  #started: Promise<TcpServer<T, unknown, unknown> | undefined> | undefined;
  #listening = Promise.withResolvers<Deno.Addr>();
  #shutdown: Promise<TcpServerShutdownResult> | undefined;
  readonly #abort = new AbortController();

  constructor(
    config: TcpServerConfig,
    options: TcpServerWorkersOptions,
    { href }: ModuleServerOptions,
  ) {
    this.#config = config;
    this.#options = options;
    this.#module = freshInstance(href);
    this.#listening.promise.catch(() => {});
  }

  get addr(): Deno.Addr {
    if (this.#server === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get address as the server has not started",
      );
    }
    return this.#server.addr;
  }

  listening(): Promise<Deno.Addr> {
    return this.#listening.promise;
  }

  get connectionCount(): number {
    return this.#server?.connectionCount ?? 0;
  }

  get context(): ServerContext<T> {
    if (this.#server === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get context as the server has not started",
      );
    }
    return this.#server.context as ServerContext<T>;
  }

  run(options: TcpServerRunOptions = {}): Promise<void> {
    if (this.#status !== "idle") {
      return Promise.reject(
        new Deno.errors.AlreadyExists(
          `Cannot run server as it is ${this.stats().state}`,
        ),
      );
    }
    this.#status = "starting";
    const signal = options.signal;
    const onAbort = () => void this.shutdown();
    signal?.addEventListener("abort", onAbort, { once: true });
    const started = this.#start();
    this.#started = started.catch(() => undefined);
    return started.then(async (server) => {
      if (signal?.aborted) onAbort();
      // A shutdown during the start made no server: nothing to serve.
      if (server === undefined) return;
      // A bind error rejects run(); listening() must not wait forever.
      await server.run().catch((error) => {
        this.#listening.reject(error);
        throw error;
      });
    }).finally(() => {
      signal?.removeEventListener("abort", onAbort);
      this.#status = "closed";
    });
  }

  async #start(): Promise<TcpServer<T, unknown, unknown> | undefined> {
    try {
      const loaded = await importHandlerModule(this.#module);
      const handler = await moduleHandler(loaded, {
        index: 0,
        workers: 1,
        // A copy, as each Worker gets with more than one.
        workerData: structuredClone(this.#options.workerData),
        context: laterContext(() => this.context as ServerContext<unknown>),
        signal: this.#abort.signal,
      }, "start server");
      if (this.#shutdown !== undefined) {
        this.#listening.reject(
          new Deno.errors.Interrupted("Cannot start server as it shut down"),
        );
        return undefined;
      }
      const codec = loaded.codec;
      const server = new TcpServer<T, unknown, unknown>(
        this.#config,
        handler as never,
        codec ? { codec } : {},
      );
      this.#server = server;
      this.#status = "started";
      server.listening().then(this.#listening.resolve, this.#listening.reject);
      return server;
    } catch (error) {
      this.#listening.reject(error);
      throw error;
    }
  }

  stats(): TcpServerStats {
    // Not serving (yet, or never): an unstarted server's zero stats.
    const stats = this.#server?.stats() ??
      new TcpServer(this.#config, { onData() {} }).stats();
    // run() has ended (also when the bind failed and the server never ran).
    if (this.#status === "closed") stats.state = "closed";
    if (this.#server !== undefined) return stats;
    if (this.#status === "starting") stats.state = "listening";
    return stats;
  }

  shutdown(
    options: TcpServerShutdownOptions = {},
  ): Promise<TcpServerShutdownResult> {
    validateDelay(
      "shut down server",
      "timeoutMs",
      options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    );
    this.#abort.abort();
    if (this.#shutdown !== undefined) {
      if (options.force) this.#server?.shutdown(options);
      return this.#shutdown;
    }
    if (this.#status === "idle") {
      this.#status = "closed";
      this.#shutdown = Promise.resolve({ closedGracefully: 0, forced: 0 });
    } else {
      this.#shutdown = this.#started!.then((server) =>
        server?.shutdown(options) ?? { closedGracefully: 0, forced: 0 }
      );
    }
    return this.#shutdown;
  }
}
