// Checks of the options objects that TcpStream and TcpListener share, so both
// reject bad input with the same messages, and of TcpStream's read arguments.
import type { Codec } from "../codec/codec.ts";
import {
  invalidOption,
  MAX_BUFFER_SIZE,
  validateByteSize,
  validateInteger,
  validateTypeOf,
  validateUint8Array,
} from "../../_internal/validate.ts";
import { validateSignal, validateTimeout } from "../_deadline.ts";
import type {
  TcpStreamCallOptions,
  TcpStreamOptions,
} from "./tcp_stream_options.ts";

/** Checks that `options` is an object (not `null`). */
export function validateOptionsObject(action: string, options: unknown): void {
  validateTypeOf(action, "options", options, "object");
}

/** Checks the options of one call: an object with `timeoutMs` and `signal`. */
export function validateCallOptions(
  action: string,
  options: TcpStreamCallOptions,
): void {
  validateOptionsObject(action, options);
  validateTimeout(action, "timeoutMs", options.timeoutMs);
  validateSignal(action, options.signal);
}

/** Checks a stream's defaults: an object with read and write timeouts. */
export function validateStreamOptions(
  action: string,
  options: TcpStreamOptions,
): void {
  validateOptionsObject(action, options);
  validateTimeout(action, "readTimeoutMs", options.readTimeoutMs);
  validateTimeout(action, "writeTimeoutMs", options.writeTimeoutMs);
}

/** `maxLength` (or `defaultValue`) checked: 0 to 1 GiB, or `Infinity`. */
export function validateMaxLength(
  action: string,
  value: unknown,
  defaultValue: number,
): number {
  return validateInteger(action, "maxLength", value ?? defaultValue, {
    min: 0,
    max: MAX_BUFFER_SIZE,
    allowInfinity: true,
  });
}

/** A copy of `delimiter` (one or more bytes), which the caller may reuse. */
export function copyDelimiter(action: string, delimiter: unknown): Uint8Array {
  validateUint8Array(action, "delimiter", delimiter);
  if ((delimiter as Uint8Array).length === 0) {
    throw new RangeError(
      `Cannot ${action} as 'delimiter' must not be empty: received 0 bytes`,
    );
  }
  return (delimiter as Uint8Array).slice();
}

/** Checks that `codec` is a `Codec` (has `createDecoder()`). */
export function validateCodec(action: string, codec: unknown): void {
  if (typeof (codec as Codec<unknown, unknown>)?.createDecoder !== "function") {
    throw invalidOption(TypeError, action, "codec", "a Codec", codec);
  }
}

/** The error of a `name` that is not a `Uint8Array`, or `undefined`. */
export function bytesError(
  action: string,
  name: string,
  value: unknown,
): TypeError | undefined {
  return value instanceof Uint8Array ? undefined : invalidOption(
    TypeError,
    action,
    name,
    "a Uint8Array",
    value,
  ) as TypeError;
}

/** What `check` throws, or `undefined`: a bad argument, to reject with. */
export function argumentError(check: () => unknown): Error | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** The error of a bad read `length` (0 to 1 GiB), or `undefined`. */
export function lengthError(
  action: string,
  length: unknown,
): Error | undefined {
  // The check inline: readExact is on a stream's per-message path.
  if (
    typeof length === "number" && Number.isInteger(length) && length >= 0 &&
    length <= MAX_BUFFER_SIZE
  ) return undefined;
  return argumentError(() => validateByteSize(action, "length", length, 0));
}
