// A listener whose accept() takes a deadline and a signal, and applies
// tk-listen's accept-error policy (_internal/accept_policy.ts).
//
// Deno's accept() cannot be cancelled either: a timed-out accept stays in
// flight and the next accept() adopts it, so no connection is lost; if the
// listener is closed meanwhile, a connection it still produces is closed.
import { classifyAcceptError } from "../../_internal/accept_policy.ts";
import { parseAddress } from "../_address.ts";
import { listen } from "../_listen.ts";
import {
  MAX_BACKLOG,
  validateInteger,
  validateMilliseconds,
  validateTypeOf,
} from "../../_internal/validate.ts";
import { Deadline, DeadlineTimer } from "../_deadline.ts";
import { NetError } from "../errors.ts";
import { validateCallOptions, validateStreamOptions } from "./_options.ts";
import { TcpStream } from "./tcp_stream.ts";
import type { TcpStreamOptions } from "./tcp_stream_options.ts";

/**
 * The address of {@linkcode TcpListener.bind}: as for `Deno.listen`, or a
 * `"host:port"` string (`"[::1]:8080"`, `":0"`) as `TcpServerConfig` takes.
 * Without a hostname Deno binds `0.0.0.0`.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, type TcpListenerAddress } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const address: TcpListenerAddress = { hostname: "127.0.0.1", port: 0 };
 * using listener = TcpListener.bind(address);
 * assertEquals((listener.addr as Deno.NetAddr).hostname, "127.0.0.1");
 * ```
 */
export type TcpListenerAddress =
  | string
  | { hostname?: string; port: number; transport?: "tcp" }
  | { transport: "unix"; path: string };

/**
 * Options for {@linkcode TcpListener.bind}.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, type TcpListenerOptions } from "@millrace/io/net";
 * import { assertFalse } from "@std/assert";
 *
 * const options: TcpListenerOptions = { tcpBacklog: 128, acceptErrorDelayMs: 50, readTimeoutMs: 30_000 };
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, options);
 * assertFalse(listener.closed);
 * ```
 */
export interface TcpListenerOptions extends TcpStreamOptions {
  /**
   * Length of the kernel's queue of connections not yet accepted: 1 to
   * 65535.
   *
   * @default {511}
   */
  tcpBacklog?: number;
  /**
   * How long to wait before accepting again after an accept error other than
   * a peer's reset/abort/refusal (EMFILE, ENFILE, ENOMEM, ...): whole
   * milliseconds from 0 to 2 ** 31 - 1.
   *
   * @default {100}
   */
  acceptErrorDelayMs?: number;
  /**
   * Reports an accept error that triggers the back-off (EMFILE, ENFILE, ...).
   * Errors of peers that reset or aborted before being accepted are not
   * reported: they are retried at once.
   *
   * @default {logs with `console.error`, as `Deno.serve` does}
   *
   * @param error The accept error.
   */
  onError?(error: unknown): void;
}

/**
 * Options for {@linkcode TcpListener.accept}.
 *
 * @example Usage
 * ```ts
 * import { TcpListener, type TcpListenerAcceptOptions, TcpStream } from "@millrace/io/net";
 * import { assertFalse } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using _client = await TcpStream.connect(listener.addr);
 * const options: TcpListenerAcceptOptions = { timeoutMs: 1_000, signal: AbortSignal.timeout(2_000) };
 * using server = await listener.accept(options);
 * assertFalse(server.closed);
 * ```
 */
export interface TcpListenerAcceptOptions {
  /**
   * Total time for the call in milliseconds, retries and back-off included:
   * from 0 to 2 ** 31 - 1 ms, or `Infinity`.
   *
   * @default {Infinity}
   */
  timeoutMs?: number;
  /** Cancels the call; it rejects with `CancelledError`. */
  signal?: AbortSignal;
}

const noop = (): void => {};

/**
 * Accepts connections as {@linkcode TcpStream}s, with a deadline and a signal
 * on every `accept()`, and survives accept errors: a peer that reset, aborted
 * or was refused is skipped at once; any other error (EMFILE/ENFILE when
 * descriptors run out) is reported to `onError` and followed by a pause of
 * `acceptErrorDelayMs` before the next accept, never a hot loop.
 *
 * Accepted streams get the listener's `readTimeoutMs`, `writeTimeoutMs` and
 * `canceller`. Iterating the listener accepts until it is closed.
 *
 * @example An echo server that stops on its own
 * ```ts
 * import { TcpListener, TcpStream } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, { readTimeoutMs: 1_000 });
 * const served = (async () => {
 *   using stream = await listener.accept({ timeoutMs: 1_000 });
 *   const line = await stream.readUntil(new Uint8Array([10]), { includeDelimiter: true });
 *   if (line) await stream.writeAll(line);
 * })();
 * using client = await TcpStream.connect(listener.addr);
 * await client.writeAll(new TextEncoder().encode("hi\n"));
 * assertEquals(new TextDecoder().decode(await client.readExact(3)), "hi\n");
 * await served;
 * ```
 */
