// `TcpClient`: one outbound connection driven by the same `NetworkHandler` as
// `TcpServer`, with connect deadlines, cancellation and optional reconnect
// with capped exponential backoff.

import { EventLoop } from "../../reactor/event_loop.ts";
import { toError } from "../../_internal/to_error.ts";
import { formatValue } from "../../_internal/format.ts";
import { backoffDelay } from "./_backoff.ts";
import { ConnectionTable, validateHandler } from "./_connection_table.ts";
import { CancelledError, NetError, TimedOutError } from "../errors.ts";
import type { NetworkHandler } from "./network_handler.ts";
import type { ServerContext } from "./server_context.ts";

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
  /** Delay before the first reconnect attempt. @default {100} */
  initialDelayMs?: number;
  /** Cap of the delay, which doubles after each failed attempt. @default {5000} */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row. @default {Infinity} */
  maxAttempts?: number;
  /**
   * A connection must stay up this long before the backoff starts again from
   * `initialDelayMs`; one that ends sooner counts as a failed attempt, so a
   * server that accepts and drops at once is not hammered every
   * `initialDelayMs` forever. @default {maxDelayMs}
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
export interface TcpClientOptions {
  /** The loop to run on; without one the client creates and runs its own. */
  loop?: EventLoop;
  /** `TCP_NODELAY`. @default {true} */
  noDelay?: boolean;
  /** `SO_KEEPALIVE` (no interval: Deno exposes none). @default {false} */
  keepAlive?: boolean;
  /** Close the connection after this many ms without traffic; `0` disables. @default {0} */
  idleTimeoutMs?: number;
  /** `send` returns `false` above this many queued bytes. @default {65536} */
  writeHighWaterMark?: number;
  /** Disconnect (reason `"slow consumer"`) above this many queued bytes. @default {1048576} */
  maxWriteBuffer?: number;
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
  /** Deadline for the connection (each reconnect attempt too). @default {10000} */
  timeoutMs?: number;
  /** Aborting it cancels the connect and stops reconnecting. */
  signal?: AbortSignal;
}

function parseAddress(
  address: TcpClientAddress,
): Deno.ConnectOptions | Deno.UnixConnectOptions {
  if (typeof address === "string") {
    const match = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d+)$/.exec(address);
    if (!match) {
      throw new TypeError(
        `Cannot connect as 'address' must be "host:port": received ${
          formatValue(address)
        }`,
      );
    }
    return {
      hostname: match[1] ?? (match[2] || "127.0.0.1"),
      port: +match[3]!,
    };
  }
  if ("path" in address) return { transport: "unix", path: address.path };
  if (address.port === undefined) {
    throw new TypeError(
      "Cannot connect as 'address' must have a 'port' or a 'path'",
    );
  }
  return { hostname: address.hostname ?? "127.0.0.1", port: address.port };
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
export class TcpClient<T = unknown> implements AsyncDisposable {
  readonly #handler: NetworkHandler<T>;
  readonly #options: TcpClientOptions;
  readonly #reconnect: Required<TcpClientReconnectOptions> | undefined;
  #loop: EventLoop | undefined;
  #running: Promise<void> | undefined;
  #table: ConnectionTable<T> | undefined;
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
   * @param handler The callbacks (`onData` required).
   * @param options Loop, socket options and reconnect policy.
   */
  constructor(handler: NetworkHandler<T>, options: TcpClientOptions = {}) {
    validateHandler("create client", handler);
    this.#handler = handler;
    this.#options = options;
    const reconnect = options.reconnect;
    if (reconnect) {
      const policy = reconnect === true ? {} : reconnect;
      this.#reconnect = {
        initialDelayMs: policy.initialDelayMs ?? 100,
        maxDelayMs: policy.maxDelayMs ?? 5000,
        maxAttempts: policy.maxAttempts ?? Infinity,
        stableAfterMs: policy.stableAfterMs ?? policy.maxDelayMs ?? 5000,
      };
      for (const [field, value] of Object.entries(this.#reconnect)) {
        if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
          throw new RangeError(
            `Cannot create client as 'reconnect.${field}' must be a non-negative number: received ${value}`,
          );
        }
      }
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
  get context(): ServerContext<T> {
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
   * @param address Where to connect.
   * @param options Deadline and abort signal.
   * @returns The id of the new connection.
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
    this.#address = parseAddress(address);
    this.#connectOptions = options;
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    return await this.#connectOnce();
  }

  #ensureLoop(): ConnectionTable<T> {
    if (this.#table !== undefined) return this.#table;
    let loop = this.#options.loop;
    if (loop === undefined) {
      loop = new EventLoop({
        writeHighWaterMark: this.#options.writeHighWaterMark ?? 65536,
      });
      this.#running = loop.run();
    }
    this.#loop = loop;
    const table = new ConnectionTable<T>(loop, this.#handler, {
      noDelay: this.#options.noDelay ?? true,
      keepAlive: this.#options.keepAlive ?? false,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? 0,
      writeHighWaterMark: this.#options.writeHighWaterMark ?? 65536,
      maxWriteBuffer: this.#options.maxWriteBuffer ?? 1_048_576,
    });
    table.onRemoved = () => this.#disconnected();
    this.#table = table;
    return table;
  }

