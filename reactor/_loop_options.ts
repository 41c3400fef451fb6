// Validation of `EventLoopOptions` and `RegisterOptions` into the core's
// settings, with std-style errors naming the option, the rule and the value.

import { formatValue } from "./interest.ts";
import { assertDelay } from "./timer.ts";
import { BufferPool } from "./buffer_pool.ts";
import type { Token } from "./token.ts";
import type {
  EventLoopOptions,
  RegisterOptions,
} from "./event_loop_options.ts";

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

/** Throws a RangeError unless `value` is a positive safe integer. */
export function positiveInt(
  name: string,
  value: unknown,
  action: string,
): number {
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 1
  ) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be a positive integer: received ${
        formatValue(value)
      }`,
    );
  }
  return value;
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
  );
  const minRead = positiveInt(
    "minReadBufferSize",
    options.minReadBufferSize ?? 64,
    action,
  );
  const maxRead = positiveInt(
    "maxReadBufferSize",
    options.maxReadBufferSize ?? 65536,
    action,
  );
  if (maxRead < minRead) {
    throw new RangeError(
      `Cannot ${action} as 'maxReadBufferSize' must be at least 'minReadBufferSize' (${minRead}): received ${maxRead}`,
    );
  }
  const hwm = positiveInt(
    "writeHighWaterMark",
    options.writeHighWaterMark ?? 65536,
    action,
  );
  const lwm = positiveInt(
    "writeLowWaterMark",
    options.writeLowWaterMark ?? Math.min(16384, hwm),
    action,
  );
  if (lwm > hwm) {
    throw new RangeError(
      `Cannot ${action} as 'writeLowWaterMark' must be at most 'writeHighWaterMark' (${hwm}): received ${lwm}`,
    );
  }
  const maxCoalesce = positiveInt(
    "maxCoalesceSize",
    options.maxCoalesceSize ?? 65536,
    action,
  );
  const acceptDelay = options.acceptErrorDelayMs ?? 100;
  assertDelay(acceptDelay, action);
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
