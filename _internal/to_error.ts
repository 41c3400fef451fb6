// Handlers may throw anything: a string, `null`, an object without a
// prototype, or one whose `toString` throws. Turning such a value into an
// Error must never throw itself, or a misbehaving handler would escape the
// isolation that costs it only its own source.

/** Returns `value` if it is an Error, else an Error describing it, with `value` as `cause`. */
export function toError(value: unknown): Error {
  try {
    if (value instanceof Error) return value;
  } catch {
    // A revoked Proxy throws even on `instanceof`.
  }
  return new Error(`Non-error value thrown: ${describe(value)}`, {
    cause: value,
  });
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return typeof value;
    }
  }
}
