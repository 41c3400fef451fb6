// Classification of errors thrown by `Deno.Listener.accept()`, shared by the
// reactor's listener sources and `net/`'s stream-style listener.
//
// tk-listen's policy: a peer that reset or aborted its connection before we
// accepted it says nothing about the listener, so accept again at once. Any
// other error (EMFILE/ENFILE when descriptors run out, ENOMEM, ...) will most
// likely repeat on the next call, so report it and back off instead of spinning.

/** What to do after an accept error. */
export type AcceptErrorAction = "retry" | "backoff" | "closed";

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "ECONNREFUSED",
  "EPROTO",
  "EPERM",
  "EINTR",
]);

/** Decides how a listener loop reacts to an error thrown by `accept()`. */
export function classifyAcceptError(error: unknown): AcceptErrorAction {
  if (
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted
  ) {
    // The listener was closed (locally) while an accept was pending.
    return "closed";
  }
  if (
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionRefused
  ) {
    return "retry";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_CODES.has(code)) return "retry";
  return "backoff";
}

/** Whether an accept error means the process or system ran out of descriptors. */
export function isDescriptorExhaustion(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}
