// What a `TcpServer` builds from its config: the config itself, the listener,
// the options of the loop `run()` creates, and the settings of its
// connection table. Pure mappings, kept out of tcp_server.ts.

import { listen } from "../_listen.ts";
import type { EventLoopOptions } from "../../reactor/event_loop_options.ts";
import type { Codec } from "../codec/codec.ts";
import { proxySettings } from "../proxy/_server_proxy.ts";
import type { ConnectionSettings } from "./_connection_record.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";
import type { WorkerHooks } from "./_worker_hooks.ts";

/** `shutdown()`'s deadline when none is given (every kind of server). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

/** The server's config: as given, or built (and validated) from options. */
export function configOf(
  config: TcpServerConfig | TcpServerConfigOptions,
): TcpServerConfig {
  return config instanceof TcpServerConfig
    ? config
    : new TcpServerConfig(config);
}

/** Binds the server's listener (TCP, Unix socket or TLS). */
export function listenFor(
  config: TcpServerConfig,
  reusePort: boolean,
): Deno.Listener {
  return listen(
    config.transport === "unix"
      ? { transport: "unix", path: config.path! }
      : { transport: "tcp", hostname: config.hostname, port: config.port },
    {
      tcpBacklog: config.tcpBacklog,
      ...(config.tls ? { tls: config.tls } : {}),
      ...(reusePort ? { reusePort: true } : {}),
    },
  );
}

/** The options of the loop `run()` makes: sized from the config. */
export function loopOptionsFor(config: TcpServerConfig): EventLoopOptions {
  return {
    maxReadBufferSize: config.maxReadBufferSize,
    // A cap below the loop's default starting buffer lowers that too.
    ...(config.maxReadBufferSize < 64
      ? { minReadBufferSize: config.maxReadBufferSize }
      : {}),
    writeHighWaterMark: config.writeHighWaterMark,
    writeLowWaterMark: config.writeLowWaterMark,
    acceptErrorDelayMs: config.acceptErrorDelayMs,
  };
}

/**
 * The connection table's settings. `ownLoop`: the loop was made from the
 * config (`loopOptionsFor`), so connections need no per-registration read
 * bounds; a caller's loop needs them.
 */
export function connectionSettingsFor(
  config: TcpServerConfig,
  codec: Codec<unknown, unknown> | undefined,
  ownLoop: boolean,
  hooks: WorkerHooks | undefined,
): ConnectionSettings {
  return {
    codec,
    noDelay: config.noDelay,
    keepAlive: config.keepAlive,
    idleTimeoutMs: config.idleTimeoutMs,
    writeHighWaterMark: config.writeHighWaterMark,
    maxWriteBuffer: config.maxWriteBuffer,
    maxReadBufferSize: ownLoop ? undefined : config.maxReadBufferSize,
    allocateId: hooks?.allocateId,
    counters: hooks?.counters,
    onHighWater: hooks?.onHighWater,
    proxy: proxySettings(config),
  };
}
