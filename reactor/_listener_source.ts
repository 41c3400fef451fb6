// The listener source kind: a TCP, Unix or TLS listener with one accept in
// flight; an event carries one accepted connection, which the handler then
// owns. Accept errors follow `_internal/accept_policy.ts` (tk-listen's
// policy): retry at once after a peer's reset, report and back off after
// anything else (EMFILE, ...), end with `closed` once the listener closed.

import { Interest } from "./interest.ts";
import { type Entry, KIND_LISTENER, type MutableEvent } from "./_entry.ts";
import {
  enqueue,
  enqueueSoon,
  fail,
  type LoopCore,
  type SourceKind,
} from "./_core.ts";
import { classifyAcceptError } from "../_internal/accept_policy.ts";
import { toError } from "../_internal/to_error.ts";

const READABLE = Interest.READABLE;

function startAccept(core: LoopCore, e: Entry): void {
  if (
    e.reading || e.closing || !e.registered ||
    e.backoffTimer !== undefined || e.accepted !== undefined
  ) return;
  e.reading = true;
  // Made once per listener, apart: a closure made here would cost a
  // context on every accept.
  if (e.onRead === undefined) e.onRead = acceptCallback(core, e);
  e.readPromise = e.listener.accept().then(e.onRead, e.onRead);
}

/** The completion callback of a listener's accepts. */
function acceptCallback(core: LoopCore, e: Entry): (value: unknown) => void {
  return (value) => {
    if (
      value !== null && typeof value === "object" &&
      !(value instanceof Error) &&
      typeof (value as Deno.Conn).read === "function"
    ) acceptDone(core, e, value as Deno.Conn);
    else acceptFailed(core, e, value);
  };
}

function acceptDone(core: LoopCore, e: Entry, conn: Deno.Conn): void {
  e.reading = false;
  e.readPromise = undefined;
  if (!e.registered) {
    // Nobody will see it; do not leak it.
    try {
      conn.close();
    } catch { /* already closed */ }
    return;
  }
  e.accepted = conn;
  if (e.interest & READABLE) enqueue(core, e);
}

function acceptFailed(core: LoopCore, e: Entry, error: unknown): void {
  e.reading = false;
  e.readPromise = undefined;
  if (!e.registered || e.closing) return;
  core.acceptErrors++;
  switch (classifyAcceptError(error)) {
    case "retry":
      if (e.interest & READABLE) startAccept(core, e);
      return;
    case "closed":
      fail(core, e, error);
      return;
    case "backoff":
      e.pendingError = toError(error);
      e.closeAfter = false;
      e.backoffTimer = setTimeout(() => {
        e.backoffTimer = undefined;
        if (e.registered && (e.interest & READABLE)) startAccept(core, e);
      }, core.acceptDelay);
      enqueue(core, e);
      return;
  }
}

/** Closes a connection accepted but never delivered (nobody owns it). */
function dropAccepted(e: Entry): void {
  if (e.accepted === undefined) return;
  try {
    e.accepted.close();
  } catch { /* already closed */ }
  e.accepted = undefined;
}

/** The listener kind's functions (see `SourceKind`). */
export const listenerKind: SourceKind = {
  kind: KIND_LISTENER,

  start(core: LoopCore, e: Entry): void {
    if (e.interest & READABLE) startAccept(core, e);
  },

  resume(core: LoopCore, e: Entry): void {
    if (e.accepted !== undefined) enqueueSoon(core, e);
    else startAccept(core, e);
  },

  collect(_core: LoopCore, e: Entry, ev: MutableEvent): boolean {
    if (e.accepted === undefined || !(e.interest & READABLE)) return false;
    ev.conn = e.accepted;
    e.accepted = undefined;
    ev.readable = true;
    return true;
  },

  rearm(core: LoopCore, e: Entry): void {
    if ((e.interest & READABLE) && e.accepted === undefined) {
      startAccept(core, e);
    }
  },

  detach(_core: LoopCore, e: Entry): void {
    if (e.backoffTimer !== undefined) {
      clearTimeout(e.backoffTimer);
      e.backoffTimer = undefined;
    }
    // On deregister, an accepted connection nobody will see: do not leak it.
    dropAccepted(e);
  },

  close(_core: LoopCore, e: Entry): Promise<void> | undefined {
    const pending = e.reading ? e.readPromise : undefined;
    dropAccepted(e);
    try {
      e.listener.close();
    } catch { /* already closed */ }
    return pending;
  },
};
