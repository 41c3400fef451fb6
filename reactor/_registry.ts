// The registry: what can be registered (one source kind per module), the
// checks of `register` and `reregister`, and the lookup by token.

import type { EventHandler, Source } from "./event.ts";
import { assertInterest, Interest } from "./interest.ts";
import { formatValue } from "../_internal/format.ts";
import { assertToken, RESERVED_TOKEN_BASE, type Token } from "./token.ts";
import { Timer } from "./timer.ts";
import { Waker } from "./waker.ts";
import type { RegisterOptions } from "./event_loop_options.ts";
import { readBufferBounds } from "./_loop_options.ts";
import { validateTypeOf } from "../_internal/validate.ts";
import { Entry, KIND_CONN, KIND_DATAGRAM } from "./_entry.ts";
import {
  detach,
  enqueueSoon,
  entryOf,
  type LoopCore,
  type SourceKind,
} from "./_core.ts";
import { connectionKind } from "./_connection.ts";
import { listenerKind } from "./_listener_source.ts";
import { timerKind } from "./_timer_source.ts";
import { wakerKind } from "./_waker_source.ts";
import { datagramKind } from "./_datagram_source.ts";
import { handOver } from "./_handover.ts";

const WRITABLE = Interest.WRITABLE;

/** The kind of `source`, or undefined if it cannot be registered. */
function kindOf(source: unknown): SourceKind | undefined {
  if (source instanceof Timer) return timerKind;
  if (source instanceof Waker) return wakerKind;
  if (source === null || typeof source !== "object") return undefined;
  if (typeof (source as Deno.Listener).accept === "function") {
    return listenerKind;
  }
  if (
    typeof (source as Deno.Conn).read === "function" &&
    typeof (source as Deno.Conn).write === "function"
  ) return connectionKind;
  if (
    typeof (source as Deno.DatagramConn).receive === "function" &&
    typeof (source as Deno.DatagramConn).send === "function"
  ) return datagramKind;
  return undefined;
}

/** Checks a registration, records the entry and starts its source's I/O. */
export function registerSource(
  core: LoopCore,
  source: Source,
  token: Token,
  interest: Interest,
  handler: EventHandler,
  options: RegisterOptions,
): void {
  const action = "register source";
  if (core.disposed) {
    throw new TypeError(`Cannot ${action} as the event loop is disposed`);
  }
  assertToken(token, action);
  if (
    token >= RESERVED_TOKEN_BASE &&
    token >= RESERVED_TOKEN_BASE + core.nextReserved
  ) {
    throw new RangeError(
      `Cannot ${action} as 'token' is in the reserved range but was not obtained from allocateToken(): received '${token}'`,
    );
  }
  if (core.entries.has(token)) {
    throw new TypeError(
      `Cannot ${action} as 'token' is already registered: received '${token}'`,
    );
  }
  assertInterest(interest, action);
  validateTypeOf(action, "handler", handler, "function");
  const kind = kindOf(source);
  if (kind === undefined) {
    throw new TypeError(
      `Cannot ${action} as 'source' must be a listener, a connection, a datagram socket, a Timer or a Waker: received ${
        formatValue(source)
      }`,
    );
  }
  const existing = core.bySource.get(source);
  if (existing !== undefined) {
    throw new TypeError(
      `Cannot ${action} as the source is already registered under token '${existing.token}'`,
    );
  }
  // Without per-registration bounds (the common case) the loop's own,
  // computed once: no array per registration.
  let minRead = core.minReadClass;
  let maxRead = core.maxRead;
  if (
    options.minReadBufferSize !== undefined ||
    options.maxReadBufferSize !== undefined
  ) [minRead, maxRead] = readBufferBounds(core.settings, options, action);
  const e = new Entry(
    token,
    source,
    kind,
    interest,
    handler,
    minRead,
    maxRead,
  );
  core.entries.set(token, e);
  core.bySource.set(source, e);
  kind.start(core, e);
}

/** Changes the interest (and handler) of `token`. */
export function reregisterSource(
  core: LoopCore,
  token: Token,
  interest: Interest,
  handler: EventHandler | undefined,
): void {
  const action = "reregister source";
  const e = entryOf(core, token, action);
  assertInterest(interest, action);
  if (handler !== undefined) {
    validateTypeOf(action, "handler", handler, "function");
    e.handler = handler;
  }
  const added = interest & ~e.interest;
  e.interest = interest;
  if (added & Interest.READABLE) e.ops.resume(core, e);
  if (
    (added & WRITABLE) && (e.kind === KIND_CONN || e.kind === KIND_DATAGRAM) &&
    e.queuedBytes < core.lwm
  ) {
    e.writablePending = true;
    enqueueSoon(core, e);
  }
}

/** Stops the events of `token` and hands its source back, left open. */
export function deregisterSource(core: LoopCore, token: Token): Source {
  const e = entryOf(core, token, "deregister source");
  detach(core, e);
  if (e.kind === KIND_CONN) handOver(core, e);
  return e.source;
}
