// Set by Waker's static block: the loop reads the state word without making it public.
let stateOf: (waker: Waker) => Int32Array;

/**
 * Options for {@linkcode Waker}.
 *
 * @example Usage
 * ```ts
 * import { Waker, type WakerOptions } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * const waker = new Waker();
 * const options: WakerOptions = { buffer: waker.buffer }; // e.g. in a Worker
 * const remote = new Waker(options);
 * assertEquals(remote.buffer, waker.buffer);
 * ```
 */
export interface WakerOptions {
  /**
   * The shared memory of an existing waker (its `buffer`), to wake it from
   * another Worker: a `SharedArrayBuffer` of at least 4 bytes. Without it a
   * new 8-byte `SharedArrayBuffer` is made.
   *
   * @default {undefined}
   */
  buffer?: SharedArrayBuffer;
}

/**
 * Wakes an `EventLoop` from any thread (mio's `Waker`). Register the waker
 * with the loop, post its `buffer` to a Worker, and call `wake()` there on
 * `new Waker({ buffer })`: the loop, waiting with `Atomics.waitAsync`,
 * delivers a readable event under the waker's token. Wakes between two
 * dispatches coalesce into one event.
 *
 * @example Waking the loop
 * ```ts
 * import { EventLoop, Interest, Waker } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const waker = new Waker();
 * let woken = 0;
 * loop.register(waker, 1, Interest.READABLE, (_event, loop) => {
 *   woken++;
 *   loop.stop();
 * });
 * new Waker({ buffer: waker.buffer }).wake(); // e.g. in a Worker
 * await loop.run();
 * assertEquals(woken, 1);
 * ```
 */
export class Waker {
  /** The shared memory to post to other Workers. */
  readonly buffer: SharedArrayBuffer;
  #state: Int32Array;

  /**
   * Constructs a waker, on new shared memory or on `options.buffer`.
   *
   * @example Usage
   * ```ts
   * import { Waker } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * const waker = new Waker();
   * const same = new Waker({ buffer: waker.buffer }); // as a Worker would
   * assertEquals(same.buffer, waker.buffer);
   * ```
   *
   * @param options The shared memory of an existing waker.
   * @throws {TypeError} If `buffer` is not a `SharedArrayBuffer` of at least 4
   * bytes.
   */
  constructor(options: WakerOptions = {}) {
    const { buffer } = options;
    if (buffer !== undefined) {
      if (
        !(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 4
      ) {
        throw new TypeError(
          "Cannot create waker as 'buffer' must be a SharedArrayBuffer of at least 4 bytes",
        );
      }
      this.buffer = buffer;
    } else {
      this.buffer = new SharedArrayBuffer(8);
    }
    this.#state = new Int32Array(this.buffer, 0, 1);
  }

  /**
   * Wakes the loop the waker is registered with; safe from any thread.
   *
   * @example Usage
   * ```ts
   * import { EventLoop, Interest, Waker } from "@millrace/io/reactor";
   * import { assertEquals } from "@std/assert";
   *
   * await using loop = new EventLoop();
   * const waker = new Waker();
   * let woken = 0;
   * loop.register(waker, 1, Interest.READABLE, () => {
   *   woken++;
   *   loop.stop();
   * });
   * waker.wake();
   * await loop.run();
   * assertEquals(woken, 1);
   * ```
   */
  wake(): void {
    const state = this.#state;
    if (Atomics.compareExchange(state, 0, 0, 1) === 0) {
      Atomics.notify(state, 0);
    }
  }

  static {
    stateOf = (waker) => waker.#state;
  }
}

/** The shared state word of a waker (0 idle, 1 woken); for the loop. */
export function wakerState(waker: Waker): Int32Array {
  return stateOf(waker);
}
