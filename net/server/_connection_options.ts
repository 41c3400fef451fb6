// The per-connection options TcpServerConfig and TcpClient share, checked by
// one function so both accept the same ranges and say the same thing.
import {
  MAX_BUFFER_SIZE,
  validateAtLeast,
  validateInteger,
  validateMilliseconds,
  validateTypeOf,
  validateWaterMarks,
} from "../../_internal/validate.ts";
import type { ConnectionOptions } from "./connection_options.ts";

/** The per-connection options, validated, with defaults applied. */
export interface ConnectionOptionValues {
  noDelay: boolean;
  keepAlive: boolean;
  idleTimeoutMs: number;
  writeHighWaterMark: number;
  writeLowWaterMark: number;
  maxWriteBuffer: number;
}

/** Default write cap: 1 MiB, or 16 high-water marks when that is more. */
export function defaultMaxWriteBuffer(high: number): number {
  return Math.min(MAX_BUFFER_SIZE, Math.max(1_048_576, 16 * high));
}

/**
 * Validates the per-connection options and applies their defaults.
 *
 * Ranges: `idleTimeoutMs` whole ms from 0 (off) to 2 ** 31 - 1;
 * `writeHighWaterMark` 2 B to 1 GiB; `writeLowWaterMark` 1 B up to below the
 * high-water mark; `maxWriteBuffer` from the high-water mark to 1 GiB, or
 * `Infinity` (so the slow-consumer cut never fires before `write` has
 * reported backpressure).
 */
export function resolveConnectionOptions(
  action: string,
  options: ConnectionOptions,
): ConnectionOptionValues {
  const noDelay = validateTypeOf(
    action,
    "noDelay",
    options.noDelay ?? true,
    "boolean",
  );
  const keepAlive = validateTypeOf(
    action,
    "keepAlive",
    options.keepAlive ?? false,
    "boolean",
  );
  const idleTimeoutMs = validateMilliseconds(
    action,
    "idleTimeoutMs",
    options.idleTimeoutMs ?? 0,
  );
  const [writeHighWaterMark, writeLowWaterMark] = validateWaterMarks(
    action,
    options,
  );
  const maxWriteBuffer = validateAtLeast(
    action,
    "maxWriteBuffer",
    validateInteger(
      action,
      "maxWriteBuffer",
      options.maxWriteBuffer ?? defaultMaxWriteBuffer(writeHighWaterMark),
      { min: 1, max: MAX_BUFFER_SIZE, allowInfinity: true },
    ),
    "writeHighWaterMark",
    writeHighWaterMark,
  );
  return {
    noDelay,
    keepAlive,
    idleTimeoutMs,
    writeHighWaterMark,
    writeLowWaterMark,
    maxWriteBuffer,
  };
}
