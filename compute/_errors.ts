// Errors cross the worker boundary by structured cloning, which in Deno keeps
// the class of built-in errors (TypeError, DOMException...), the message, the
// stack and a cloneable `cause`. What cloning drops travels beside it: the
// name (custom classes arrive as Error), own properties such as `code`, and
// AggregateError's `errors`. Every read is guarded: a thrown value may have
// throwing getters, and the worker must survive it.

/** An error as sent between threads. */
export interface SerializedError {
  /** Whether the thrown value was an Error or DOMException. */
  readonly isError: boolean;
  /** Its structured clone, when it could be cloned. */
  readonly error?: unknown;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  /** Own enumerable properties (each one that could be cloned). */
  readonly props?: Record<string, unknown>;
  /** `AggregateError.errors`. */
  readonly errors?: SerializedError[];
  /** `cause`, when the clone lost it. */
  readonly cause?: SerializedError;
  /** A thrown value that is not an error. */
  readonly value?: unknown;
}

const MAX_DEPTH = 8; // causes and aggregated errors, nested

function read<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

function clone(value: unknown): { ok: boolean; value?: unknown } {
  try {
    return { ok: true, value: structuredClone(value) };
  } catch {
    return { ok: false };
  }
}

/** Turns a thrown value into something postMessage can carry. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (error instanceof Error || error instanceof DOMException) {
    const copy = clone(error);
    const name = read(() => String(error.name));
    const message = read(() => String(error.message));
    const stack = read(() => String(error.stack ?? ""));
    let props: Record<string, unknown> | undefined;
    for (const key of read(() => Object.keys(error)) ?? []) {
      if (key === "name" || key === "message" || key === "stack") continue;
      const value = clone(
        read(() => (error as unknown as Record<string, unknown>)[key]),
      );
      if (value.ok) (props ??= {})[key] = value.value;
    }
    let errors: SerializedError[] | undefined;
    if (error instanceof AggregateError && depth < MAX_DEPTH) {
      const list = read(() => Array.from(error.errors));
      errors = list?.map((e) => serializeError(e, depth + 1));
    }
    let cause: SerializedError | undefined;
    const clonedCause = copy.ok && Object.hasOwn(copy.value as object, "cause");
    if (!clonedCause && depth < MAX_DEPTH && read(() => "cause" in error)) {
      cause = serializeError(read(() => error.cause), depth + 1);
    }
    return {
      isError: true,
      ...(copy.ok ? { error: copy.value } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(message !== undefined ? { message } : {}),
      ...(stack !== undefined ? { stack } : {}),
      ...(props ? { props } : {}),
      ...(errors ? { errors } : {}),
      ...(cause ? { cause } : {}),
    };
  }
  const copy = clone(error);
  if (copy.ok) return { isError: false, value: copy.value };
  // Not cloneable: send a description; even that may throw (a hostile
  // toString).
  try {
    return { isError: false, value: String(error) };
  } catch {
    return { isError: false, value: Object.prototype.toString.call(error) };
  }
}

/** Rebuilds a thrown value from {@linkcode serializeError}. */
export function deserializeError(data: SerializedError): unknown {
  if (!data.isError) return data.value;
  let error: Error;
  if (data.errors !== undefined) {
    error = new AggregateError(
      data.errors.map(deserializeError),
      data.message ?? "",
    );
    if (data.error instanceof Error && Object.hasOwn(data.error, "cause")) {
      error.cause = data.error.cause;
    }
  } else if (
    data.error instanceof Error || data.error instanceof DOMException
  ) {
    error = data.error as Error;
  } else {
    error = new Error(data.message ?? "");
  }
  // Custom classes arrive as Error: their name says what they were.
  if (data.name !== undefined && error.name !== data.name) {
    read(() =>
      Object.defineProperty(error, "name", {
        value: data.name,
        writable: true,
        configurable: true,
      })
    );
  }
  const stack = data.stack;
  if (stack && error.stack !== stack) read(() => (error.stack = stack));
  if (data.cause !== undefined && !Object.hasOwn(error, "cause")) {
    error.cause = deserializeError(data.cause);
  }
  if (data.props !== undefined) {
    for (const [key, value] of Object.entries(data.props)) {
      if (!(key in error)) {
        (error as unknown as Record<string, unknown>)[key] = value;
      }
    }
  }
  return error;
}
