// The datagram source kind: a UDP socket from `Deno.listenDatagram` (mio's
// UdpSocket). One receive is in flight, into the socket's own 64 KiB buffer
// (a datagram never spans two); an event carries one datagram in `data` and
// its sender in `remoteAddr`. Sends go through a bounded queue with one send
// in flight; "writable" means the queue drained below the low-water mark.
// A send that fails (say, "Message too long") costs that datagram only: it
// is reported to `onError`, the socket stays.

import { Interest } from "./interest.ts";
import type { Token } from "./token.ts";
import { type Entry, KIND_DATAGRAM, type MutableEvent } from "./_entry.ts";
import {
  bothSettled,
  enqueue,
  enqueueSoon,
  entryOf,
  fail,
  type LoopCore,
  report,
  type SourceKind,
} from "./_core.ts";

const READABLE = Interest.READABLE;
const WRITABLE = Interest.WRITABLE;

/** Largest UDP payload over IPv4 is 65,507 bytes; a bigger buffer is moot. */
const RECEIVE_BUFFER = 65536;

/** Datagrams a socket queues for sending; `sendTo` drops beyond it. */
export const MAX_QUEUED_DATAGRAMS = 1024;

/** What a datagram socket's entry keeps (in `Entry.datagram`). */
class DatagramState {
  readonly buffer = new Uint8Array(RECEIVE_BUFFER);
  /** A received datagram not yet delivered. */
  data: Uint8Array | undefined = undefined;
  from: Deno.Addr | undefined = undefined;
  readonly queue: { bytes: Uint8Array; addr: Deno.Addr }[] = [];
  head = 0;
  sending: Promise<void> | undefined = undefined;
  writablePending = false;
}

function stateOf(e: Entry): DatagramState {
  return e.datagram as DatagramState;
}

function socketOf(e: Entry): Deno.DatagramConn {
  return e.source as Deno.DatagramConn;
}

function startReceive(core: LoopCore, e: Entry): void {
  const st = stateOf(e);
  if (e.reading || e.closing || !e.registered || st.data !== undefined) return;
  e.reading = true;
  e.readPromise = socketOf(e).receive(st.buffer).then(
    ([data, from]) => {
      e.reading = false;
      e.readPromise = undefined;
      if (!e.registered) return;
      st.data = data;
      st.from = from;
      core.reads++;
      core.bytesRead += data.length;
      if (e.interest & READABLE) enqueue(core, e);
    },
    (error) => {
      e.reading = false;
      e.readPromise = undefined;
      if (!e.registered || e.closing) return;
      fail(core, e, error);
    },
  );
}

function startSend(core: LoopCore, e: Entry): void {
  const st = stateOf(e);
  if (st.sending !== undefined || e.closing) return;
  const next = st.queue[st.head];
  if (next === undefined) return;
  st.sending = socketOf(e).send(next.bytes, next.addr).then(
    () => sendSettled(core, e, next.bytes.length, undefined),
    (error) => sendSettled(core, e, next.bytes.length, error),
  );
}

function sendSettled(
  core: LoopCore,
  e: Entry,
  length: number,
  error: unknown,
): void {
  const st = stateOf(e);
  st.sending = undefined;
  if (e.closing) return;
  st.queue[st.head++] = undefined as never;
  if (st.head === st.queue.length) {
    st.queue.length = 0;
    st.head = 0;
  }
  e.queuedBytes -= length;
  if (error !== undefined) report(core, error, e.token);
  else {
    core.writes++;
    core.bytesWritten += length;
  }
  const wasAbove = e.queuedBytes + length >= core.lwm;
  if (wasAbove && e.queuedBytes < core.lwm && (e.interest & WRITABLE)) {
    st.writablePending = true;
    enqueue(core, e);
  }
  startSend(core, e);
}

/**
 * `EventLoop.sendTo`: queues one datagram for `addr`.
 *
 * @returns `false` when the datagram was dropped (queue full) or the queue
 * is at or above the high-water mark; `true` otherwise.
 */
export function sendDatagram(
  core: LoopCore,
  token: Token,
  bytes: Uint8Array,
  addr: Deno.Addr,
): boolean {
  const action = "send datagram";
  const e = entryOf(core, token, action);
  if (e.kind !== KIND_DATAGRAM) {
    throw new TypeError(
      `Cannot ${action} as 'token' is not a datagram socket: received '${token}'`,
    );
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot ${action} as 'bytes' must be a Uint8Array: received ${typeof bytes}`,
    );
  }
  const a = addr as Partial<Deno.NetAddr>;
  if (
    addr === null || typeof addr !== "object" ||
    typeof a.hostname !== "string" || typeof a.port !== "number"
  ) {
    throw new TypeError(
      `Cannot ${action} as 'addr' must be an address with 'hostname' and 'port'`,
    );
  }
  const st = stateOf(e);
  if (st.queue.length - st.head >= MAX_QUEUED_DATAGRAMS) return false;
  st.queue.push({ bytes, addr });
  e.queuedBytes += bytes.length;
  startSend(core, e);
  return e.queuedBytes < core.hwm;
}

/** The datagram kind's functions (see `SourceKind`). */
export const datagramKind: SourceKind = {
  kind: KIND_DATAGRAM,

  start(core: LoopCore, e: Entry): void {
    e.datagram = new DatagramState();
    e.readPooled = false;
    if (e.interest & WRITABLE) {
      stateOf(e).writablePending = true;
      enqueueSoon(core, e);
    }
    if (e.interest & READABLE) startReceive(core, e);
  },

  resume(core: LoopCore, e: Entry): void {
    if (stateOf(e).data !== undefined) enqueueSoon(core, e);
    else startReceive(core, e);
  },

  collect(_core: LoopCore, e: Entry, ev: MutableEvent): boolean {
    const st = stateOf(e);
    let deliver = false;
    if (st.data !== undefined && (e.interest & READABLE)) {
      ev.readable = true;
      ev.data = st.data;
      ev.remoteAddr = st.from;
      st.data = undefined;
      st.from = undefined;
      deliver = true;
    }
    // reregister() marks a writable entry with the connection flag.
    if (e.writablePending) {
      e.writablePending = false;
      st.writablePending = true;
    }
    if (st.writablePending && (e.interest & WRITABLE)) {
      st.writablePending = false;
      ev.writable = true;
      deliver = true;
    }
    return deliver;
  },

  rearm(core: LoopCore, e: Entry): void {
    // The buffer of the datagram just delivered is free again.
    if (e.interest & READABLE) startReceive(core, e);
  },

  detach(): void {},

  close(_core: LoopCore, e: Entry): Promise<void> | undefined {
    const st = stateOf(e);
    const pending = bothSettled(
      e.reading ? e.readPromise : undefined,
      st.sending,
    );
    st.queue.length = 0;
    st.head = 0;
    e.queuedBytes = 0;
    try {
      socketOf(e).close();
    } catch { /* already closed */ }
    return pending;
  },
};
