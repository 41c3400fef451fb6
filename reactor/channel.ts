// `Channel`: a bounded multi-producer, single-consumer message queue in a
// SharedArrayBuffer, delivered as readable events on an `EventLoop` through a
// `Waker` (mio 0.5's notify channel, for Workers). The ring and its layout
// are in _channel_ring.ts, the message encoding in _channel_message.ts.

import type { EventLoop } from "./event_loop.ts";
import { Interest } from "./interest.ts";
import type { Token } from "./token.ts";
import { Waker } from "./waker.ts";
import { channelBuffer, ChannelRing, HEADER } from "./_channel_ring.ts";
import {
  awaitsCloneCodec,
  decodeMessage,
  encodeMessage,
  loadCloneCodec,
  messageKind,
  needsCloneCodec,
} from "./_channel_message.ts";

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
  #ring: ChannelRing;

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
    this.buffer = channelBuffer(options.buffer, options.capacity);
    this.#ring = new ChannelRing(this.buffer);
    this.waker = new Waker({ buffer: this.buffer });
  }

  /** Bytes of ring space (a power of two). */
  get capacity(): number {
    return this.#ring.capacity;
  }

  /** Bytes taken by queued messages and their headers. */
  get queuedBytes(): number {
    return this.#ring.queuedBytes;
  }

  /** Whether `close()` was called on any handle of this channel. */
  get closed(): boolean {
    return this.#ring.closed;
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
    const kind = messageKind(message);
    const payload = encodeMessage(message, kind);
    const length = payload.length;
    if (HEADER + ((length + 7) & ~7) > this.capacity) {
      throw new RangeError(
        `Cannot send message as it does not fit the channel: received ${length} bytes, the most is ${this.maxMessageBytes}`,
      );
    }
    if (!this.#ring.append(kind, payload)) return false;
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
    if (needsCloneCodec(message)) await loadCloneCodec();
    const retry = () => this.trySend(message);
    while (!this.trySend(message)) {
      signal?.throwIfAborted();
      if (await this.#ring.waitForSpace(retry, signal)) return;
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
    return this.#ring.take(
      max,
      (kind) => awaitsCloneCodec(kind, () => this.waker.wake()),
      (kind, payload) => onMessage(decodeMessage(kind, payload)),
    );
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
        if (handed >= maxPerEvent || this.#ring.pending) this.waker.wake();
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
    this.#ring.close();
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
}
