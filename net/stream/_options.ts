// Checks of the options objects that TcpStream and TcpListener share, so both
// reject bad input with the same messages.
import { validateObject } from "../../_internal/validate.ts";
import { validateSignal, validateTimeout } from "../_deadline.ts";
import type {
  TcpStreamCallOptions,
  TcpStreamOptions,
} from "./tcp_stream_options.ts";

/** Checks that `options` is an object (not `null`). */
export function validateOptionsObject(action: string, options: unknown): void {
  validateObject(action, "options", options);
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
