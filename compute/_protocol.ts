// Messages between the pool (main thread) and its workers. Tasks and small
// results travel through shared memory (_layout.ts); these messages carry
// what does not fit there, and the lifecycle. Each direction is a
// discriminated union on `type`.

import type { SerializedError } from "./_errors.ts";

/** Main → worker: the first message; the worker imports the task module. */
export interface InitMessage {
  readonly type: "init";
  readonly sab: SharedArrayBuffer;
  /** Index of the worker area this worker owns. */
  readonly area: number;
  /** Number of worker areas in the layout. */
  readonly areas: number;
  readonly moduleUrl: string;
  /** The pool's `workerData` (structured clone). */
  readonly workerData: unknown;
  /** Most async tasks the worker runs at once. */
  readonly concurrency: number;
}

/** Main → worker: the inputs a {@linkcode NeedInputsMessage} asked for. */
export interface InputsMessage {
  readonly type: "inputs";
  readonly ids: readonly number[];
  readonly values: readonly unknown[];
  /** `true` where the task settled meanwhile: do not run it. */
  readonly gone: readonly boolean[];
}

/** Main → worker: a task of this worker was cancelled (fires `ctx.signal`). */
export interface CancelMessage {
  readonly type: "cancel";
  readonly id: number;
}

/** What the pool sends a worker. */
export type ToWorker = InitMessage | InputsMessage | CancelMessage;

/** Worker → main: the task module loaded (or failed to). */
export interface ReadyMessage {
  readonly type: "ready";
  /** Names of the functions the task module exports. */
  readonly exports: readonly string[];
  readonly error?: SerializedError;
}

/** A result that did not fit a completion entry. */
export interface SideResult {
  readonly id: number;
  readonly ok: boolean;
  /** The value, or the {@linkcode SerializedError} when not `ok`. */
  readonly value: unknown;
  /** Absolute start time (ms). */
  readonly start: number;
  /** Run time (ms). */
  readonly run: number;
}

/** Worker → main: results that did not fit the completion ring, batched. */
export interface ResultsMessage {
  readonly type: "results";
  readonly results: readonly SideResult[];
}

/** Worker → main: send the inputs of these claimed tasks. */
export interface NeedInputsMessage {
  readonly type: "need-inputs";
  readonly ids: readonly number[];
}

/** Worker → main: a task reported progress (`ctx.progress(value)`). */
export interface ProgressMessage {
  readonly type: "progress";
  readonly id: number;
  readonly value: unknown;
}

/** Worker → main: the worker dies of this error. */
export interface FatalMessage {
  readonly type: "fatal";
  readonly error: SerializedError;
}

/** Worker → main: the worker stopped on request and exits. */
export interface ByeMessage {
  readonly type: "bye";
}

/** What a worker sends the pool. */
export type FromWorker =
  | ReadyMessage
  | ResultsMessage
  | NeedInputsMessage
  | ProgressMessage
  | FatalMessage
  | ByeMessage;
