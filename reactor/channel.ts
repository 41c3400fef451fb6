// `Channel`: a bounded multi-producer, single-consumer message queue in a
// SharedArrayBuffer, delivered as readable events on an `EventLoop` through a
// `Waker` (mio 0.5's notify channel, for Workers).
//
// Layout of the shared memory (Int32 words, then the ring from byte 64):
//   0-1 the Waker's state (a Waker on the same buffer uses word 0)
//   2   producers' lock (0 free, 1 held, 2 held with sleepers)
//   3   head: bytes consumed (u32, wraps), written by the receiver only
//   4   tail: bytes produced (u32, wraps), written under the lock only
//   5   space sequence, bumped by the receiver when it frees space
//   6   senders waiting for space
//   7   ring capacity in bytes (a power of two)
//   8   closed flag
// A record is an 8-byte header (u32 length, u32 kind) then the payload,
// padded to 8 bytes. Headers never straddle the end of the ring (capacity
// and records are multiples of 8); payloads may, and are copied in two parts.

import type { EventLoop } from "./event_loop.ts";
import { Interest } from "./interest.ts";
import type { Token } from "./token.ts";
import { Waker } from "./waker.ts";

const LOCK = 2;
const HEAD = 3;
const TAIL = 4;
const SPACE = 5;
const WAITERS = 6;
const CAPACITY = 7;
const CLOSED = 8;
const RING_OFFSET = 64;
const HEADER = 8;

const KIND_BYTES = 0;
const KIND_STRING = 1;
const KIND_CLONE = 2;

const DEFAULT_CAPACITY = 1 << 20;
const MIN_CAPACITY = 64;
const MAX_CAPACITY = 1 << 30;
// Spins before a contended sender sleeps on the lock word.
const SPINS = 64;
// A sender waiting for space re-checks at least this often, so an abort or a
// missed notification costs at most this long.
const SPACE_POLL_MS = 50;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// node:v8's serializer is V8's ValueSerializer, the structured clone wire
// format. Loaded on first use only: it costs ~10 ms and ~4 MB at start-up.
interface CloneCodec {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}
let cloneCodec: CloneCodec | undefined;
let cloneLoading: Promise<CloneCodec> | undefined;

function loadCloneCodec(): Promise<CloneCodec> {
  // A computed specifier keeps Node's type declarations (which retype
  // setTimeout and friends) out of every program that imports the reactor.
  const specifier = ["node", "v8"].join(":");
  cloneLoading ??= (import(specifier) as Promise<CloneCodec>).then((v8) => {
    cloneCodec = {
      serialize: (value) => v8.serialize(value),
      deserialize: (bytes) => v8.deserialize(bytes),
    };
    return cloneCodec;
  });
  return cloneLoading;
}

/**
 * Options of {@linkcode Channel}.
 *
 * @example Usage
 * ```ts
 * import { Channel, type ChannelOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ChannelOptions = { capacity: 4096 };
 * const channel = new Channel(options);
 * assertEquals(channel.capacity, 4096);
 * const sender = new Channel({ buffer: channel.buffer }); // e.g. in a Worker
 * assertEquals(sender.capacity, 4096);
 * ```
 */
export interface ChannelOptions {
  /**
   * Bytes of ring space for queued messages, rounded up to a power of two
   * (64 B to 1 GiB). Each message takes its length plus an 8-byte header,
   * rounded up to 8. Ignored with `buffer`.
   *
   * @default {1048576}
   */
  capacity?: number;
  /**
   * The shared memory of an existing channel (its `buffer`), to send to it
   * from another Worker.
   *
   * @default {undefined}
   */
  buffer?: SharedArrayBuffer;
}

/**
 * Options of {@linkcode Channel.send}.
 *
 * @example Usage
 * ```ts
 * import { Channel, type ChannelSendOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const channel = new Channel();
 * const options: ChannelSendOptions = { signal: AbortSignal.timeout(1_000) };
 * await channel.send("hello", options);
 * assertEquals(channel.receive(), ["hello"]);
 * ```
 */
