// Checks of a NetworkHandler shared by TcpServer, TcpClient and the Workers
// of a multi-worker server: its required callback, and what a callback
// returned (an async callback's rejection is handled like a throw).

import type { NetworkHandler } from "./network_handler.ts";

export { watchResult } from "../../_internal/watch_result.ts";

/**
 * Checks a handler's one required callback for `action`: `onData`, or
 * `onFrame` with a codec.
 */
export function validateHandler<T, F, E>(
  action: string,
  handler: NetworkHandler<T, F, E>,
  framed = false,
): void {
  const name = framed ? "onFrame" : "onData";
  const callback = handler?.[name];
  if (handler === null || typeof callback !== "function") {
    throw new TypeError(
      `Cannot ${action} as 'handler.${name}' must be a function${
        framed ? " with a 'codec'" : ""
      }: received ` + (handler === null ? "null" : typeof callback),
    );
  }
}
