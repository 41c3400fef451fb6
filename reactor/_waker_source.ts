// The Waker source kind: a shared Int32 that another thread sets and
// notifies; the loop waits on it with `Atomics.waitAsync`. Wakes between two
// dispatches coalesce into one event.

import { Interest } from "./interest.ts";
import { type Waker, wakerState } from "./waker.ts";
import { type Entry, KIND_WAKER, type MutableEvent } from "./_entry.ts";
import {
  enqueue,
  enqueueSoon,
  type LoopCore,
  type SourceKind,
} from "./_core.ts";

const READABLE = Interest.READABLE;

function noop(): void {}

function waitWaker(core: LoopCore, e: Entry): void {
  const state = wakerState(e.source as Waker);
  const result = Atomics.waitAsync(state, 0, 0);
  if (!result.async) {
    e.fired = true;
    enqueueSoon(core, e);
    return;
  }
  e.reading = true;
  e.onRead ??= () => wakeDone(core, e);
  e.readPromise = result.value.then(e.onRead);
}

function wakeDone(core: LoopCore, e: Entry): void {
  e.reading = false;
  e.readPromise = undefined;
  if (!e.registered) return;
  if (Atomics.load(wakerState(e.source as Waker), 0) !== 0) {
    e.fired = true;
    if (e.interest & READABLE) enqueue(core, e);
  } else if (e.interest & READABLE) {
    waitWaker(core, e);
  }
}

/**
 * Keeps Deno's event loop alive while the loop runs with a Waker registered
 * (`Atomics.waitAsync` does not), with a ref'ed idle interval.
 */
export function updateKeepAlive(core: LoopCore): void {
  const want = core.running && core.wakers > 0;
  if (want && core.keepAlive === undefined) {
    core.keepAlive = setInterval(noop, 2 ** 31 - 1);
  } else if (!want && core.keepAlive !== undefined) {
    clearInterval(core.keepAlive);
    core.keepAlive = undefined;
  }
}

/** The Waker source kind's functions (see `SourceKind`). */
export const wakerKind: SourceKind = {
  kind: KIND_WAKER,

  start(core: LoopCore, e: Entry): void {
    core.wakers++;
    updateKeepAlive(core);
    if (e.interest & READABLE) waitWaker(core, e);
  },

  resume(core: LoopCore, e: Entry): void {
    if (e.fired) enqueueSoon(core, e);
    else if (!e.reading) waitWaker(core, e);
  },

  collect(_core: LoopCore, e: Entry, ev: MutableEvent): boolean {
    if (!e.fired || !(e.interest & READABLE)) return false;
    e.fired = false;
    // Reset before the handler runs: a wake during it is a new event.
    Atomics.store(wakerState(e.source as Waker), 0, 0);
    ev.readable = true;
    return true;
  },

  rearm(core: LoopCore, e: Entry): void {
    if ((e.interest & READABLE) && !e.reading && !e.fired) waitWaker(core, e);
  },

  detach(core: LoopCore, e: Entry): void {
    core.wakers--;
    updateKeepAlive(core);
    // Release our waitAsync; a real wake stays visible in the state word.
    if (e.reading) Atomics.notify(wakerState(e.source as Waker), 0);
  },

  // A waker's waitAsync is not an op (nothing for the sanitizers) and its
  // settling does not keep Deno's event loop alive: nothing to await.
  close(): undefined {},
};