export interface ChannelSendOptions {
  /** Aborting it stops waiting for space; the message is then not sent. */
  signal?: AbortSignal;
}

/**
 * A bounded multi-producer, single-consumer message queue in a
 * `SharedArrayBuffer`, for Workers feeding an {@linkcode EventLoop}.
 *
 * Create it on the receiving thread, post its `buffer` to any number of
 * Workers, and make a sender there with `new Channel({ buffer })`.
 * `register()` puts the channel on the receiving loop: each send wakes the
 * loop through the channel's {@linkcode Waker}, and the loop's readable event
 * hands the queued messages to your callback, oldest first.
 *
 * - Bounded: `trySend` returns `false` when the ring is full; `send` waits
 *   for space (with an `AbortSignal`). Nothing is dropped or duplicated.
 * - Ordered per sender: senders take a short lock to append, so messages
 *   of one sender arrive in the order it sent them.
 * - Messages: a `Uint8Array` arrives as a `Uint8Array` copy, a string as a
 *   string (UTF-8 in the ring); any other value is structured-cloned into
 *   the ring with V8's serializer (`node:v8`, loaded on first use: `send`
 *   loads it, `trySend` throws a `TypeError` until it is loaded).
 * - One receiver: only one thread may call `receive`/`register` on a
 *   channel. Sending is safe from any number of threads.
 *
 * @example A Worker feeding a loop
 * ```ts
 * import { Channel, EventLoop } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const channel = new Channel({ capacity: 4096 });
 * const received: unknown[] = [];
 * channel.register(loop, 1, (message, loop) => {
 *   received.push(message);
 *   if (received.length === 3) loop.stop();
 * });
 *
 * const code = `self.onmessage = async (e) => {
 *   const { Channel } = await import(e.data.url);
 *   const channel = new Channel({ buffer: e.data.buffer });
 *   channel.trySend("one");
 *   channel.trySend(new Uint8Array([2]));
 *   await channel.send({ three: 3 }); // structured clone
 * };`;
 * const worker = new Worker(
 *   URL.createObjectURL(new Blob([code], { type: "text/javascript" })),
 *   { type: "module" },
 * );
 * try {
 *   const url = new URL("./channel.ts", import.meta.url).href;
 *   worker.postMessage({ url, buffer: channel.buffer });
 *   await loop.run();
 * } finally {
 *   worker.terminate();
 * }
 * assertEquals(received, ["one", new Uint8Array([2]), { three: 3 }]);
 * ```
 */
export class Channel implements Disposable {
  /** The shared memory to post to sending Workers. */
  readonly buffer: SharedArrayBuffer;
  /** The waker the receiving loop waits on; `register()` registers it. */
  readonly waker: Waker;
  #words: Int32Array;
  #ring: Uint8Array;
  #ringView: DataView;
  #mask: number;

  /**
   * Creates a channel on new shared memory, or a handle on an existing
   * channel's `options.buffer`.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel({ capacity: 1_000 });
   * assertEquals(channel.capacity, 1024); // rounded up to a power of two
   * ```
   * @param options Capacity, or the buffer of an existing channel.
   * @throws {RangeError} If `capacity` is not a number from 64 to 2^30.
   * @throws {TypeError} If `buffer` is not a channel's SharedArrayBuffer.
   */
  constructor(options: ChannelOptions = {}) {
    const { buffer } = options;
    if (buffer !== undefined) {
      if (
        !(buffer instanceof SharedArrayBuffer) ||
        buffer.byteLength < RING_OFFSET + MIN_CAPACITY
      ) {
        throw new TypeError(
          "Cannot create channel as 'buffer' must be the SharedArrayBuffer of a channel",
        );
      }
      const capacity = new Int32Array(buffer, 0, 16)[CAPACITY]!;
      if (
        capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0 ||
        RING_OFFSET + capacity !== buffer.byteLength
      ) {
        throw new TypeError(
          "Cannot create channel as 'buffer' must be the SharedArrayBuffer of a channel",
        );
      }
      this.buffer = buffer;
    } else {
      const requested = options.capacity ?? DEFAULT_CAPACITY;
      if (
        typeof requested !== "number" || Number.isNaN(requested) ||
        requested < MIN_CAPACITY || requested > MAX_CAPACITY
      ) {
        throw new RangeError(
          `Cannot create channel as 'capacity' must be a number from ${MIN_CAPACITY} to ${MAX_CAPACITY}: received ${requested}`,
        );
      }
      const capacity = 2 ** Math.ceil(Math.log2(requested));
      this.buffer = new SharedArrayBuffer(RING_OFFSET + capacity);
      new Int32Array(this.buffer, 0, 16)[CAPACITY] = capacity;
    }
    this.#words = new Int32Array(this.buffer, 0, 16);
    const capacity = this.#words[CAPACITY]!;
    this.#ring = new Uint8Array(this.buffer, RING_OFFSET, capacity);
    this.#ringView = new DataView(this.buffer, RING_OFFSET, capacity);
    this.#mask = capacity - 1;
    this.waker = new Waker({ buffer: this.buffer });
  }