export class TcpListener implements Disposable, AsyncIterable<TcpStream> {
  readonly #listener: Deno.Listener;
  readonly #options: TcpListenerOptions;
  readonly #acceptErrorDelayMs: number;
  // The accept in flight (at most one); it never rejects: a connection goes
  // to #ready, an error to #errors.
  #inflight: Promise<void> | undefined;
  #ready: Deno.Conn[] = [];
  #errors: unknown[] = [];
  #backoffUntil = 0;
  #closed = false;
  readonly #timer: DeadlineTimer;
  #acceptTail: Promise<void> = Promise.resolve();
  #acceptCalls = 0;

  /**
   * Wraps an open listener, for example one from `Deno.listenTls`. The
   * `TcpListener` owns it from now on (`tcpBacklog` is ignored here).
   *
   * @example Wrap a Deno listener
   * ```ts
   * import { TcpListener } from "@millrace/io/net";
   *
   * using listener = new TcpListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), {
   *   acceptErrorDelayMs: 50,
   * });
   * ```
   *
   * @param listener The listener to accept from.
   * @param options Accept-error policy and defaults for accepted streams.
   */
  constructor(listener: Deno.Listener, options: TcpListenerOptions = {}) {
    validateListenerOptions("create listener", options);
    this.#listener = listener;
    this.#options = { ...options };
    this.#acceptErrorDelayMs = options.acceptErrorDelayMs ?? 100;
    this.#timer = new DeadlineTimer(options.canceller?.signal);
  }

  /**
   * Listens on `address` (as `Deno.listen`; port 0 picks a free port).
   *
   * @example Bind to an ephemeral port
   * ```ts
   * import { TcpListener } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * assert((listener.addr as Deno.NetAddr).port > 0);
   * ```
   *
   * @param address Hostname and port, or a Unix socket path.
   * @param options Backlog, accept-error policy and defaults for streams.
   * @returns The listener.
   */
  static bind(
    address: TcpListenerAddress,
    options: TcpListenerOptions = {},
  ): TcpListener {
    const action = "bind listener";
    const parsed = parseAddress(action, address, true);
    validateListenerOptions(action, options);
    const listener = listen(
      parsed,
      options.tcpBacklog === undefined
        ? {}
        : { tcpBacklog: options.tcpBacklog },
    );
    return new TcpListener(listener, options);
  }

