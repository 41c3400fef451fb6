// Option validators shared by reactor/, net/ and compute/, so every layer
// rejects bad input with the same rules and the same std-style message:
//
//   Cannot <action> as '<name>' must be <rule>: received <value>
//
// A value of the wrong type throws a `TypeError`; a value of the right type
// outside its range (1.5 for an integer, 70000 for a port, '' for a hostname,
// 'udp' for a transport) throws a `RangeError`. Each validator returns the
// value, narrowed to its type, so a call reads `x = validateX(...)`.
import { formatValue } from "./format.ts";

/** Largest buffer or queue size in bytes any option accepts: 1 GiB. */
export const MAX_BUFFER_SIZE: number = 2 ** 30;
/** Largest accept queue: the kernel stores it in 16 bits (`somaxconn`). */
export const MAX_BACKLOG = 65535;
/** Largest delay `setTimeout` honours (2 ** 31 - 1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS: number = 2 ** 31 - 1;
/** Largest connection count: far above any process's file-descriptor limit. */
export const MAX_CONNECTIONS: number = 2 ** 24;
/** Largest TCP or UDP port. */
export const MAX_PORT = 65535;

/**
 * Builds the error every validator throws.
 *
 * @param ErrorClass `TypeError` for a wrong type, `RangeError` for a wrong value.
 * @param action What could not be done, e.g. `"create server"`.
 * @param name The option's name as the caller wrote it.
 * @param rule What the value must be, e.g. `"a positive integer"`.
 * @param value The value received.
 * @returns The error, for the caller to throw.
 */
export function invalidOption(
  ErrorClass: TypeErrorConstructor | RangeErrorConstructor,
  action: string,
  name: string,
  rule: string,
  value: unknown,
): TypeError | RangeError {
  return new ErrorClass(
    `Cannot ${action} as '${name}' must be ${rule}: received ${
      formatValue(value)
    }`,
  );
}

/** Renders a bound: large powers of two as `2 ** n`, the rest as digits. */
function formatBound(bound: number): string {
  if (bound >= 2 ** 16 && Number.isInteger(Math.log2(bound))) {
    return `2 ** ${Math.log2(bound)}`;
  }
  return String(bound);
}

/** The rule text for an integer in `[min, max]`. */
export function integerRule(
  min: number,
  max: number,
  allowInfinity = false,
): string {
  let rule: string;
  if (max >= Number.MAX_SAFE_INTEGER) {
    rule = min === 0
      ? "a non-negative integer"
      : min === 1
      ? "a positive integer"
      : `an integer of at least ${formatBound(min)}`;
  } else {
    rule = `an integer from ${formatBound(min)} to ${formatBound(max)}`;
  }
  return allowInfinity ? `${rule} or Infinity` : rule;
}

/** Bounds of {@linkcode validateInteger}. */
export interface IntegerBounds {
  /** Smallest accepted value. @default {0} */
  min?: number;
  /** Largest accepted value. @default {Number.MAX_SAFE_INTEGER} */
  max?: number;
  /** Also accept `Infinity` (meaning "no limit"). @default {false} */
  allowInfinity?: boolean;
}

/**
 * Checks that `value` is an integer in `[min, max]` (or `Infinity` when
 * allowed).
 *
 * @throws {TypeError} If `value` is not a number.
 * @throws {RangeError} If it is not an integer or is out of range.
 */
export function validateInteger(
  action: string,
  name: string,
  value: unknown,
  bounds: IntegerBounds = {},
): number {
  const {
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
    allowInfinity = false,
  } = bounds;
  const ErrorClass = typeof value === "number" ? RangeError : TypeError;
  if (typeof value === "number") {
    if (allowInfinity && value === Infinity) return value;
    if (Number.isInteger(value) && value >= min && value <= max) return value;
  }
  throw invalidOption(
    ErrorClass,
    action,
    name,
    integerRule(min, max, allowInfinity),
    value,
  );
}

/** Checks that `value` is an integer from 1 to `max`. */
export function validatePositiveInteger(
  action: string,
  name: string,
  value: unknown,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  return validateInteger(action, name, value, { min: 1, max });
}

/** Checks that `value` is a buffer or queue size from `min` bytes to 1 GiB. */
export function validateByteSize(
  action: string,
  name: string,
  value: unknown,
  min = 1,
): number {
  return validateInteger(action, name, value, { min, max: MAX_BUFFER_SIZE });
}

/** Options of {@linkcode validateMilliseconds}. */
export interface MillisecondsOptions {
  /** Smallest accepted value. @default {0} */
  min?: number;
  /** Also accept `Infinity` ("never"). @default {false} */
  allowInfinity?: boolean;
}

