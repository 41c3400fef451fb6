// Starting, stopping and disposing of a loop: what `run()`, `stop()`,
// `metrics()` and `[Symbol.asyncDispose]()` do for `EventLoop`.

import {
  closeChannel,
  closeEntry,
  type LoopCore,
  scheduleDrain,
} from "./_core.ts";
import { arm, disarm, runTimers } from "./_timer_source.ts";
import { updateKeepAlive } from "./_waker_source.ts";
import type {
  EventLoopMetrics,
  EventLoopRunOptions,
} from "./event_loop_options.ts";

/** `run()` and `stop()`: the promise `run()` returns and its stop signal. */
export class LoopRunner {
  #core: LoopCore;
  #resolve: (() => void) | undefined = undefined;
  #signal: AbortSignal | undefined = undefined;
  #onAbort = (): void => this.stop();

  constructor(core: LoopCore) {
    this.#core = core;
  }

  /** Starts dispatching; resolves on `stop()` or when `signal` aborts. */
  start(options: EventLoopRunOptions): Promise<void> {
    const core = this.#core;
    if (core.running) {
      return Promise.reject(
        new TypeError("Cannot run event loop as it is already running"),
      );
    }
    if (core.disposed) {
      return Promise.reject(
        new TypeError("Cannot run event loop as it is disposed"),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#resolve = resolve;
    if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    startLoop(core);
    return promise;
  }

  /** Stops dispatching and resolves `start()`'s promise; idempotent. */
  stop(): void {
    const core = this.#core;
    if (!core.running) return;
    stopLoop(core);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#signal = undefined;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }
}

/** `run()`: dispatch what queued meanwhile, arm timers and the keep-alive. */
function startLoop(core: LoopCore): void {
  core.running = true;
  core.burst = 0;
  core.yieldPending = false;
  runTimers(core);
  arm(core);
  updateKeepAlive(core);
  scheduleDrain(core);
}

/** `stop()`: no more dispatch; the native timer and a pending yield go. */
function stopLoop(core: LoopCore): void {
  core.running = false;
  disarm(core);
  updateKeepAlive(core);
  closeChannel(core);
  core.yieldPending = false;
}

/**
 * Dispose: closes every source and cancels every timer; resolves once
 * their operations settled.
 */
export async function disposeLoop(core: LoopCore): Promise<void> {
  core.disposed = true;
  // Graceful closes (flush, then linger) end now: disposing closes at once.
  for (const stop of [...core.closers]) stop();
  for (const e of [...core.entries.values()]) closeEntry(core, e);
  core.timers.clear();
  disarm(core);
  while (core.lingering.size > 0) {
    await Promise.all([...core.lingering]);
  }
}

/** `metrics()`: a snapshot of the counters. */
export function metricsOf(
  core: LoopCore,
  pendingCompute: number,
): EventLoopMetrics {
  return {
    ticks: core.ticks,
    eventsDispatched: core.eventsDispatched,
    reads: core.reads,
    writes: core.writes,
    bytesRead: core.bytesRead,
    bytesWritten: core.bytesWritten,
    registeredSources: core.entries.size,
    closingSources: core.closers.size,
    pendingTimers: core.timers.size,
    pendingCompute,
    handlerErrors: core.handlerErrors,
    acceptErrors: core.acceptErrors,
  };
}
