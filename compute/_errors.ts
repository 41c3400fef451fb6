// Errors cross the worker boundary as plain fields so that the name (custom
// classes included), message and stack all survive.

/** An error as sent between threads. */
export interface SerializedError {
  readonly isError: boolean;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  readonly value?: unknown;
}

/** Turns a thrown value into something postMessage can carry. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || error instanceof DOMException) {
    return {
      isError: true,
      name: error.name,
      message: error.message,
      stack: error.stack ?? "",
    };
  }
  try {
    return { isError: false, value: structuredClone(error) };
  } catch {
    // Not cloneable: send a description; even that may throw (a hostile
    // toString), and the worker must survive it.
    try {
      return { isError: false, value: String(error) };
    } catch {
      return { isError: false, value: Object.prototype.toString.call(error) };
    }
  }
}

/** Rebuilds a thrown value from {@linkcode serializeError}. */
export function deserializeError(data: SerializedError): unknown {
  if (!data.isError) return data.value;
  const error = new Error(data.message ?? "");
  error.name = data.name ?? "Error";
  if (data.stack) error.stack = data.stack;
  return error;
}
