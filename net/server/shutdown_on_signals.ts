// Wires OS signals to a server's shutdown: the first signal asks for a
// graceful shutdown, the second forces it. After the forcing signal the
// listeners are removed so that a third signal gets the platform's default
// action (terminate): the escape hatch when even a forced shutdown hangs.

import { formatValue } from "../../_internal/format.ts";
import { validateDelay } from "../../_internal/validate.ts";

/**
 * Something that can be shut down, such as `TcpServer`.
 *
 * @example Usage
 * ```ts
 * import { shutdownOnSignals, type ShutdownTarget } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const calls: { force?: boolean; timeoutMs?: number }[] = [];
 * const target: ShutdownTarget = { shutdown: (options) => Promise.resolve(calls.push(options)) };
 * using _signals = shutdownOnSignals(target, { timeoutMs: 1_000 });
 * await target.shutdown({ force: true }); // what the second signal does
 * assertEquals(calls, [{ force: true }]);
 * ```
 */
export interface ShutdownTarget {
  /**
   * Starts a shutdown; graceful unless `force` is set.
   *
   * @example Usage
   * ```ts
   * import type { ShutdownTarget } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * let forced = false;
   * const target: ShutdownTarget = {
   *   shutdown: (options) => Promise.resolve(forced = options.force ?? false),
   * };
   * await target.shutdown({ force: true });
   * assertEquals(forced, true);
   * ```
   *
   * @param options `force`, and `timeoutMs` for the graceful phase.
   * @returns A promise settled when the shutdown is done.
   */
  shutdown(options: { force?: boolean; timeoutMs?: number }): Promise<unknown>;
}

/**
 * Options for {@linkcode shutdownOnSignals}.
 *
 * @example Usage
 * ```ts
 * import { shutdownOnSignals, type ShutdownOnSignalsOptions } from "@millrace/io/net";
 *
 * const controller = new AbortController();
 * const options: ShutdownOnSignalsOptions = {
 *   signals: ["SIGINT"],
 *   timeoutMs: 5_000,
 *   signal: controller.signal,
 * };
 * shutdownOnSignals({ shutdown: () => Promise.resolve() }, options);
 * controller.abort(); // removes the signal listeners
 * ```
 */
export interface ShutdownOnSignalsOptions {
  /**
   * The signals to listen to. `SIGTERM` exists only on non-Windows systems;
   * Windows supports `SIGINT` and `SIGBREAK`.
   *
   * @default {["SIGINT", "SIGTERM"]} (`["SIGINT", "SIGBREAK"]` on Windows)
   */
  signals?: readonly Deno.Signal[];
  /**
   * How long the graceful phase may last, passed to
   * `target.shutdown({ force: false, timeoutMs })`: from 0 to 2 ** 31 - 1
   * ms. When absent, the target's own default applies.
   *
   * @default {undefined}
   */
  timeoutMs?: number;
  /** Aborting it removes every signal listener, like disposing the result. */
  signal?: AbortSignal;
  /**
   * Called when a signal arrives, before the target is told.
   *
   * @param signal The signal received.
   * @param forced `false` for the first signal, `true` for the next.
   */
  onSignal?(signal: Deno.Signal, forced: boolean): void;
  /**
   * Called when `target.shutdown()` rejects or `onSignal` throws.
   *
   * @param error What it rejected or threw with.
   * @default {reportError} (an uncaught error: the process exits with it)
   */
  onError?(error: unknown): void;
}

const DEFAULT_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/**
 * Shuts `target` down on SIGINT/SIGTERM: the first signal calls
 * `target.shutdown({ force: false, timeoutMs })`, the second calls
 * `target.shutdown({ force: true })`. After the second signal the listeners
 * are removed, so a third one terminates the process the default way.
 *
 * Signal listeners do not keep the process alive. Dispose the result (or abort
 * `options.signal`) to remove the listeners earlier; disposing is idempotent.
 *
 * @example Graceful, then forced shutdown of a listener
 * ```ts
 * import { shutdownOnSignals } from "@millrace/io/net";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const server = {
 *   async shutdown(options: { force?: boolean; timeoutMs?: number }) {
 *     listener.close();
 *     return { forced: options.force ?? false };
 *   },
 * };
 * using _signals = shutdownOnSignals(server, { timeoutMs: 5_000 });
 * // ... serve until Ctrl+C; here the example shuts down by itself.
 * await server.shutdown({ force: false });
 * ```
 *
 * @param target The server (or anything with `shutdown(options)`).
 * @param options Signals, graceful timeout, cancellation and callbacks.
 * @returns A `Disposable` that removes every signal listener.
 * @throws {TypeError} If `target` has no `shutdown()` method or `signals` is
 * not a non-empty array, or Deno's error for a signal this platform lacks.
 * @throws {RangeError} If `timeoutMs` is out of range.
 */
export function shutdownOnSignals(
  target: ShutdownTarget,
  options: ShutdownOnSignalsOptions = {},
): Disposable {
  if (
    target === null ||
    typeof target !== "object" && typeof target !== "function" ||
    typeof target.shutdown !== "function"
  ) {
    throw new TypeError(
      `Cannot listen for signals as 'target' has no shutdown() method: received ${
        formatValue(target)
      }`,
    );
  }
  const {
    signals = DEFAULT_SIGNALS,
    timeoutMs,
    signal,
    onSignal,
    onError = reportError,
  } = options;
  if (!Array.isArray(signals) || signals.length === 0) {
    throw new TypeError(
      `Cannot listen for signals as 'signals' must be a non-empty array: received ${
        formatValue(signals)
      }`,
    );
  }
  if (timeoutMs !== undefined) {
    validateDelay("listen for signals", "timeoutMs", timeoutMs);
  }

  let received = 0;
  let disposed = false;
  const registered: [Deno.Signal, () => void][] = [];

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    signal?.removeEventListener("abort", dispose);
    for (const [name, handler] of registered) {
      Deno.removeSignalListener(name, handler);
    }
    registered.length = 0;
  };

  const handle = (name: Deno.Signal): void => {
    if (disposed) return;
    const forced = received++ > 0;
    // Remove before calling out, so a third signal terminates the process even
    // if the forced shutdown never settles.
    if (forced) dispose();
    try {
      onSignal?.(name, forced);
    } catch (error) {
      onError(error);
    }
    let result: Promise<unknown>;
    try {
      result = forced ? target.shutdown({ force: true }) : target.shutdown(
        timeoutMs === undefined
          ? { force: false }
          : { force: false, timeoutMs },
      );
    } catch (error) {
      onError(error);
      return;
    }
    Promise.resolve(result).catch(onError);
  };

  if (signal?.aborted) {
    disposed = true;
    return { [Symbol.dispose]() {} };
  }
  try {
    for (const name of new Set(signals)) {
      const handler = (): void => handle(name);
      Deno.addSignalListener(name, handler);
      registered.push([name, handler]);
    }
  } catch (error) {
    // An unsupported signal (SIGTERM on Windows, a typo): undo what was added.
    dispose();
    throw error;
  }
  signal?.addEventListener("abort", dispose, { once: true });
  return { [Symbol.dispose]: dispose };
}
