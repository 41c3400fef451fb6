// `TcpClient`: one outbound connection driven by the same `NetworkHandler` as
// `TcpServer`, with connect deadlines, cancellation and optional reconnect
// with capped exponential backoff.

import { EventLoop } from "../../reactor/event_loop.ts";
import { toError } from "../../_internal/to_error.ts";
import {
  invalidOption,
  validateAtLeast,
  validateDelay,
  validateInteger,
  validateMilliseconds,
  validateSignal,
  validateTypeOf,
} from "../../_internal/validate.ts";
import {
  type ConnectionOptionValues,
  resolveConnectionOptions,
} from "./_connection_options.ts";
import type { ConnectionOptions } from "./connection_options.ts";
import { parseAddress, toDenoAddress } from "../_address.ts";
import { connectWithDeadline } from "../_connect.ts";
import { backoffDelay } from "./_backoff.ts";
import { ConnectionTable } from "./_connection_table.ts";
import { validateHandler } from "./_handler_checks.ts";
import { NetError } from "../errors.ts";
import type { NetworkHandler } from "./network_handler.ts";
import type { ServerContext } from "./server_context.ts";
import type { Codec } from "../codec/codec.ts";
import { framingHandler } from "./_framing.ts";

/**
 * Where a client connects: `"host:port"`, `{ hostname, port }` or a Unix socket.
 *
 * @example Usage
 * ```ts
 * import { TcpClient, type TcpClientAddress } from "@millrace/io/net";
 * import { assert } from "@std/assert";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const address: TcpClientAddress = `127.0.0.1:${listener.addr.port}`;
 * await using client = new TcpClient({ onData() {} });
 * await client.connect(address, { timeoutMs: 1_000 });
 * assert(client.connected);
 * ```
 */
export type TcpClientAddress =
  | string
  | { hostname?: string; port: number }
  | Deno.NetAddr
  | { transport: "unix"; path: string };

/**
 * Reconnect policy of a {@linkcode TcpClient}.
 *
 * @example Usage
 * ```ts
 * import { TcpClient, type TcpClientReconnectOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const reconnect: TcpClientReconnectOptions = { initialDelayMs: 50, maxDelayMs: 2_000, maxAttempts: 10 };
 * await using client = new TcpClient({ onData() {} }, { reconnect });
 * assertEquals(client.connected, false); // nothing happens until connect()
 * ```
 */
export interface TcpClientReconnectOptions {
  /** Delay before the first reconnect attempt: whole ms from 0 to 2 ** 31 - 1. @default {100} */
  initialDelayMs?: number;
  /**
   * Cap of the delay, which doubles after each failed attempt: whole ms from
   * `initialDelayMs` to 2 ** 31 - 1.
   * @default {5000}
   */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row: 1 or more, or `Infinity`. @default {Infinity} */
  maxAttempts?: number;
  /**
   * A connection must stay up this long before the backoff starts again from
   * `initialDelayMs`; one that ends sooner counts as a failed attempt, so a
   * server that accepts and drops at once is not hammered every
   * `initialDelayMs` forever. Whole ms from 0 to 2 ** 31 - 1.
   * @default {maxDelayMs}
   */
  stableAfterMs?: number;
}

/**
 * Options of {@linkcode TcpClient}.
 *
 * @example Usage
 * ```ts
 * import { TcpClient, type TcpClientOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const options: TcpClientOptions = { noDelay: true, idleTimeoutMs: 30_000, reconnect: true };
 * await using client = new TcpClient({ onData() {} }, options);
 * assertEquals(client.id, undefined); // nothing happens until connect()
 * ```
 */
export interface TcpClientOptions<F = Uint8Array, E = F>
  extends ConnectionOptions {
  /** The loop to run on; without one the client creates and runs its own. */
  loop?: EventLoop;
  /**
   * Frame the byte stream: the handler's `onFrame` gets whole frames and
   * `sendFrame` encodes (see `TcpServerOptions.codec`).
   */
  codec?: Codec<F, E>;
  /**
   * Reconnect after a connection ends other than by `close()`: `true` for
   * the default policy, or the policy. @default {false}
   */
  reconnect?: boolean | TcpClientReconnectOptions;
  /** Connect with TLS; `caCerts` for self-signed servers. */
  tls?: { caCerts?: string[]; alpnProtocols?: string[]; hostname?: string };
}

/**
 * Options of {@linkcode TcpClient.connect}.
 *
 * @example Usage
 * ```ts
 * import { TcpClient, type TcpClientConnectOptions } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * await using client = new TcpClient({ onData() {} });
 * const options: TcpClientConnectOptions = { timeoutMs: 1_000, signal: AbortSignal.timeout(2_000) };
 * const id = await client.connect(listener.addr, options);
 * assertEquals(client.id, id);
 * ```
 */
