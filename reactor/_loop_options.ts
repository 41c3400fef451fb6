// Validation of `EventLoopOptions` and `RegisterOptions` into the core's
// settings, with std-style errors naming the option, the rule and the value.

import { formatValue } from "../_internal/format.ts";
import {
  MAX_BUFFER_SIZE,
  validateAtLeast,
  validateAtMost,
  validateByteSize,
  validateInteger,
  validateMilliseconds,
} from "../_internal/validate.ts";
import { BufferPool } from "./buffer_pool.ts";
import type { Token } from "./token.ts";
import type {
  EventLoopOptions,
  RegisterOptions,
} from "./event_loop_options.ts";

/** Most events dispatched before a yield: beyond it a yield is never taken. */
const MAX_EVENTS_CAPACITY = 2 ** 20;

/** The validated settings of a loop. */
export interface LoopSettings {
  cap: number;
  minRead: number;
  maxRead: number;
  hwm: number;
  lwm: number;
  maxCoalesce: number;
  acceptDelay: number;
  pool: BufferPool;
  onError: (error: unknown, token: Token | undefined) => void;
}

/** Checks that `value` is an integer from 1 to `max` (1 GiB by default). */
export function positiveInt(
  name: string,
  value: unknown,
  action: string,
  max: number = MAX_BUFFER_SIZE,
): number {
  return validateInteger(action, name, value, { min: 1, max });
}

/** Throws a TypeError unless `value` is a function. */
export function assertFunction(
  name: string,
  value: unknown,
  action: string,
): void {
  if (typeof value !== "function") {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be a function: received ${
        formatValue(value)
      }`,
    );
  }
}

function defaultOnError(error: unknown, token: Token | undefined): void {
  // deno-lint-ignore no-console
  console.error(
    token === undefined
      ? "EventLoop: a timer callback threw:"
      : `EventLoop: the handler of token ${token} threw:`,
    error,
  );
}

/** Validates the options of `new EventLoop()`, applying the defaults. */
export function loopSettings(options: EventLoopOptions): LoopSettings {
  const action = "create event loop";
  const cap = positiveInt(
    "eventsCapacity",
    options.eventsCapacity ?? 1024,
    action,
    MAX_EVENTS_CAPACITY,
  );
  const minRead = positiveInt(
    "minReadBufferSize",
    options.minReadBufferSize ?? 64,
    action,
  );
  const maxRead = validateAtLeast(
    action,
    "maxReadBufferSize",
    positiveInt(
      "maxReadBufferSize",
      options.maxReadBufferSize ?? 65536,
      action,
    ),
    "minReadBufferSize",
    minRead,
  );
  const hwm = validateByteSize(
    action,
    "writeHighWaterMark",
    options.writeHighWaterMark ?? 65536,
    2,
  );
  // Strictly below the high mark: a writable event means room to write.
  const lwm = validateAtMost(
    action,
    "writeLowWaterMark",
    positiveInt(
      "writeLowWaterMark",
      options.writeLowWaterMark ?? Math.min(16384, Math.ceil(hwm / 4)),
      action,
    ),
    "writeHighWaterMark",
    hwm,
    true,
  );
  const maxCoalesce = positiveInt(
    "maxCoalesceSize",
    options.maxCoalesceSize ?? 65536,
    action,
  );
  const acceptDelay = validateMilliseconds(
    action,
    "acceptErrorDelayMs",
    options.acceptErrorDelayMs ?? 100,
  );
  if (
    options.bufferPool !== undefined &&
    !(options.bufferPool instanceof BufferPool)
  ) {
    throw new TypeError(
      `Cannot ${action} as 'bufferPool' must be a BufferPool`,
    );
  }
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw new TypeError(`Cannot ${action} as 'onError' must be a function`);
  }
  return {
    cap,
    minRead,
    maxRead,
    hwm,
    lwm,
    maxCoalesce,
    acceptDelay,
    pool: options.bufferPool ?? new BufferPool(),
    onError: options.onError ?? defaultOnError,
  };
}

/**
 * The receive buffer bounds of one registration: the loop's unless
 * overridden; the minimum rounded up to a pool size class.
 */
export function readBufferBounds(
  settings: LoopSettings,
  options: RegisterOptions,
  action: string,
): [min: number, max: number] {
  let minRead = settings.minRead;
  let maxRead = settings.maxRead;
  if (options.minReadBufferSize !== undefined) {
    minRead = positiveInt(
      "minReadBufferSize",
      options.minReadBufferSize,
      action,
    );
  }
  if (options.maxReadBufferSize !== undefined) {
    maxRead = positiveInt(
      "maxReadBufferSize",
      options.maxReadBufferSize,
      action,
    );
  }
  if (maxRead < minRead) maxRead = minRead;
  return [settings.pool.classSize(minRead), maxRead];
}
