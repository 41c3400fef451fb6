// A TcpServer made with `handlerModule` delegates to one of two servers:
// `workers: 1` runs the module's handler in-process on one loop (today's
// single-loop server, no Worker), more run Workers (_worker_server.ts).

import { formatValue } from "../../_internal/format.ts";
import { validateInteger } from "../../_internal/validate.ts";
import type { ServerContext } from "./server_context.ts";
import type {
  TcpServerRunOptions,
  TcpServerShutdownOptions,
  TcpServerShutdownResult,
  TcpServerStats,
} from "./tcp_server_options.ts";
import type { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerWorkersOptions } from "./tcp_server_workers.ts";
import { InProcessServer } from "./_in_process_server.ts";
import { MAX_WORKERS } from "./_worker_protocol.ts";
import { WorkerServer } from "./_worker_server.ts";

/** What TcpServer forwards to when made with a handler module. */
export interface ModuleServer<T> {
  readonly addr: Deno.Addr;
  readonly connectionCount: number;
  readonly context: ServerContext<T>;
  listening(): Promise<Deno.Addr>;
  run(options?: TcpServerRunOptions): Promise<void>;
  stats(): TcpServerStats;
  shutdown(
    options?: TcpServerShutdownOptions,
  ): Promise<TcpServerShutdownResult>;
}

/** The default of `maxOutboxBytes`: 16 MiB per target Worker. */
export const DEFAULT_MAX_OUTBOX_BYTES = 16 * 1024 * 1024;

/** The validated options of a TcpServer made with a handler module. */
export interface ModuleServerOptions {
  count: number;
  href: string;
  maxOutboxBytes: number;
}

/** Validates the `workers` count, the module's URL and `maxOutboxBytes`. */
export function moduleServerOptions(
  options: TcpServerWorkersOptions,
): ModuleServerOptions {
  const raw = options.workers ?? 1;
  const count = raw === "auto" ? navigator.hardwareConcurrency : raw;
  if (
    typeof count !== "number" || !Number.isInteger(count) || count < 1 ||
    count > MAX_WORKERS
  ) {
    throw new RangeError(
      `Cannot create server as 'workers' must be an integer from 1 to ${MAX_WORKERS} or "auto": received ${
        formatValue(raw)
      }`,
    );
  }
  const maxOutboxBytes = validateInteger(
    "create server",
    "maxOutboxBytes",
    options.maxOutboxBytes ?? DEFAULT_MAX_OUTBOX_BYTES,
    { min: 1, allowInfinity: true },
  );
  const module = options.handlerModule;
  try {
    return {
      count,
      href: new URL(module as string | URL).href,
      maxOutboxBytes,
    };
  } catch {
    throw new TypeError(
      `Cannot create server as 'handlerModule' must be an absolute URL (e.g. new URL("./handler.ts", import.meta.url)): received ${
        formatValue(module)
      }`,
    );
  }
}

/** One loop in-process for `workers: 1`, Workers for more. */
export function moduleServer<T>(
  config: TcpServerConfig,
  options: TcpServerWorkersOptions,
): ModuleServer<T> {
  const checked = moduleServerOptions(options);
  const Server = checked.count === 1 ? InProcessServer : WorkerServer;
  return new Server<T>(config, options, checked);
}
