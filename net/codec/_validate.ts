// Option checks of the codecs: the shared validators of _internal/, with a
// default for options left out.

import {
  validateEnum,
  validateInteger,
  validateTypeOf,
} from "../../_internal/validate.ts";

export { invalidOption } from "../../_internal/validate.ts";

/** Checks an options argument: `undefined` or a non-null object. */
export function validateOptions<T extends object>(
  action: string,
  options: T | undefined,
): Partial<T> {
  if (options === undefined) return {};
  return validateTypeOf(action, "options", options, "object") as T;
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
  return validateInteger(action, name, value, { min, max });
}

/** Checks a `maxFrameSize` (a positive integer), or returns `fallback`. */
export function maxFrameSizeOption(
  action: string,
  value: unknown,
  fallback: number,
): number {
  return integerOption(action, "maxFrameSize", value, fallback, 1);
}

/** Checks one of `choices`, or returns `fallback` for `undefined`. */
export function enumOption<T extends string | number>(
  action: string,
  name: string,
  value: unknown,
  fallback: T,
  choices: readonly T[],
): T {
  if (value === undefined) return fallback;
  return validateEnum(action, name, value, choices);
}

/** Checks a boolean, or returns `fallback` for `undefined`. */
export function booleanOption(
  action: string,
  name: string,
  value: unknown,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  return validateTypeOf(action, name, value, "boolean");
}