  /** The address listened on. */
  get addr(): Deno.Addr {
    return this.#listener.addr;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Accepts the next connection within `timeoutMs`. A timed-out or cancelled
   * accept stays in flight and the next call adopts it: no connection is lost.
   * Rejects with `TimedOutError`, `CancelledError`, or a `NetError` of kind
   * `"closed"` once the listener is closed.
   *
   * @example Accept with a deadline
   * ```ts
   * import { TcpListener, TimedOutError } from "@millrace/io/net";
   * import { assertRejects } from "@std/assert";
   *
   * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * await assertRejects(() => listener.accept({ timeoutMs: 10 }), TimedOutError);
   * ```
   *
   * @param options Deadline and signal.
   * @returns The accepted stream.
   * @throws {TimedOutError} If `timeoutMs` passes first.
   * @throws {CancelledError} If `signal` or the canceller aborts.
   * @throws {NetError} Of kind `"closed"` if the listener is or gets closed.
   * @throws {TypeError | RangeError} For bad options.
   */
  async accept(options: TcpListenerAcceptOptions = {}): Promise<TcpStream> {
    const action = "accept";
    validateCallOptions(action, options);
    using deadline = new Deadline(
      action,
      options.timeoutMs,
      [options.signal],
      this.#timer,
    );
    this.#throwIfClosed();
    deadline.throwIfAborted();
    // One accept call at a time, in call order.
    const previous = this.#acceptCalls > 0 ? this.#acceptTail : undefined;
    const { promise: done, resolve: release } = Promise.withResolvers<void>();
    this.#acceptTail = previous ? previous.then(() => done) : done;
    this.#acceptCalls++;
    try {
      if (previous) await deadline.race(previous);
      while (true) {
        this.#throwIfClosed();
        const conn = this.#ready.shift();
        if (conn) return this.#wrap(conn);
        const error = this.#errors.shift();
        if (error !== undefined) {
          const action = classifyAcceptError(error);
          if (action === "closed") {
            this.close();
            continue;
          }
          if (action === "backoff") {
            this.#backoffUntil = performance.now() + this.#acceptErrorDelayMs;
            try {
              const { onError } = this.#options;
              if (onError) onError(error);
              else logAcceptError(error, this.#acceptErrorDelayMs);
            } catch {
              // A failing reporter must not stop the listener.
            }
            // Always through a timer, even with a delay of 0, so that a
            // listener failing at once cannot starve the event loop.
            await deadline.sleep(this.#acceptErrorDelayMs);
          }
          continue; // "retry": accept again at once
        }
        const pause = this.#backoffUntil - performance.now();
        if (pause > 0) {
          await deadline.sleep(pause);
          continue;
        }
        if (!this.#inflight) this.#startAccept();
        await deadline.race(this.#inflight!);
      }
    } finally {
      this.#acceptCalls--;
      release();
    }
  }

  /**
   * Accepts until the listener is closed.
   *
   * @example Usage
   * ```ts
   * import { TcpListener, TcpStream } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * using _client = await TcpStream.connect(listener.addr);
   * let accepted = 0;
   * for await (using _stream of listener) {
   *   accepted++;
   *   listener.close(); // ends the loop
   * }
   * assertEquals(accepted, 1);
   * ```
   *
   * @returns An iterator of accepted streams.
   * @throws {TimedOutError} Never by itself (no deadline); accept errors other
   * than the listener closing are thrown.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpStream> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof NetError && error.kind === "closed") return;
        throw error;
      }
    }
  }

  /**
   * Stops listening; idempotent. A pending `accept()` rejects with a
   * `NetError` of kind `"closed"`; connections accepted but not yet handed out
   * are closed.
   *
   * @example Usage
   * ```ts
   * import { NetError, TcpListener } from "@millrace/io/net";
   * import { assertRejects } from "@std/assert";
   *
   * const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * const pending = listener.accept();
   * listener.close();
   * await assertRejects(() => pending, NetError, "closed");
   * ```
   *
   * @throws {Error} Deno's error if closing the listener fails other than by
   * it being closed already.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer[Symbol.dispose]();
    for (const conn of this.#ready.splice(0)) closeQuietly(conn);
    this.#errors = [];
    try {
      this.#listener.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /**
   * Closes the listener (see {@linkcode TcpListener.close}).
   *
   * @example Usage
   * ```ts
   * import { TcpListener } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
   * {
   *   using _scoped = listener;
   * }
   * assert(listener.closed);
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  #startAccept(): void {
    this.#inflight = this.#listener.accept().then(
      (conn) => {
        this.#inflight = undefined;
        // Closed while this accept was pending: nobody will take it.
        if (this.#closed) closeQuietly(conn);
        else this.#ready.push(conn);
      },
      (error) => {
        this.#inflight = undefined;
        if (!this.#closed) {
          this.#errors.push(error ?? new Error("accept failed"));
        }
      },
    );
    this.#inflight.catch(noop);
  }

  #wrap(conn: Deno.Conn): TcpStream {
    const { readTimeoutMs, writeTimeoutMs, canceller } = this.#options;
    return new TcpStream(conn, {
      ...(readTimeoutMs === undefined ? {} : { readTimeoutMs }),
      ...(writeTimeoutMs === undefined ? {} : { writeTimeoutMs }),
      ...(canceller === undefined ? {} : { canceller }),
    });
  }

  #throwIfClosed(): void {
    if (this.#closed) {
      throw new NetError("closed", "Cannot accept as the listener is closed");
    }
  }
}

function logAcceptError(error: unknown, delayMs: number): void {
  // deno-lint-ignore no-console
  console.error(
    `TcpListener: accept failed, accepting again in ${delayMs} ms:`,
    error,
  );
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function validateListenerOptions(
  action: string,
  options: TcpListenerOptions,
): void {
  validateStreamOptions(action, options);
  if (options.acceptErrorDelayMs !== undefined) {
    validateMilliseconds(
      action,
      "acceptErrorDelayMs",
      options.acceptErrorDelayMs,
    );
  }
  if (options.tcpBacklog !== undefined) {
    validateInteger(action, "tcpBacklog", options.tcpBacklog, {
      min: 1,
      max: MAX_BACKLOG,
    });
  }
  if (options.onError !== undefined) {
    validateTypeOf(action, "onError", options.onError, "function");
  }
}