export interface TcpClientConnectOptions {
  /**
   * Deadline for the connection (each reconnect attempt too): from 0 to
   * 2 ** 31 - 1 ms, or `Infinity`.
   * @default {10000}
   */
  timeoutMs?: number;
  /** Aborting it cancels the connect and stops reconnecting. */
  signal?: AbortSignal;
}

/**
 * A client connection handled by a {@linkcode NetworkHandler}, the same
 * interface as {@linkcode TcpServer}'s: `onConnect`, `onData`,
 * `onDisconnect`... get a {@linkcode ServerContext} holding this one
 * connection. Connects with a deadline and an `AbortSignal`, and can
 * reconnect with capped exponential backoff (each new connection gets a new
 * id; `onConnect` runs again).
 *
 * @example Talking to an echo server
 * ```ts
 * import { TcpClient, TcpServer, TcpServerConfig } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new TcpServer(new TcpServerConfig({ port: 0 }), {
 *   onData: (ctx, id, data) => void ctx.sendTo(id, data),
 * });
 * const serving = server.run();
 *
 * const { promise, resolve } = Promise.withResolvers<string>();
 * const client = new TcpClient({
 *   onData: (_ctx, _id, data) => resolve(new TextDecoder().decode(data)),
 * });
 * await client.connect(server.addr as Deno.NetAddr, { timeoutMs: 1000 });
 * client.send("ping");
 * assertEquals(await promise, "ping");
 *
 * await client.close();
 * await server.shutdown();
 * await serving;
 * ```
 */
