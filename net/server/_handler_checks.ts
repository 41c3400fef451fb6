// Checks of a NetworkHandler shared by TcpServer, TcpClient and the Workers
// of a multi-worker server: its required callback, and what a callback
// returned (an async callback's rejection is handled like a throw).

import type { NetworkHandler } from "./network_handler.ts";

/**
 * Calls `onRejected` if `result`, what a handler callback returned, is a
 * promise (any thenable) that rejects: an async callback's rejection is
 * handled like a throw. Cheap when the callback is synchronous.
 */
export function watchResult(
  result: void | PromiseLike<void>,
  onRejected: (error: unknown) => void,
): void {
  if (result !== undefined && typeof result.then === "function") {
    Promise.resolve(result).then(undefined, onRejected);
  }
}

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