  /** Bytes of ring space (a power of two). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Bytes taken by queued messages and their headers. */
  get queuedBytes(): number {
    return (Atomics.load(this.#words, TAIL) -
      Atomics.load(this.#words, HEAD)) >>> 0;
  }

  /** Whether `close()` was called on any handle of this channel. */
  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) !== 0;
  }

  /**
   * The largest message payload in bytes that fits the ring.
   *
   * @returns The capacity less one header.
   */
  get maxMessageBytes(): number {
    return this.capacity - HEADER;
  }

  /**
   * Queues a message if there is room, and wakes the receiving loop.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel({ capacity: 64 });
   * assertEquals(channel.trySend(new Uint8Array(40)), true);
   * assertEquals(channel.trySend(new Uint8Array(40)), false); // full
   * ```
   *
   * @param message Bytes (copied), a string, or any structured-cloneable
   * value (once structured clone support is loaded, see the class docs).
   * @returns `false` if the ring has no room for it now.
   * @throws {RangeError} If the message can never fit the ring.
   * @throws {TypeError} If the message is not bytes or a string and
   * structured clone support is not loaded yet, or the channel is closed.
   */
  trySend(message: unknown): boolean {
    let kind: number;
    let payload: Uint8Array;
    if (message instanceof Uint8Array) {
      kind = KIND_BYTES;
      payload = message;
    } else if (typeof message === "string") {
      kind = KIND_STRING;
      payload = encoder.encode(message);
    } else {
      if (cloneCodec === undefined) {
        throw new TypeError(
          "Cannot send message as structured clone support is not loaded: use 'send()' once, or 'await Channel.loadStructuredClone()'",
        );
      }
      kind = KIND_CLONE;
      payload = cloneCodec.serialize(message);
    }
    const length = payload.length;
    const need = HEADER + ((length + 7) & ~7);
    if (need > this.capacity) {
      throw new RangeError(
        `Cannot send message as it does not fit the channel: received ${length} bytes, the most is ${this.maxMessageBytes}`,
      );
    }
    const words = this.#words;
    this.#lock();
    let tail: number;
    try {
      if (Atomics.load(words, CLOSED) !== 0) {
        throw new TypeError("Cannot send message as the channel is closed");
      }
      tail = Atomics.load(words, TAIL) >>> 0;
      const used = (tail - (Atomics.load(words, HEAD) >>> 0)) >>> 0;
      if (this.capacity - used < need) return false;
      const at = tail & this.#mask;
      this.#ringView.setUint32(at, length, true);
      this.#ringView.setUint32(at + 4, kind, true);
      const start = (at + HEADER) & this.#mask;
      const first = Math.min(length, this.capacity - start);
      const ring = this.#ring;
      if (first === length) ring.set(payload, start);
      else {
        ring.set(payload.subarray(0, first), start);
        ring.set(payload.subarray(first), 0);
      }
      // Publishes the record: the receiver reads the tail before the bytes.
      Atomics.store(words, TAIL, (tail + need) | 0);
    } finally {
      this.#unlock();
    }
    this.waker.wake();
    return true;
  }

  /**
   * Queues a message, waiting for room while the ring is full. Loads
   * structured clone support first if the message needs it.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel({ capacity: 64 });
   * channel.trySend(new Uint8Array(40));
   * const sending = channel.send({ any: "cloneable value" }, { signal: AbortSignal.timeout(5_000) });
   * channel.receive(); // frees room
   * await sending;
   * assertEquals(channel.receive(), [{ any: "cloneable value" }]);
   * ```
   *
   * @param message As for {@linkcode Channel.trySend}.
   * @param options An abort signal to stop waiting.
   * @returns A promise that resolves once the message is queued.
   * @throws {RangeError} If the message can never fit the ring.
   * @throws {TypeError} If the channel is closed.
   * @throws {DOMException} The signal's reason if it is aborted first.
   */
  async send(
    message: unknown,
    options: ChannelSendOptions = {},
  ): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (
      !(message instanceof Uint8Array) && typeof message !== "string" &&
      cloneCodec === undefined
    ) {
      await loadCloneCodec();
    }
    const words = this.#words;
    while (!this.trySend(message)) {
      signal?.throwIfAborted();
      Atomics.add(words, WAITERS, 1);
      try {
        const seq = Atomics.load(words, SPACE);
        // Registered as a waiter before this re-check: a receiver that frees
        // space after it sees the waiter and bumps the sequence.
        if (this.trySend(message)) return;
        const waited = Atomics.waitAsync(words, SPACE, seq);
        if (waited.async) {
          // Atomics.waitAsync neither keeps Deno's event loop alive nor gets
          // its timeout serviced while the loop idles: a real timer does
          // both, and bounds the wait should a notification be missed.
          const woken = Promise.withResolvers<void>();
          const timer = setTimeout(woken.resolve, SPACE_POLL_MS);
          const onAbort = () => woken.resolve();
          signal?.addEventListener("abort", onAbort, { once: true });
          try {
            await Promise.race([waited.value, woken.promise]);
          } finally {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
          }
        }
      } finally {
        Atomics.sub(words, WAITERS, 1);
      }
    }
  }

