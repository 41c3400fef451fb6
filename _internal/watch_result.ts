// What a handler or callback returned: an async one's rejection is handled
// like a throw (reactor/ and net/ share this rule).

/** Whether `value` is a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Calls `onRejected` if `result`, what a handler callback returned, is a
 * thenable that rejects. Cheap when the callback is synchronous. (On a hot
 * path, test {@linkcode isThenable} first so that no `onRejected` closure is
 * made for a synchronous callback.)
 */
export function watchResult(
  result: unknown,
  onRejected: (error: unknown) => void,
): void {
  if (isThenable(result)) Promise.resolve(result).then(undefined, onRejected);
}
