// ComputePool's options, validated and resolved once at construction (the
// shared validators of _internal/ give every layer the same messages).

import { formatValue } from "../_internal/format.ts";
import {
  validateInteger,
  validateMilliseconds,
  validatePositiveInteger,
  validateString,
} from "../_internal/validate.ts";
import { MAX_FLIGHTS, PRIORITIES } from "./_layout.ts";
import type { ComputePoolOptions } from "./types.ts";

const CREATE = "create compute pool";

/** The options of a pool, every default applied. */
export interface ResolvedPoolOptions {
  readonly moduleUrl: string;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly maxQueue: number;
  readonly agingMs: number;
  readonly taskTimeoutMs: number;
  readonly stuckAfterMs: number;
  readonly idleTimeoutMs: number;
  readonly concurrency: number;
  readonly workerData: unknown;
  readonly name: string;
}

/**
 * Validates `options` and applies the defaults.
 *
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function resolvePoolOptions(
  taskModuleUrl: string | URL,
  options: ComputePoolOptions,
): ResolvedPoolOptions {
  const cores = navigator.hardwareConcurrency;
  const fixed = options.workers === undefined
    ? undefined
    : validatePositiveInteger(CREATE, "workers", options.workers);
  const maxWorkers = validatePositiveInteger(
    CREATE,
    "maxWorkers",
    options.maxWorkers ?? fixed ?? Math.max(cores, options.minWorkers ?? 1),
  );
  const minWorkers = validateInteger(
    CREATE,
    "minWorkers",
    options.minWorkers ??
      fixed ?? (options.maxWorkers === undefined ? maxWorkers : 1),
    { min: 1, max: maxWorkers },
  );
  const ms = (name: string, value: number, min = 0) =>
    validateMilliseconds(CREATE, name, value, { min, allowInfinity: true });
  const workerData = options.workerData;
  try {
    structuredClone(workerData);
  } catch (error) {
    throw new TypeError(
      `Cannot create compute pool as 'workerData' must be structured-cloneable: received ${
        formatValue(workerData)
      } (${(error as Error).message})`,
    );
  }
  if (
    typeof taskModuleUrl !== "string" && !(taskModuleUrl instanceof URL)
  ) {
    throw new TypeError(
      `Cannot create compute pool as the task module must be a URL or a string: received ${
        formatValue(taskModuleUrl)
      }`,
    );
  }
  return {
    moduleUrl: typeof taskModuleUrl === "string"
      ? new URL(taskModuleUrl, `file://${Deno.cwd()}/`).href
      : taskModuleUrl.href,
    minWorkers,
    maxWorkers,
    maxQueue: validateInteger(
      CREATE,
      "maxQueue",
      options.maxQueue ?? Infinity,
      {
        min: 1,
        allowInfinity: true,
      },
    ),
    agingMs: ms("agingMs", options.agingMs ?? 1000, 1),
    taskTimeoutMs: ms("taskTimeoutMs", options.taskTimeoutMs ?? Infinity),
    stuckAfterMs: ms("stuckAfterMs", options.stuckAfterMs ?? 10_000),
    idleTimeoutMs: ms("idleTimeoutMs", options.idleTimeoutMs ?? 10_000),
    concurrency: validateInteger(
      CREATE,
      "concurrentTasksPerWorker",
      options.concurrentTasksPerWorker ?? 1,
      { min: 1, max: MAX_FLIGHTS },
    ),
    workerData,
    name: validateString(CREATE, "name", options.name ?? "compute", true),
  };
}

/**
 * The error to reject `run(name, …)` with when an option is invalid;
 * `undefined` when they are fine. (Checked on every call: kept cheap.)
 */
export function runOptionsError(
  name: string,
  priority: unknown,
  timeoutMs: unknown,
  onProgress: unknown,
): Error | undefined {
  if (
    typeof priority !== "number" || !Number.isInteger(priority) ||
    priority < 0 || priority >= PRIORITIES
  ) {
    return new (typeof priority === "number" ? RangeError : TypeError)(
      `Cannot run task ${
        formatValue(name)
      } as 'priority' must be a TaskPriority (0 to 3): received ${
        formatValue(priority)
      }`,
    );
  }
  if (
    typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0
  ) {
    return new (typeof timeoutMs === "number" ? RangeError : TypeError)(
      `Cannot run task ${
        formatValue(name)
      } as 'timeoutMs' must be a non-negative number: received ${
        formatValue(timeoutMs)
      }`,
    );
  }
  if (onProgress !== undefined && typeof onProgress !== "function") {
    return new TypeError(
      `Cannot run task ${
        formatValue(name)
      } as 'onProgress' must be a function: received ${
        formatValue(onProgress)
      }`,
    );
  }
  return undefined;
}
