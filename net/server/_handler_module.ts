// Loading the handler module of a TcpServer with `handlerModule`: its codec
// (codecs cannot cross Workers, so the module exports one or a factory), its
// optional `init()` and the NetworkHandler it yields. Shared by the Workers
// of a multi-worker server and by `workers: 1`, which runs in-process.

import type { Codec } from "../codec/codec.ts";
import type { NetworkHandler } from "./network_handler.ts";
import { validateHandler } from "./_handler_checks.ts";
import type { WorkerInitInfo } from "./tcp_server_workers.ts";

/** A handler module, imported, with its codec made. */
export interface HandlerModule {
  module: Record<string, unknown>;
  codec: Codec<unknown, unknown> | undefined;
}

/** Imports `href` and makes its codec (an exported `codec` or factory). */
export async function importHandlerModule(
  href: string,
): Promise<HandlerModule> {
  const module = await import(href) as Record<string, unknown>;
  const codec =
    (typeof module.codec === "function" ? module.codec() : module.codec) as
      | Codec<unknown, unknown>
      | undefined;
  return { module, codec };
}

/**
 * Calls the module's `init(info)` (awaited) and returns the handler it
 * returned, else the module's `default`, checked like TcpServer checks one.
 */
export async function moduleHandler(
  loaded: HandlerModule,
  info: WorkerInitInfo,
  action: string,
): Promise<NetworkHandler<unknown, unknown, unknown>> {
  const { module, codec } = loaded;
  let initResult: unknown;
  if (typeof module.init === "function") initResult = await module.init(info);
  const user = (initResult ?? module.default) as
    | NetworkHandler<unknown, unknown, unknown>
    | undefined;
  if (user === null || typeof user !== "object") {
    throw new TypeError(
      `Cannot ${action} as the handler module must export a NetworkHandler as 'default' or return one from 'init()': received ${typeof user}`,
    );
  }
  validateHandler(action, user, codec !== undefined);
  return user;
}
