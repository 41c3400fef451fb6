// One rendering of a value for every error message of reactor/, net/ and
// compute/, so `0` reads the same everywhere. Like std's `@std/internal`,
// this module is private: it is not exported from any `mod.ts`.

/** Strings longer than this are cut, so a stray megabyte never fills a log. */
const MAX_STRING_LENGTH = 64;

/**
 * Renders `value` for the `received …` part of an error message.
 *
 * - strings in single quotes, escaped, cut after 64 characters: `'tcp'`
 * - numbers, bigints, booleans, `null`, `undefined` and symbols bare:
 *   `0`, `-0`, `NaN`, `5n`, `true`, `null`, `Symbol(x)`
 * - everything else by its type: `a function`, `an empty array`,
 *   `an array of 3 items`, `a Uint8Array of 4 bytes`, `an object`,
 *   `a Date`, `an AbortSignal`
 *
 * Never throws, whatever the value (a revoked Proxy, a throwing getter).
 *
 * @param value Any value.
 * @returns A short, human-readable rendering.
 *
 * @example Usage
 * ```ts
 * import { formatValue } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(formatValue("tcp"), "'tcp'");
 * assertEquals(formatValue(0), "0");
 * assertEquals(formatValue([1, 2]), "an array of 2 items");
 * ```
 */
export function formatValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return formatString(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return value.toString();
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  try {
    return formatObject(value as object);
  } catch {
    // A revoked Proxy throws on every inspection.
    return "an object";
  }
}

function formatString(value: string): string {
  const cut = value.length > MAX_STRING_LENGTH;
  const shown = cut ? value.slice(0, MAX_STRING_LENGTH) : value;
  const escaped = JSON.stringify(shown).slice(1, -1).replaceAll('\\"', '"')
    .replaceAll("'", "\\'");
  return cut ? `'${escaped}…' (${value.length} characters)` : `'${escaped}'`;
}

function formatObject(value: object): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "an empty array";
    return `an array of ${value.length} ${
      value.length === 1 ? "item" : "items"
    }`;
  }
  if (value instanceof Uint8Array) {
    return `a Uint8Array of ${value.byteLength} ${
      value.byteLength === 1 ? "byte" : "bytes"
    }`;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return "an object";
  const name = prototype?.constructor?.name;
  if (typeof name !== "string" || name === "" || name === "Object") {
    return "an object";
  }
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}