  /**
   * Takes up to `max` queued messages, oldest first, without waiting. Only
   * the receiving thread may call it.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel();
   * channel.trySend("a");
   * channel.trySend("b");
   * assertEquals(channel.receive(1), ["a"]);
   * assertEquals(channel.receive(), ["b"]);
   * ```
   *
   * @param max The most messages to take.
   * @returns The messages (possibly none).
   */
  receive(max: number = Infinity): unknown[] {
    const out: unknown[] = [];
    this.drain((message) => out.push(message), max);
    return out;
  }

  /**
   * Hands up to `max` queued messages to `onMessage`, oldest first. A
   * message is taken off the ring before its call, so a callback that throws
   * loses no other message (the rest stay queued) and never sees one twice.
   * A structured-clone message met before clone support is loaded stays
   * queued; loading starts and the waker fires when it is done.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel();
   * channel.trySend("a");
   * const seen: unknown[] = [];
   * assertEquals(channel.drain((message) => seen.push(message)), 1);
   * assertEquals(seen, ["a"]);
   * ```
   *
   * @param onMessage Called with each message.
   * @param max The most messages to take.
   * @returns How many messages were handed over.
   */
  drain(onMessage: (message: unknown) => void, max: number = Infinity): number {
    const words = this.#words;
    const view = this.#ringView;
    const mask = this.#mask;
    let head = Atomics.load(words, HEAD) >>> 0;
    let count = 0;
    try {
      while (count < max) {
        const tail = Atomics.load(words, TAIL) >>> 0;
        if (head === tail) break;
        const at = head & mask;
        const length = view.getUint32(at, true);
        const kind = view.getUint32(at + 4, true);
        if (kind === KIND_CLONE && cloneCodec === undefined) {
          void loadCloneCodec().then(() => this.waker.wake());
          break;
        }
        const start = (at + HEADER) & mask;
        const first = Math.min(length, this.capacity - start);
        let bytes: Uint8Array;
        if (first === length) {
          bytes = this.#ring.slice(start, start + length);
        } else {
          bytes = new Uint8Array(length);
          bytes.set(this.#ring.subarray(start, start + first));
          bytes.set(this.#ring.subarray(0, length - first), first);
        }
        head = (head + HEADER + ((length + 7) & ~7)) >>> 0;
        Atomics.store(words, HEAD, head | 0);
        count++;
        onMessage(
          kind === KIND_BYTES
            ? bytes
            : kind === KIND_STRING
            ? decoder.decode(bytes)
            : cloneCodec!.deserialize(bytes),
        );
      }
    } finally {
      if (count > 0 && Atomics.load(words, WAITERS) > 0) {
        Atomics.add(words, SPACE, 1);
        Atomics.notify(words, SPACE);
      }
    }
    return count;
  }

  /**
   * Registers the channel's waker on `loop` under `token`: every readable
   * event hands up to `maxPerEvent` queued messages to `onMessage`; if more
   * remain (or a callback threw), the waker fires again so they follow on
   * the next turn. `loop.deregister(token)` undoes it.
   *
   * @example Usage
   * ```ts
   * import { Channel, EventLoop } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * const channel = new Channel();
   * channel.register(loop, 1, (message, loop) => {
   *   assertEquals(message, "hello");
   *   loop.stop();
   * });
   * new Channel({ buffer: channel.buffer }).trySend("hello"); // e.g. in a Worker
   * await loop.run();
   * ```
   *
   * @param loop The receiving loop.
   * @param token The token for the channel's events.
   * @param onMessage Called with each message and the loop.
   * @param maxPerEvent Messages per event, so other sources get their turn.
   */
  register(
    loop: EventLoop,
    token: Token,
    onMessage: (message: unknown, loop: EventLoop) => void,
    maxPerEvent: number = 1024,
  ): void {
    loop.register(this.waker, token, Interest.READABLE, (_event, loop) => {
      let handed = maxPerEvent;
      try {
        handed = this.drain((message) => onMessage(message, loop), maxPerEvent);
      } finally {
        if (handed >= maxPerEvent || this.#pending()) this.waker.wake();
      }
    });
  }

  /**
   * Closes the channel for every handle: later sends throw, waiting sends
   * reject; messages already queued can still be received.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const channel = new Channel();
   * channel.trySend("kept");
   * channel.close();
   * assertEquals(channel.closed, true);
   * assertEquals(channel.receive(), ["kept"]);
   * ```
   */
  close(): void {
    Atomics.store(this.#words, CLOSED, 1);
    Atomics.add(this.#words, SPACE, 1);
    Atomics.notify(this.#words, SPACE);
  }

  /**
   * Closes the channel.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const sender = (() => {
   *   using channel = new Channel();
   *   return new Channel({ buffer: channel.buffer });
   * })();
   * assertEquals(sender.closed, true);
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Loads structured clone support (V8's serializer) in this thread, after
   * which `trySend` accepts any cloneable value. `send` does it by itself.
   *
   * @returns A promise that resolves once it is loaded.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await Channel.loadStructuredClone();
   * const channel = new Channel();
   * channel.trySend(new Map([[1, "one"]]));
   * assertEquals(channel.receive(), [new Map([[1, "one"]])]);
   * ```
   */
  static async loadStructuredClone(): Promise<void> {
    await loadCloneCodec();
  }

  #pending(): boolean {
    return Atomics.load(this.#words, HEAD) !== Atomics.load(this.#words, TAIL);
  }

  #lock(): void {
    const words = this.#words;
    if (Atomics.compareExchange(words, LOCK, 0, 1) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (
        Atomics.load(words, LOCK) === 0 &&
        Atomics.compareExchange(words, LOCK, 0, 1) === 0
      ) return;
    }
    // Futex-style: mark contended (2) and sleep until the holder wakes us.
    while (Atomics.exchange(words, LOCK, 2) !== 0) {
      Atomics.wait(words, LOCK, 2);
    }
  }

  #unlock(): void {
    if (Atomics.exchange(this.#words, LOCK, 0) === 2) {
      Atomics.notify(this.#words, LOCK, 1);
    }
  }
}
