// Timers: `addTimer` callbacks and `Timer` sources share one heap
// (`_internal/timer_heap.ts`) and one native timer armed for the earliest
// deadline. Expiries run when the native timer fires and at every yield; a
// Timer source's expiry is an event (one-shot ones close after it).

import { watchResult } from "../_internal/watch_result.ts";
import { Interest } from "./interest.ts";
import {
  assertDelay,
  assertInterval,
  type Timer,
  type TimerHandle,
  type TimerOptions,
} from "./timer.ts";
import { validateTypeOf } from "../_internal/validate.ts";
import { type Entry, KIND_TIMER, type MutableEvent } from "./_entry.ts";
import {
  drain,
  enqueueSoon,
  type LoopCore,
  type SourceKind,
  yieldTurn,
} from "./_core.ts";
import { TimerNode } from "../_internal/timer_heap.ts";

const READABLE = Interest.READABLE;

class TimerHandleImpl implements TimerHandle {
  #node: TimerNode;
  #core: LoopCore;
  constructor(node: TimerNode, core: LoopCore) {
    this.#node = node;
    this.#core = core;
  }
  get active(): boolean {
    return this.#node.index >= 0;
  }
  cancel(): void {
    const core = this.#core;
    if (core.timers.remove(this.#node) && core.timers.size === 0) {
      disarm(core);
    }
  }
  [Symbol.dispose](): void {
    this.cancel();
  }
}

/** `addTimer()`: checks the arguments and schedules a callback timer. */
export function addCallbackTimer(
  core: LoopCore,
  delayMs: number,
  callback: (() => void) | (() => Promise<void>),
  options: TimerOptions,
): TimerHandle {
  const action = "add timer";
  assertDelay(delayMs, action);
  validateTypeOf(action, "callback", callback, "function");
  if (options.intervalMs !== undefined) {
    assertInterval(options.intervalMs, action);
  }
  if (core.disposed) {
    throw new TypeError(`Cannot ${action} as the event loop is disposed`);
  }
  const node = new TimerNode(callback, -1);
  node.intervalMs = options.intervalMs ?? 0;
  core.timers.push(node, performance.now() + delayMs);
  arm(core);
  return new TimerHandleImpl(node, core);
}

/**
 * Runs the expired timers: callbacks are called, Timer sources queued. At
 * most `cap` per turn; the rest after a yield.
 */
export function runTimers(core: LoopCore): void {
  const heap = core.timers;
  if (heap.size === 0) return;
  const now = performance.now();
  const cap = core.cap;
  let fired = 0;
  for (;;) {
    const node = heap.peek();
    if (node === undefined || node.deadline > now) break;
    if (fired++ >= cap) {
      yieldTurn(core);
      break;
    }
    heap.pop();
    if (node.intervalMs > 0) {
      let next = node.deadline + node.intervalMs;
      if (next <= now) next = now + node.intervalMs;
      heap.push(node, next);
    }
    const entry = node.entry as Entry | undefined;
    if (entry !== undefined) {
      if (!entry.registered) continue;
      entry.fired = true;
      // Dispatched by whoever called us (a drain follows every call).
      if (entry.interest & READABLE && !entry.queued) {
        entry.queued = true;
        core.ready.push(entry);
      }
    } else {
      try {
        const result = node.callback!();
        // An async callback's rejection is reported like a throw.
        watchResult(result, core.timerFailed);
      } catch (error) {
        core.timerFailed(error);
      }
    }
  }
}

/** The native timer fired: run what expired, re-arm, dispatch. */
export function onNativeTimer(core: LoopCore): void {
  core.armedId = undefined;
  core.armedDeadline = Infinity;
  if (!core.running) return;
  runTimers(core);
  arm(core);
  if (!core.draining && !core.yieldPending) drain(core);
}

/** Arms the native timer for the earliest deadline (while running). */
export function arm(core: LoopCore): void {
  if (!core.running) return;
  const top = core.timers.peek();
  if (top === undefined) {
    disarm(core);
    return;
  }
  if (core.armedId !== undefined && core.armedDeadline <= top.deadline) {
    return;
  }
  if (core.armedId !== undefined) clearTimeout(core.armedId);
  const delay = Math.max(0, Math.ceil(top.deadline - performance.now()));
  core.armedDeadline = top.deadline;
  core.armedId = setTimeout(core.onNativeTimer, delay);
}

/** Clears the native timer. */
export function disarm(core: LoopCore): void {
  if (core.armedId !== undefined) {
    clearTimeout(core.armedId);
    core.armedId = undefined;
    core.armedDeadline = Infinity;
  }
}

/** The Timer source kind's functions (see `SourceKind`). */
export const timerKind: SourceKind = {
  kind: KIND_TIMER,

  start(core: LoopCore, e: Entry): void {
    const timer = e.source as Timer;
    const node = new TimerNode(undefined, e.token);
    node.intervalMs = timer.intervalMs ?? 0;
    node.entry = e;
    e.timerNode = node;
    core.timers.push(node, performance.now() + timer.delayMs);
    arm(core);
  },

  resume(core: LoopCore, e: Entry): void {
    if (e.fired) enqueueSoon(core, e);
  },

  collect(_core: LoopCore, e: Entry, ev: MutableEvent): boolean {
    if (!e.fired || !(e.interest & READABLE)) return false;
    e.fired = false;
    ev.readable = true;
    if (e.timerNode!.intervalMs === 0) ev.closed = true;
    return true;
  },

  rearm(): void {},

  detach(core: LoopCore, e: Entry): void {
    if (e.timerNode !== undefined) {
      core.timers.remove(e.timerNode);
      if (core.timers.size === 0) disarm(core);
    }
  },

  close(): undefined {},
};
