// Starting, stopping and disposing of a loop: what `run()`, `stop()` and
// `[Symbol.asyncDispose]()` do to the core beyond their bookkeeping.

import {
  closeChannel,
  closeEntry,
  type LoopCore,
  scheduleDrain,
} from "./_core.ts";
import { arm, disarm, runTimers } from "./_timer_source.ts";
import { updateKeepAlive } from "./_waker_source.ts";

/** `run()`: dispatch what queued meanwhile, arm timers and the keep-alive. */
export function startLoop(core: LoopCore): void {
  core.running = true;
  core.burst = 0;
  core.yieldPending = false;
  runTimers(core);
  arm(core);
  updateKeepAlive(core);
  scheduleDrain(core);
}

/** `stop()`: no more dispatch; the native timer and a pending yield go. */
export function stopLoop(core: LoopCore): void {
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