  async #connectOnce(): Promise<number> {
    const { timeoutMs = 10_000, signal } = this.#connectOptions;
    if (signal?.aborted) {
      throw new CancelledError(
        "Cannot connect as the operation was cancelled",
        {
          cause: signal.reason,
        },
      );
    }
    const controller = new AbortController();
    this.#connecting = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let conn: Deno.Conn;
    try {
      const address = this.#address!;
      const tls = this.#options.tls;
      if (tls !== undefined && address.transport !== "unix") {
        const tcp = address as Deno.ConnectOptions;
        const connectPromise = Deno.connectTls({
          hostname: tls.hostname ?? tcp.hostname ?? "127.0.0.1",
          port: tcp.port,
          ...(tls.caCerts ? { caCerts: tls.caCerts } : {}),
          ...(tls.alpnProtocols ? { alpnProtocols: tls.alpnProtocols } : {}),
        });
        conn = await raceAbort(connectPromise, controller.signal);
      } else if (address.transport === "unix") {
        conn = await raceAbort(
          Deno.connect(address as Deno.UnixConnectOptions),
          controller.signal,
        );
      } else {
        conn = await Deno.connect({
          ...(address as Deno.ConnectOptions),
          signal: controller.signal,
        });
      }
    } catch (error) {
      if (timedOut) {
        throw new TimedOutError(
          `Cannot connect as the deadline passed: 'timeoutMs' was ${timeoutMs}`,
          { cause: error },
        );
      }
      if (controller.signal.aborted) {
        throw new CancelledError(
          "Cannot connect as the operation was cancelled",
          { cause: signal?.reason ?? error },
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
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
   * @param bytes What to send.
   * @returns `false` when the queue is above the high-water mark.
   * @throws {NetError} With kind `"closed"` when not connected.
   */
  send(bytes: Uint8Array | string): boolean {
    const id = this.id;
    if (id === undefined) {
      throw new NetError(
        "closed",
        "Cannot send as the client is not connected",
      );
    }
    return this.#table!.sendTo(id, bytes);
  }

  /**
   * Closes the connection (after writing its queue unless `flush` is
   * `false`), stops reconnecting, and stops the client's own loop.
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

  /** Closes without flushing, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close({ flush: false });
  }
}

function raceAbort<C extends Deno.Conn>(
  promise: Promise<C>,
  signal: AbortSignal,
): Promise<C> {
  if (signal.aborted) {
    promise.then((conn) => conn.close(), () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<C>((resolve, reject) => {
    const onAbort = () => {
      // Deno cannot cancel this connect: close the conn if it lands later.
      promise.then((conn) => conn.close(), () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        resolve(conn);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