/**
 * Checks that `value` is a whole number of milliseconds that `setTimeout`
 * can wait: from `min` to 2 ** 31 - 1 (or `Infinity` when allowed).
 *
 * @throws {TypeError} If `value` is not a number.
 * @throws {RangeError} If it is fractional, negative or too large.
 */
export function validateMilliseconds(
  action: string,
  name: string,
  value: unknown,
  options: MillisecondsOptions = {},
): number {
  const { min = 0, allowInfinity = false } = options;
  return validateInteger(action, name, value, {
    min,
    max: MAX_TIMEOUT_MS,
    allowInfinity,
  });
}

/** Options of {@linkcode validateDelay}. */
export interface DelayOptions {
  /** Also accept `Infinity` ("never"). @default {false} */
  allowInfinity?: boolean;
}

/**
 * Checks a delay given at call time (a timer's `delayMs`, a call's
 * `timeoutMs`): milliseconds from 0 to 2 ** 31 - 1, fractions allowed, since
 * such a delay is often what remains of a deadline measured with
 * `performance.now()`. Settings (an idle timeout, a back-off) use
 * {@linkcode validateMilliseconds} and take whole milliseconds.
 *
 * @throws {TypeError} If `value` is not a number.
 * @throws {RangeError} If it is negative, `NaN` or too large.
 */
export function validateDelay(
  action: string,
  name: string,
  value: unknown,
  options: DelayOptions = {},
): number {
  const { allowInfinity = false } = options;
  if (typeof value === "number") {
    if (value >= 0 && value <= MAX_TIMEOUT_MS) return value;
    if (allowInfinity && value === Infinity) return value;
  }
  throw invalidOption(
    typeof value === "number" ? RangeError : TypeError,
    action,
    name,
    `a number from 0 to ${MAX_TIMEOUT_MS}${
      allowInfinity ? " or Infinity" : ""
    }`,
    value,
  );
}

/** Checks that `value` is a port: 0 to 65535, or 1 to 65535 for a peer. */
export function validatePort(
  action: string,
  name: string,
  value: unknown,
  allowZero = true,
): number {
  return validateInteger(action, name, value, {
    min: allowZero ? 0 : 1,
    max: MAX_PORT,
  });
}

/**
 * Returns `value` when `ok`, else throws the `TypeError` of a value that is
 * not `rule`: the body of every type check below. Each caller writes its
 * test inline, so `write()`'s check stays a direct `instanceof`.
 */
function checkType<T>(
  ok: boolean,
  action: string,
  name: string,
  rule: string,
  value: unknown,
): T {
  if (!ok) throw invalidOption(TypeError, action, name, rule, value);
  return value as T;
}

/** The values {@linkcode validateTypeOf} checks for, by what `typeof` says. */
export interface TypeOfNames {
  boolean: boolean;
  function: (...args: never[]) => unknown;
  object: object;
}

const TYPE_RULES: Readonly<Record<keyof TypeOfNames, string>> = {
  boolean: "a boolean",
  function: "a function",
  object: "an object",
};

/**
 * Checks that `typeof value` is `type`: a boolean, a function, or an object
 * (not `null`; a function is not one).
 */
export function validateTypeOf<K extends keyof TypeOfNames>(
  action: string,
  name: string,
  value: unknown,
  type: K,
): TypeOfNames[K] {
  const ok = typeof value === type && value !== null;
  return checkType<TypeOfNames[K]>(ok, action, name, TYPE_RULES[type], value);
}

/** Checks that `value` is a string, and not empty unless `allowEmpty`. */
export function validateString(
  action: string,
  name: string,
  value: unknown,
  allowEmpty = false,
): string {
  const rule = allowEmpty ? "a string" : "a non-empty string";
  const ok = typeof value === "string";
  const text = checkType<string>(ok, action, name, rule, value);
  if (!allowEmpty && text === "") {
    throw invalidOption(RangeError, action, name, rule, value);
  }
  return text;
}

/**
 * Checks that `value` looks like a hostname or an IP address: a non-empty
 * string of at most 255 characters without spaces, control characters or
 * slashes. Whether it resolves is for the resolver to say.
 *
 * @throws {TypeError} If `value` is not a string.
 * @throws {RangeError} If it cannot be a hostname.
 */