export class TcpClient<T = unknown, F = Uint8Array, E = F>
  implements AsyncDisposable {
  readonly #handler: NetworkHandler<T, unknown, E>;
  readonly #options: TcpClientOptions<F, E>;
  readonly #connection: ConnectionOptionValues;
  readonly #reconnect: Required<TcpClientReconnectOptions> | undefined;
  #loop: EventLoop | undefined;
  #running: Promise<void> | undefined;
  #table: ConnectionTable<T, E> | undefined;
  #id: number | undefined;
  #address: Deno.ConnectOptions | Deno.UnixConnectOptions | undefined;
  #connectOptions: TcpClientConnectOptions = {};
  #closed = false;
  #attempts = 0;
  #connectedAt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connecting: AbortController | undefined;
  #reconnecting: Promise<void> | undefined;

  /**
   * Creates a client; nothing happens until {@linkcode TcpClient.connect}.
   *
   * @example Usage
   * ```ts
   * import { TcpClient } from "@millrace/io/net";
   * import { assertThrows } from "@std/assert";
   *
   * await using client = new TcpClient({ onData() {} }, { idleTimeoutMs: 30_000, reconnect: { maxAttempts: 5 } });
   * assertThrows(() => new TcpClient({ onData() {} }, { idleTimeoutMs: 1.5 }), RangeError);
   * ```
   *
   * @param handler The callbacks (`onData` required, or `onFrame` with a
   *   `codec`).
   * @param options Loop, codec, socket options and reconnect policy.
   * @throws {TypeError} If `handler` lacks `onData` (`onFrame` with a codec)
   * or an option has the wrong type.
   * @throws {RangeError} If an option is out of its documented range.
   */
  constructor(
    handler: NetworkHandler<T, F, E>,
    options: TcpClientOptions<F, E> = {},
  ) {
    const action = "create client";
    const codec = options?.codec;
    validateHandler(action, handler, codec !== undefined);
    validateTypeOf(action, "options", options, "object");
    if (options.loop !== undefined && !(options.loop instanceof EventLoop)) {
      throw invalidOption(
        TypeError,
        action,
        "loop",
        "an EventLoop",
        options.loop,
      );
    }
    this.#handler =
      (codec === undefined
        ? handler
        : framingHandler(handler, codec)) as NetworkHandler<T, unknown, E>;
    this.#options = options;
    this.#connection = resolveConnectionOptions(action, options);
    const reconnect = options.reconnect;
    if (reconnect !== undefined && reconnect !== false) {
      const policy = reconnect === true ? {} : validateTypeOf(
        action,
        "reconnect",
        reconnect,
        "object",
      ) as TcpClientReconnectOptions;
      const initialDelayMs = validateMilliseconds(
        action,
        "reconnect.initialDelayMs",
        policy.initialDelayMs ?? 100,
      );
      const maxDelayMs = validateAtLeast(
        action,
        "reconnect.maxDelayMs",
        validateMilliseconds(
          action,
          "reconnect.maxDelayMs",
          policy.maxDelayMs ?? Math.max(5000, initialDelayMs),
        ),
        "reconnect.initialDelayMs",
        initialDelayMs,
      );
      this.#reconnect = {
        initialDelayMs,
        maxDelayMs,
        maxAttempts: validateInteger(
          action,
          "reconnect.maxAttempts",
          policy.maxAttempts ?? Infinity,
          { min: 1, allowInfinity: true },
        ),
        stableAfterMs: validateMilliseconds(
          action,
          "reconnect.stableAfterMs",
          policy.stableAfterMs ?? maxDelayMs,
        ),
      };
    }
  }

  /** The id of the open connection, or `undefined`. */
  get id(): number | undefined {
    return this.#id !== undefined && this.#table?.has(this.#id)
      ? this.#id
      : undefined;
  }

  /** Whether a connection is open. */
  get connected(): boolean {
    return this.id !== undefined;
  }

  /** The context handed to callbacks (available after the first connect). */
  get context(): ServerContext<T, E> {
    if (this.#table === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get context as the client never connected",
      );
    }
    return this.#table;
  }

  /**
   * Connects. Rejects with {@linkcode TimedOutError} after `timeoutMs`, with
   * {@linkcode CancelledError} when `signal` aborts, or with Deno's error
   * (e.g. `ConnectionRefused`). With reconnect on, later disconnects are
   * followed by new attempts until `close()` or `signal` aborts.
   *
   * @example Connect with a deadline
   * ```ts
   * import { TcpClient } from "@millrace/io/net";
   * import { assert } from "@std/assert";
   *
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * await using client = new TcpClient({ onData() {} });
   * const id = await client.connect(`127.0.0.1:${listener.addr.port}`, { timeoutMs: 1_000 });
   * assert(id > 0 && client.connected);
   * ```
   *
   * @param address Where to connect: `"host:port"`, `{ hostname, port }` or a
   * Unix socket.
   * @param options Deadline and abort signal.
   * @returns The id of the new connection.
   * @throws {TimedOutError} If `timeoutMs` passes first.
   * @throws {CancelledError} If `signal` aborts or the client is closed meanwhile.
   * @throws {NetError} Of kind `"closed"` if the client is closed.
   * @throws {Deno.errors.AlreadyExists} If a connection is already open.
   * @throws {TypeError | RangeError} For a bad address or options.
   */
  async connect(
    address: TcpClientAddress,
    options: TcpClientConnectOptions = {},
  ): Promise<number> {
    if (this.#closed) {
      throw new NetError("closed", "Cannot connect as the client is closed");
    }
    if (this.connected) {
      throw new Deno.errors.AlreadyExists(
        "Cannot connect as the client is already connected",
      );
    }
    validateTypeOf("connect", "options", options, "object");
    if (options.timeoutMs !== undefined) {
      validateDelay("connect", "timeoutMs", options.timeoutMs, {
        allowInfinity: true,
      });
    }
    validateSignal("connect", "signal", options.signal);
    this.#address = toDenoAddress(
      parseAddress("connect", address, false),
      "127.0.0.1",
    );
    this.#connectOptions = options;
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    return await this.#connectOnce();
  }

  #ensureLoop(): ConnectionTable<T, E> {
    if (this.#table !== undefined) return this.#table;
    let loop = this.#options.loop;
    if (loop === undefined) {
      loop = new EventLoop({
        writeHighWaterMark: this.#connection.writeHighWaterMark,
        writeLowWaterMark: this.#connection.writeLowWaterMark,
      });
      this.#running = loop.run();
    }
    this.#loop = loop;
    const table = new ConnectionTable<T, E>(loop, this.#handler, {
      codec: this.#options.codec as Codec<unknown, unknown> | undefined,
      noDelay: this.#connection.noDelay,
      keepAlive: this.#connection.keepAlive,
      idleTimeoutMs: this.#connection.idleTimeoutMs,
      writeHighWaterMark: this.#connection.writeHighWaterMark,
      maxWriteBuffer: this.#connection.maxWriteBuffer,
    });
    table.onRemoved = () => this.#disconnected();
    this.#table = table;
    return table;
  }

  async #connectOnce(): Promise<number> {
    const { timeoutMs = 10_000, signal } = this.#connectOptions;
    // close() aborts this one: a pending attempt ends as cancelled.
    const closing = new AbortController();
    this.#connecting = closing;
    let conn: Deno.Conn;
    try {
      conn = await connectWithDeadline(
        this.#address!,
        timeoutMs,
        [signal, closing.signal],
        this.#options.tls,
      );
    } finally {
      this.#connecting = undefined;
    }
    if (this.#closed) {
      conn.close();
      throw new NetError("closed", "Cannot connect as the client was closed");
    }
    const table = this.#ensureLoop();
    this.#connectedAt = performance.now();
    const record = table.add(conn);
    this.#id = record.id;
    return record.id;
  }

  #disconnected(): void {
    if (
      this.#closed || this.#reconnect === undefined ||
      this.#connectOptions.signal?.aborted
    ) {
      return;
    }
    if (
      performance.now() - this.#connectedAt >= this.#reconnect!.stableAfterMs
    ) {
      this.#attempts = 0;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const policy = this.#reconnect!;
    if (this.#attempts >= policy.maxAttempts) {
      this.#table?.reportError(
        new NetError(
          "closed",
          `Cannot reconnect as 'maxAttempts' was reached: ${policy.maxAttempts}`,
        ),
      );
      return;
    }
    const delay = backoffDelay(
      this.#attempts,
      policy.initialDelayMs,
      policy.maxDelayMs,
    );
    this.#attempts++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#reconnecting = this.#connectOnce().then(
        () => {},
        (error) => {
          if (this.#closed || this.#connectOptions.signal?.aborted) return;
          this.#table?.reportError(
            toError(error),
          );
          this.#scheduleReconnect();
        },
      ).finally(() => {
        this.#reconnecting = undefined;
      });
    }, delay);
  }

  #onAbort = (): void => this.#stopRetrying();

  #stopRetrying(): void {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  /**
   * Queues bytes (copied; a string is UTF-8 encoded) on the open connection.
   *
   * @example Usage
   * ```ts
   * import { TcpClient } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * await using client = new TcpClient({ onData() {} });
   * await client.connect(listener.addr);
   * assertEquals(client.send("ping\n"), true); // below the high-water mark
   * ```
   *
   * @param bytes What to send.
   * @returns `false` when the queue is above the high-water mark.
   * @throws {NetError} With kind `"closed"` when not connected.
   */
  send(bytes: Uint8Array | string): boolean {
    const id = this.#connectedId("send");
    return this.#table!.sendTo(id, bytes);
  }

  /**
   * Encodes `frame` with the `codec` and queues it, like `send`.
   *
   * @example Send a length-prefixed frame
   * ```ts
   * import { LengthPrefixedCodec, TcpClient } from "@millrace/io/net";
   *
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * await using client = new TcpClient({ onFrame() {} }, { codec: new LengthPrefixedCodec() });
   * await client.connect(listener.addr, { timeoutMs: 1_000 });
   * client.sendFrame(new Uint8Array([1, 2, 3]));
   * using conn = await listener.accept();
   * ```
   *
   * @param frame The frame to encode.
   * @returns `false` above the high-water mark (wait for `onWritable`).
   * @throws {NetError} With kind `"closed"` when not connected.
   * @throws {TypeError} Without a `codec`.
   */
  sendFrame(frame: E): boolean {
    const id = this.#connectedId("send frame");
    return this.#table!.sendFrame(id, frame);
  }

  /** The connection's id, or a closed `NetError` for `action`. */
  #connectedId(action: string): number {
    const id = this.id;
    if (id === undefined) {
      throw new NetError(
        "closed",
        `Cannot ${action} as the client is not connected`,
      );
    }
    return id;
  }

  /**
   * Closes the connection (after writing its queue unless `flush` is
   * `false`), stops reconnecting, and stops the client's own loop.
   *
   * @example Usage
   * ```ts
   * import { TcpClient } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const client = new TcpClient({ onData() {} });
   * await client.connect(listener.addr);
   * await client.close({ flush: true });
   * assertEquals(client.connected, false);
   * ```
   *
   * @param options Whether to flush first.
   */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connectOptions.signal?.removeEventListener("abort", this.#onAbort);
    this.#stopRetrying();
    this.#connecting?.abort();
    await this.#reconnecting;
    const table = this.#table;
    if (table !== undefined) {
      const id = this.id;
      if (id !== undefined) table.closeConnection(id, options);
      if (options.flush === false) table.abortLingering();
      await table.settled();
    }
    if (this.#options.loop === undefined && this.#loop !== undefined) {
      this.#loop.stop();
      await this.#running;
      await this.#loop[Symbol.asyncDispose]();
    }
  }

  /**
   * Closes without flushing, for `await using`.
   *
   * @example Usage
   * ```ts
   * import { TcpClient } from "@millrace/io/net";
   *
   * {
   *   await using _client = new TcpClient({ onData() {} });
   * } // closed here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close({ flush: false });
  }
}
