// What the Workers of a multi-worker TcpServer exchange: connection ids, the
// binary messages they send over their Channels, and an outbox that never
// drops a message when a peer's channel is full. (The counters they share
// are in _shared_counts.ts.)

import { Channel } from "../../reactor/channel.ts";
import type { RemoteConnection } from "./_worker_context.ts";

/** Most Workers one server may run; ids carry the owner as `id % MAX_WORKERS`. */
export const MAX_WORKERS = 256;

/** The Worker that owns connection `id`. */
export function ownerOf(id: number): number {
  return id % MAX_WORKERS;
}

// Channel messages: [u8 op][u8 flag][u16 count][u32 0][f64 id][f64 x count][payload]
export const OP_SEND = 1;
export const OP_BROADCAST = 2;
export const OP_CLOSE = 3;
export const OP_OPEN = 4;
export const OP_GONE = 5;
export const OP_RESUME = 6;
/** Several messages in one (the gossip of one loop turn). */
export const OP_BATCH = 7;

const HEAD = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A decoded channel message. */
export interface WorkerMessage {
  op: number;
  flag: number;
  id: number;
  ids: number[];
  payload: Uint8Array;
}

/** Encodes a message; a string payload is UTF-8 encoded. */
export function encodeMessage(
  op: number,
  id: number,
  payload?: Uint8Array | string,
  flag = 0,
  ids: readonly number[] = [],
): Uint8Array {
  const body = typeof payload === "string"
    ? encoder.encode(payload)
    : payload ?? new Uint8Array(0);
  const out = new Uint8Array(HEAD + ids.length * 8 + body.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, op);
  view.setUint8(1, flag);
  view.setUint16(2, ids.length, true);
  view.setFloat64(8, id, true);
  for (let i = 0; i < ids.length; i++) {
    view.setFloat64(HEAD + i * 8, ids[i]!, true);
  }
  out.set(body, HEAD + ids.length * 8);
  return out;
}

/** Decodes a message made by {@linkcode encodeMessage}. */
export function decodeMessage(bytes: Uint8Array): WorkerMessage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(2, true);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(view.getFloat64(HEAD + i * 8, true));
  return {
    op: view.getUint8(0),
    flag: view.getUint8(1),
    id: view.getFloat64(8, true),
    ids,
    payload: bytes.subarray(HEAD + count * 8),
  };
}

/** Packs `messages` into one OP_BATCH message: `[u32 length][bytes]` each. */
export function encodeBatch(messages: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const m of messages) size += 4 + m.byteLength;
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let at = 0;
  for (const m of messages) {
    view.setUint32(at, m.byteLength, true);
    packed.set(m, at + 4);
    at += 4 + m.byteLength;
  }
  return encodeMessage(OP_BATCH, 0, packed);
}

/** The messages in `raw`: itself, or each one of a batch, decoded. */
export function unpackMessages(raw: Uint8Array): WorkerMessage[] {
  const message = decodeMessage(raw);
  if (message.op !== OP_BATCH) return [message];
  const packed = message.payload;
  const view = new DataView(
    packed.buffer,
    packed.byteOffset,
    packed.byteLength,
  );
  const out: WorkerMessage[] = [];
  for (let at = 0; at < packed.byteLength;) {
    const length = view.getUint32(at, true);
    out.push(decodeMessage(packed.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return out;
}

/**
 * Sends control messages (connection arrivals and departures, resumes) to
 * every peer, one batch per peer per turn: a burst of k accepts costs one
 * message per peer, not k.
 */
export class Gossip {
  readonly #outboxes: readonly (Outbox | undefined)[];
  #pending: Uint8Array[] = [];
  #scheduled = false;

  constructor(outboxes: readonly (Outbox | undefined)[]) {
    this.#outboxes = outboxes;
  }

  /** Queues `message` for every peer; sent at the end of this turn. */
  post(message: Uint8Array): void {
    this.#pending.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = [];
    const message = pending.length === 1 ? pending[0]! : encodeBatch(pending);
    for (const outbox of this.#outboxes) outbox?.send(message);
  };
}

/** The text of a payload (addresses of OP_OPEN). */
export function payloadText(message: WorkerMessage): string {
  return decoder.decode(message.payload);
}

// JSON has no bytes: a PROXY header's TLV values and unique id travel as
// `{ [BYTES]: [...] }` and come back as Uint8Arrays.
const BYTES = "\u0000bytes";

/** A connection as gossiped with OP_OPEN (JSON), and back. */
export function connectionToText(connection: RemoteConnection): string {
  return JSON.stringify(
    connection,
    (_key, value) =>
      value instanceof Uint8Array ? { [BYTES]: Array.from(value) } : value,
  );
}

/** Parses a connection gossiped with OP_OPEN. */
export function connectionFromText(text: string): RemoteConnection {
  return JSON.parse(
    text,
    (_key, value) =>
      value !== null && typeof value === "object" && BYTES in value
        ? new Uint8Array(value[BYTES])
        : value,
  ) as RemoteConnection;
}

/** What {@linkcode Outbox.sendBounded} did with a message. */
export type OutboxOutcome = "sent" | "queued" | "full";

/**
 * Sends to one peer's channel in order, never dropping a message: what does
 * not fit now waits here and is pushed by `Channel.send` as room frees up.
 * User messages (`sendBounded`) may wait up to `maxBytes` in all; control
 * messages (gossip, `send`) always wait, as dropping one would corrupt the
 * peers' view of the server.
 */
export class Outbox {
  readonly #channel: Channel;
  /** Most bytes of waiting messages `sendBounded` lets in. */
  readonly maxBytes: number;
  #backlog: Uint8Array[] = [];
  #backlogBytes = 0;
  #pumping: Promise<void> | undefined;
  #closed = false;
  #abort = new AbortController();

  constructor(buffer: SharedArrayBuffer, maxBytes = Infinity) {
    this.#channel = new Channel({ buffer });
    this.maxBytes = maxBytes;
  }

  /** Queues `message`; `false` if it had to wait in the backlog. */
  send(message: Uint8Array): boolean {
    return this.#send(message, Infinity) === "sent";
  }

  /**
   * Queues a user message unless it would take the backlog past `maxBytes`:
   * then nothing is queued and the caller reports the drop (`"full"`).
   */
  sendBounded(message: Uint8Array): OutboxOutcome {
    return this.#send(message, this.maxBytes);
  }

  #send(message: Uint8Array, maxBytes: number): OutboxOutcome {
    if (this.#closed) return "queued"; // shutting down: nobody will read it
    if (this.#backlog.length === 0) {
      try {
        if (this.#channel.trySend(message)) return "sent";
      } catch {
        return "queued"; // the peer's channel is closed: it is gone
      }
    }
    if (this.#backlogBytes + message.byteLength > maxBytes) return "full";
    this.#backlog.push(message);
    this.#backlogBytes += message.byteLength;
    this.#pumping ??= this.#pump();
    return "queued";
  }

  /** Messages waiting for room. */
  get backlog(): number {
    return this.#backlog.length;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#backlog.length > 0 && !this.#closed) {
        const message = this.#backlog[0]!;
        await this.#channel.send(message, { signal: this.#abort.signal });
        this.#backlog.shift();
        this.#backlogBytes -= message.byteLength;
      }
    } catch {
      this.#backlog = [];
      this.#backlogBytes = 0;
    } finally {
      this.#pumping = undefined;
    }
  }

  /** Stops sending; waits for a pump in progress to give up. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#backlog = [];
    this.#backlogBytes = 0;
    this.#abort.abort();
    await this.#pumping;
  }
}