export function validateHostname(
  action: string,
  name: string,
  value: unknown,
): string {
  const rule = "a non-empty hostname or IP address";
  const ok = typeof value === "string";
  const host = checkType<string>(ok, action, name, rule, value);
  if (host === "" || host.length > 255 || HOSTNAME_JUNK.test(host)) {
    throw invalidOption(RangeError, action, name, rule, value);
  }
  return host;
}

/** Spaces, control characters and slashes: never part of a hostname. */
// deno-lint-ignore no-control-regex
const HOSTNAME_JUNK = /[\s\x00-\x1f\x7f/\\]/;

/** Renders choices as `'a', 'b' or 'c'`. */
function formatChoices(choices: readonly unknown[]): string {
  const shown = choices.map(formatValue);
  if (shown.length <= 1) return shown.join("");
  return `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}`;
}

/**
 * Checks that `value` is one of `choices`.
 *
 * @throws {TypeError} If its type is not the type of the choices.
 * @throws {RangeError} If it has the right type but is not a choice.
 */
export function validateEnum<T extends string | number>(
  action: string,
  name: string,
  value: unknown,
  choices: readonly T[],
): T {
  if ((choices as readonly unknown[]).includes(value)) return value as T;
  const ErrorClass = choices.some((choice) => typeof choice === typeof value)
    ? RangeError
    : TypeError;
  throw invalidOption(
    ErrorClass,
    action,
    name,
    formatChoices(choices),
    value,
  );
}

/** Checks that `value` is an `AbortSignal` or `undefined`. */
export function validateSignal(
  action: string,
  name: string,
  value: unknown,
): AbortSignal | undefined {
  const ok = value === undefined || value instanceof AbortSignal;
  return checkType<AbortSignal | undefined>(
    ok,
    action,
    name,
    "an AbortSignal",
    value,
  );
}

/** Checks that `value` is a `Uint8Array`. */
export function validateUint8Array(
  action: string,
  name: string,
  value: unknown,
): Uint8Array {
  const ok = value instanceof Uint8Array;
  return checkType<Uint8Array>(ok, action, name, "a Uint8Array", value);
}

/**
 * Checks an order between two validated numbers: `value` below `other`
 * (`strict`) or at most `other`.
 *
 * @throws {RangeError} `Cannot <action> as '<name>' must be less than
 * '<otherName>' (<other>): received <value>`.
 */
export function validateAtMost(
  action: string,
  name: string,
  value: number,
  otherName: string,
  other: number,
  strict = false,
): number {
  if (strict ? value < other : value <= other) return value;
  throw invalidOption(
    RangeError,
    action,
    name,
    `${strict ? "less than" : "at most"} '${otherName}' (${
      formatValue(other)
    })`,
    value,
  );
}

/**
 * Checks that `value` is at least `other`.
 *
 * @throws {RangeError} `Cannot <action> as '<name>' must be at least
 * '<otherName>' (<other>): received <value>`.
 */
export function validateAtLeast(
  action: string,
  name: string,
  value: number,
  otherName: string,
  other: number,
): number {
  if (value >= other) return value;
  throw invalidOption(
    RangeError,
    action,
    name,
    `at least '${otherName}' (${formatValue(other)})`,
    value,
  );
}

/** Default low-water mark for a high-water mark: a quarter, at most 16 KiB. */
export function defaultLowWaterMark(high: number): number {
  return Math.min(16384, Math.ceil(high / 4));
}

/** The two options of a write queue's marks, as every layer names them. */
export interface WaterMarkOptions {
  /** The queue size at which `write` reports backpressure. */
  writeHighWaterMark?: unknown;
  /** The queue size below which a writable event fires again. */
  writeLowWaterMark?: unknown;
}

/**
 * Checks a write queue's marks (`writeHighWaterMark`, `writeLowWaterMark`)
 * and applies their defaults: the high mark 2 B to 1 GiB (64 KiB), the low
 * mark from 1 B to strictly below it (a writable event means room to
 * write; {@linkcode defaultLowWaterMark}).
 *
 * @throws {TypeError} If a mark is not a number.
 * @throws {RangeError} If it is out of range.
 */
export function validateWaterMarks(
  action: string,
  options: WaterMarkOptions,
): [high: number, low: number] {
  const hwm = validateByteSize(
    action,
    "writeHighWaterMark",
    options.writeHighWaterMark ?? 65536,
    2,
  );
  const lwm = validateByteSize(
    action,
    "writeLowWaterMark",
    options.writeLowWaterMark ?? defaultLowWaterMark(hwm),
  );
  return [
    hwm,
    validateAtMost(
      action,
      "writeLowWaterMark",
      lwm,
      "writeHighWaterMark",
      hwm,
      true,
    ),
  ];
}
