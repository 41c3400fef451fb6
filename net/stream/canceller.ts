// A Canceller is the scope of mtcp's TcpCanceller in Deno's idiom: one
// AbortController whose signal every operation of the scope listens to.
import { formatValue } from "../../_internal/format.ts";
import { CancelledError } from "../errors.ts";

/**
 * Options for {@linkcode Canceller.fromSignals}.
 *
 * @example Usage
 * ```ts
 * import { Canceller, type CancellerFromSignalsOptions } from "@millrace/io/net";
 * import { assertFalse } from "@std/assert";
 *
 * const received: Deno.Signal[] = [];
 * const options: CancellerFromSignalsOptions = { onSignal: (signal) => received.push(signal) };
 * using canceller = Canceller.fromSignals(["SIGINT"], options);
 * assertFalse(canceller.cancelled);
 * ```
 */
export interface CancellerFromSignalsOptions {
  /**
   * Called when a signal cancels the canceller.
   *
   * @param signal The signal received.
   */
  onSignal?(signal: Deno.Signal): void;
}

/**
 * Cancels every pending operation of its scope at once: operations given its
 * `signal`, and every operation of the streams and listeners created with
 * `{ canceller }` (see `TcpStream.connect` and `TcpListener.bind`). Pending
 * operations reject with `CancelledError`; operations started after
 * `cancel()` fail at once with `CancelledError`. Cancelling does not close
 * streams: close them (or let `using` do it).
 *
 * Disposing cancels (with a `CancelledError` reason) and removes the OS signal
 * listeners of {@linkcode Canceller.fromSignals}.
 *
 * @example Cancelling a pending read from another task
 * ```ts
 * import { Canceller, CancelledError, TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertRejects } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using canceller = new Canceller();
 * using client = await TcpStream.connect(listener.addr, { canceller });
 * using _server = await listener.accept();
 * setTimeout(() => canceller.cancel(), 10);
 * await assertRejects(() => client.read(new Uint8Array(16)), CancelledError);
 * ```
 */
export class Canceller implements Disposable {
  readonly #controller = new AbortController();
  #signalListeners: [Deno.Signal, () => void][] = [];

  /** The signal that aborts on `cancel()`. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether `cancel()` was called. */
  get cancelled(): boolean {
    return this.#controller.signal.aborted;
  }

  /**
   * Cancels every pending operation of the scope; idempotent.
   *
   * @example Usage
   * ```ts
   * import { Canceller } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * const canceller = new Canceller();
   * canceller.cancel("shutting down");
   * assert(canceller.cancelled);
   * assert(canceller.signal.reason === "shutting down");
   * ```
   *
   * @param reason Becomes the `cause` of the `CancelledError`s; a
   * `CancelledError` when absent.
   */
  cancel(reason?: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#removeSignalListeners();
    this.#controller.abort(
      reason ??
        new CancelledError("Cannot continue as the canceller was cancelled"),
    );
  }

  /**
   * A canceller that cancels when the process receives one of `signals`, for
   * example Ctrl+C. Dispose it to remove the listeners.
   *
   * @example Cancelling on Ctrl+C
   * ```ts
   * import { Canceller } from "@millrace/io/net";
   *
   * using canceller = Canceller.fromSignals(["SIGINT"]);
   * // pass { canceller } to connect/bind, or canceller.signal to any call
   * ```
   *
   * @param signals The OS signals that cancel.
   * @param options Callback when a signal arrives.
   * @returns A new canceller listening to `signals`.
   * @throws {TypeError} If `signals` is not a non-empty array, or Deno's
   * error if a signal is not supported on this platform (nothing stays
   * registered then).
   */
  static fromSignals(
    signals: readonly Deno.Signal[],
    options: CancellerFromSignalsOptions = {},
  ): Canceller {
    if (!Array.isArray(signals) || signals.length === 0) {
      throw new TypeError(
        `Cannot create canceller as 'signals' must be a non-empty array: received ${
          formatValue(signals)
        }`,
      );
    }
    const canceller = new Canceller();
    try {
      for (const name of new Set(signals)) {
        const handler = (): void => {
          options.onSignal?.(name);
          canceller.cancel(
            new CancelledError(
              `Cannot continue as the process received ${name}`,
            ),
          );
        };
        Deno.addSignalListener(name, handler);
        canceller.#signalListeners.push([name, handler]);
      }
    } catch (error) {
      canceller.#removeSignalListeners();
      throw error;
    }
    return canceller;
  }

  /**
   * Throws the `CancelledError` if cancelled; a check for long loops of
   * your own between I/O calls.
   *
   * @example Usage
   * ```ts
   * import { Canceller, CancelledError } from "@millrace/io/net";
   * import { assertThrows } from "@std/assert";
   *
   * const canceller = new Canceller();
   * canceller.throwIfCancelled(); // not yet: returns
   * canceller.cancel();
   * assertThrows(() => canceller.throwIfCancelled(), CancelledError);
   * ```
   *
   * @throws {CancelledError} If `cancel()` was called; its `cause` is the
   * reason.
   */
  throwIfCancelled(): void {
    if (!this.cancelled) return;
    throw new CancelledError("Cannot continue as the canceller was cancelled", {
      cause: this.signal.reason,
    });
  }

  /**
   * Cancels and removes the OS signal listeners.
   *
   * @example Usage
   * ```ts
   * import { Canceller } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * const canceller = new Canceller();
   * {
   *   using _scope = canceller;
   * }
   * assert(canceller.cancelled);
   * ```
   */
  [Symbol.dispose](): void {
    this.cancel(
      new CancelledError("Cannot continue as the canceller was disposed"),
    );
    this.#removeSignalListeners();
  }

  #removeSignalListeners(): void {
    for (const [name, handler] of this.#signalListeners) {
      Deno.removeSignalListener(name, handler);
    }
    this.#signalListeners = [];
  }
}
