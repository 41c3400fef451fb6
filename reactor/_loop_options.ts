// Validation of `EventLoopOptions` and `RegisterOptions` into the core's
// settings, with the shared validators of `_internal/validate.ts` (one rule
// and one message style for reactor/, net/ and compute/).

import { BufferPool } from "./buffer_pool.ts";

/** `EventLoopOptions.lingerMs` when not given. */
export const DEFAULT_LINGER_MS = 2000;
import type { Token } from "./token.ts";
import type {
  EventLoopOptions,
  RegisterOptions,
} from "./event_loop_options.ts";
import {
  invalidOption,
  validateAtLeast,
  validateByteSize,
  validateMilliseconds,
  validatePositiveInteger,
  validateTypeOf,
  validateWaterMarks,
} from "../_internal/validate.ts";

/** Most events dispatched without a macrotask turn (`eventsCapacity`). */
const MAX_EVENTS_CAPACITY = 2 ** 20;
/**
 * `eventsCapacity` by default. Real sockets complete in the runtime's own
 * turns, so for them the probe for a turn is pure cost, and it is not small:
 * with a probe in flight every 512 events (0.2's 1024) a saturated ping-pong
 * server cost 3–4 % more CPU per round trip than with one every 8,192, and the
 * probe's kind did not matter (a fresh MessageChannel, a kept one or
 * `setTimeout(0)` cost alike; docs/design.md, "Session 6"). 16,384 still
 * bounds a source that completes in microtasks (a few milliseconds of
 * dispatch at most) where the runtime itself bounds nothing.
 */
const DEFAULT_EVENTS_CAPACITY = 16_384;

/** The validated settings of a loop. */
export interface LoopSettings {
  cap: number;
  minRead: number;
  maxRead: number;
  hwm: number;
  lwm: number;
  maxCoalesce: number;
  acceptDelay: number;
  lingerMs: number;
  pool: BufferPool;
  onError: (error: unknown, token: Token | undefined) => void;
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
  const cap = validatePositiveInteger(
    action,
    "eventsCapacity",
    options.eventsCapacity ?? DEFAULT_EVENTS_CAPACITY,
    MAX_EVENTS_CAPACITY,
  );
  const minRead = validateByteSize(
    action,
    "minReadBufferSize",
    options.minReadBufferSize ?? 64,
  );
  const maxRead = validateAtLeast(
    action,
    "maxReadBufferSize",
    validateByteSize(
      action,
      "maxReadBufferSize",
      options.maxReadBufferSize ?? 65536,
    ),
    "minReadBufferSize",
    minRead,
  );
  const [hwm, lwm] = validateWaterMarks(action, options);
  const maxCoalesce = validateByteSize(
    action,
    "maxCoalesceSize",
    options.maxCoalesceSize ?? 65536,
  );
  const acceptDelay = validateMilliseconds(
    action,
    "acceptErrorDelayMs",
    options.acceptErrorDelayMs ?? 100,
  );
  const lingerMs = validateMilliseconds(
    action,
    "lingerMs",
    options.lingerMs ?? DEFAULT_LINGER_MS,
  );
  const pool = options.bufferPool ?? new BufferPool();
  if (!(pool instanceof BufferPool)) {
    throw invalidOption(TypeError, action, "bufferPool", "a BufferPool", pool);
  }
  const onError = options.onError === undefined
    ? defaultOnError
    : (validateTypeOf(
      action,
      "onError",
      options.onError,
      "function",
    ) as LoopSettings["onError"]);
  return {
    cap,
    minRead,
    maxRead,
    hwm,
    lwm,
    maxCoalesce,
    acceptDelay,
    lingerMs,
    pool,
    onError,
  };
}

/**
 * The receive buffer bounds of one registration: the loop's unless
 * overridden (a maximum below the minimum is raised to it); the minimum
 * rounded up to a pool size class.
 */
export function readBufferBounds(
  settings: LoopSettings,
  options: RegisterOptions,
  action: string,
): [min: number, max: number] {
  let minRead = settings.minRead;
  let maxRead = settings.maxRead;
  if (options.minReadBufferSize !== undefined) {
    minRead = validateByteSize(
      action,
      "minReadBufferSize",
      options.minReadBufferSize,
    );
  }
  if (options.maxReadBufferSize !== undefined) {
    maxRead = validateByteSize(
      action,
      "maxReadBufferSize",
      options.maxReadBufferSize,
    );
  }
  if (maxRead < minRead) maxRead = minRead;
  return [settings.pool.classSize(minRead), maxRead];
}
