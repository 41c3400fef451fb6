// Option checks of the codecs. Messages follow the project's pattern:
//   Cannot <action> as '<name>' must be <rule>: received <value>

function describe(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}

/** Throws the project's standard option error. */
export function invalidOption(
  ErrorClass: TypeErrorConstructor | RangeErrorConstructor,
  action: string,
  name: string,
  rule: string,
  value: unknown,
): never {
  throw new ErrorClass(
    `Cannot ${action} as '${name}' must be ${rule}: received ${
      describe(value)
    }`,
  );
}

/** Checks an options argument: `undefined` or a non-null object. */
export function validateOptions<T extends object>(
  action: string,
  options: T | undefined,
): T | Record<string, never> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") {
    invalidOption(TypeError, action, "options", "an object", options);
  }
  return options;
}

/** Checks an integer in `[min, max]`, or returns `fallback` for `undefined`. */
export function integerOption(
  action: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value === "number" && Number.isInteger(value) && value >= min &&
    value <= max
  ) {
    return value;
  }
  const rule = max === Number.MAX_SAFE_INTEGER
    ? (min === 0
      ? "a non-negative integer"
      : min === 1
      ? "a positive integer"
      : `an integer of at least ${min}`)
    : `an integer from ${min} to ${max}`;
  return invalidOption(
    typeof value === "number" ? RangeError : TypeError,
    action,
    name,
    rule,
    value,
  );
}

/** Checks a value against a list of accepted ones. */
export function enumOption<T extends string | number | boolean>(
  action: string,
  name: string,
  value: unknown,
  fallback: T,
  accepted: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (accepted.includes(value as T)) return value as T;
  return invalidOption(
    typeof value === typeof fallback ? RangeError : TypeError,
    action,
    name,
    `one of ${accepted.map(describe).join(", ")}`,
    value,
  );
}
