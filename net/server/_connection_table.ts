// The connection table shared by `TcpServer` and `TcpClient`: registers
// connections on the loop, drives the handler, implements `ServerContext`.
//
// Hot path (onData): one Map lookup by token, one timestamp store when an
// idle timeout is set, the user callback inside try/catch. No per-event
// allocation: the context is this object. The record of one connection is in
// _connection_record.ts, the PROXY protocol gate in _connection_proxy.ts, the
// closes in flight in _close_tracker.ts.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { Event } from "../../reactor/event.ts";
import { Interest } from "../../reactor/interest.ts";
import { toError } from "../../_internal/to_error.ts";
import { IntMap } from "../../_internal/int_map.ts";
import { ConnectionNotFoundError, NetError } from "../errors.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import type { FramingTable } from "./_framing.ts";
import type {
  BroadcastOptions,
  CloseConnectionOptions,
  SendOptions,
  ServerContext,
} from "./server_context.ts";
import { DIRECT, type ProxySettings } from "../proxy/_server_proxy.ts";
import type { ProxyInfo } from "../proxy/proxy_info.ts";
import {
  ConnectionRecord,
  type ConnectionSettings,
  R_OPEN,
  R_PROXY,
  reasonOf,
  RecordExtra,
} from "./_connection_record.ts";
import {
  C_ACCEPTED,
  C_BYTES_QUEUED,
  C_BYTES_RECEIVED,
  C_CLOSED,
  C_DATA_EVENTS,
  C_HANDLER_ERRORS,
  COUNTER_FIELDS,
  REASON_FIELD,
} from "./_server_counters.ts";

import { watchResult } from "./_handler_checks.ts";
import { ProxyGate } from "./_connection_proxy.ts";
import { CloseTracker } from "./_close_tracker.ts";

const encoder = new TextEncoder();

/** A flushed close without a bound: one options object for every close. */
const FLUSH = Object.freeze({ flush: true } as const);

function noop(): void {}

function toBytes(bytes: Uint8Array | string): Uint8Array {
  return typeof bytes === "string" ? encoder.encode(bytes) : bytes.slice();
}

export class ConnectionTable<T, E = Uint8Array>
  implements ServerContext<T, E>, FramingTable {
  readonly #loop: EventLoop;
  readonly #handler: NetworkHandler<T, unknown, E>;
  readonly #settings: ConnectionSettings;
  /** By id; not a `Map`, whose churn retains dead records (int_map.ts). */
  readonly #byId = new IntMap<ConnectionRecord<T>>();
  /** The closes started and not yet finished. */
  readonly #closes: CloseTracker;
  #nextId = 1;
  /** maxWriteBuffer below the high-water mark: check the cap on every write. */
  readonly #checkEveryWrite: boolean;
  /** The `data` of the event being dispatched (the loop may adopt it). */
  #current: Uint8Array | undefined;
  /** Whose `onData` runs (its `lastActive` was just stamped). */
  #currentRecord: ConnectionRecord<T> | undefined;
  /** The record being reported to onDisconnect: its data stays readable. */
  #departing: ConnectionRecord<T> | undefined;
  /** The PROXY handshakes (made on first use). */
  #proxy: ProxyGate<T> | undefined;
  /** Called after a connection left the table. */
  onRemoved: (() => void) | undefined;
  /** While set, every disconnect is reported with this reason instead of a peer close. */
  shuttingDown = false;
  /** The stats' counters (`_server_counters.ts`); a Worker's are shared. */
  readonly counters: Float64Array;
  /** Most connections open at once in this table. */
  peak = 0;

  constructor(
    loop: EventLoop,
    handler: NetworkHandler<T, unknown, E>,
    settings: ConnectionSettings,
  ) {
    this.#loop = loop;
    this.#handler = handler;
    this.#settings = settings;
    this.counters = settings.counters ?? new Float64Array(COUNTER_FIELDS);
    this.#closes = new CloseTracker(loop);
    this.#checkEveryWrite = settings.maxWriteBuffer <=
      settings.writeHighWaterMark;
  }

  get loop(): EventLoop {
    return this.#loop;
  }

  get connectionCount(): number {
    return this.#byId.size;
  }

  /** Takes ownership of `conn`, registers it and calls `onConnect`. */
  add(conn: Deno.Conn): ConnectionRecord<T> {
    const settings = this.#settings;
    const tcp = conn as Partial<Deno.TcpConn>;
    if (typeof tcp.setNoDelay === "function") {
      try {
        tcp.setNoDelay(settings.noDelay);
        if (settings.keepAlive) tcp.setKeepAlive!(true);
      } catch {
        // The peer may already be gone; the first read reports it.
      }
    }
    const token = this.#loop.allocateToken();
    const record = new ConnectionRecord<T>(
      this,
      settings.allocateId?.() ?? this.#nextId++,
      token,
      conn,
    );
    this.#byId.set(record.id, record);
    this.counters[C_ACCEPTED]!++;
    if (this.#byId.size > this.peak) this.peak = this.#byId.size;
    const max = settings.maxReadBufferSize;
    // One handler per connection, a function bound to the record (smaller
    // than a closure and its context): no lookup by token on the hot path.
    // READABLE only: WRITABLE is added while a sender waits for a drain.
    this.#loop.register(
      conn,
      token,
      Interest.READABLE,
      ConnectionTable.#onEvent.bind(record),
      max === undefined ? undefined : {
        maxReadBufferSize: max,
        // Only a tiny cap lowers the loop's small starting buffer.
        ...(max < 4096 ? { minReadBufferSize: Math.min(64, max) } : {}),
      },
    );
    if (settings.idleTimeoutMs > 0) {
      record.lastActive = performance.now();
      this.#armIdle(record, settings.idleTimeoutMs);
    }
    if (settings.proxy !== undefined) {
      this.#proxyGate(settings.proxy).begin(record);
      return record;
    }
    this.#connected(record);
    return record;
  }

  #connected(record: ConnectionRecord<T>): void {
    this.#notify(record, "onConnect");
  }

  /**
   * Calls the handler's `onConnect` or `onWritable` (if it has one) for
   * `record`, under the async-handler rule; `false` if it threw.
   */
  #notify(
    record: ConnectionRecord<T>,
    name: "onConnect" | "onWritable",
  ): boolean {
    const callback = this.#handler[name];
    if (callback === undefined) return true;
    try {
      const result = callback.call(this.#handler, this, record.id);
      if (result !== undefined) this.#watch(record, result);
      return true;
    } catch (error) {
      this.#handlerFailed(record, error);
      return false;
    }
  }

  #proxyGate(settings: ProxySettings): ProxyGate<T> {
    return this.#proxy ??= new ProxyGate<T>({
      loop: this.#loop,
      record: (id) => this.#byId.get(id),
      connected: (record) => this.#connected(record),
      dispatch: (record, event) => this.#dispatch(record, event),
      remove: (record, reason) => this.#remove(record, reason),
      close: (record, reason) => this.close(record, reason, false),
      reportError: (error, id) => this.#reportError(error, id),
    }, settings);
  }

  static #onEvent = function (
    this: ConnectionRecord<unknown>,
    event: Event,
  ): void {
    this.table.#dispatch(this, event);
  };

  #dispatch(record: ConnectionRecord<T>, event: Event): void {
    if (!record.open) return;
    let data = event.data;
    if ((record.flags & R_PROXY) !== 0) {
      // The header is parsed: go on with the bytes after it, if connected.
      const rest = this.#proxy!.event(record, event);
      if (rest === null) return;
      data = rest;
    }
    if (data !== undefined) {
      if (record.idleTimer !== undefined) record.lastActive = performance.now();
      const counters = this.counters;
      counters[C_BYTES_RECEIVED]! += data.length;
      counters[C_DATA_EVENTS]!++;
      this.#current = data;
      this.#currentRecord = record;
      try {
        const result = this.#handler.onData!(this, record.id, data);
        if (result !== undefined) this.#watch(record, result);
      } catch (error) {
        this.#current = undefined;
        this.#currentRecord = undefined;
        this.#handlerFailed(record, error);
        return;
      }
      this.#current = undefined;
      this.#currentRecord = undefined;
      if (!record.open) return;
    }
    if (event.writable && record.wantWritable) {
      record.wantWritable = false;
      this.#loop.reregister(record.token, Interest.READABLE);
      if (!this.#notify(record, "onWritable") || !record.open) return;
    }
    const error = event.error;
    if (error !== undefined) {
      const reason = reasonOf(error);
      if (reason === "error") this.#reportError(error, record.id);
      this.#remove(record, this.shuttingDown ? "shutdown" : reason);
      if (!event.closed) this.#closes.track(this.#loop.close(record.token));
      return;
    }
    if (event.closed) {
      this.#remove(record, this.shuttingDown ? "shutdown" : "peer closed");
      return;
    }
    if (event.readClosed) {
      this.#remove(record, this.shuttingDown ? "shutdown" : "peer closed");
      // Echo-style peers half-close and still read: write what is queued
      // first. With nothing queued and the peer's end of stream seen there
      // is nothing to linger for and (but for a hand-over's writes still in
      // flight, which the loop waits for) nothing to flush: the loop then
      // closes at once, and the bound of the linger (a controller and a
      // timer per connection) is not needed (the churn path).
      const token = record.token;
      const loop = this.#loop;
      if (loop.has(token) && loop.pendingWriteBytes(token) === 0) {
        this.#closes.track(loop.close(token, FLUSH));
      } else this.#closes.close(token, true);
    }
  }

  #checkIdle(record: ConnectionRecord<T>): void {
    if (!record.open) return;
    const idle = this.#settings.idleTimeoutMs;
    // Lazy re-arm: traffic only stores a timestamp; the timer checks it when it
    // fires and sleeps again for the remainder.
    const elapsed = performance.now() - record.lastActive;
    if (elapsed >= idle - 1) {
      record.idleTimer = undefined;
      this.close(record, "idle timeout", false);
      return;
    }
    this.#armIdle(record, idle - elapsed);
  }

  // Closures over a record are made in small methods of their own: a
  // method that makes one allocates a V8 context on every call, taken path
  // or not, and `add` and `#remove` run once per connection.

  #armIdle(record: ConnectionRecord<T>, delayMs: number): void {
    record.idleTimer = this.#loop.addTimer(
      delayMs,
      () => this.#checkIdle(record),
    );
  }

  /** An async callback of `record`: its rejection costs the connection. */
  #watch(record: ConnectionRecord<T>, result: PromiseLike<void>): void {
    watchResult(result, (error) => this.#handlerFailed(record, error));
  }

  #handlerFailed(record: ConnectionRecord<T>, error: unknown): void {
    this.counters[C_HANDLER_ERRORS]!++;
    this.#reportError(toError(error), record.id);
    if (record.open) {
      this.close(record, "handler error", false);
    }
  }

  #reportError(error: Error, id: number | undefined): void {
    if (this.#handler.onError === undefined) return;
    try {
      watchResult(this.#handler.onError(this, error, id), noop);
    } catch {
      // An error handler that throws has nobody left to tell.
    }
  }

  failFrame(id: number, error: Error): void {
    const record = this.#byId.get(id);
    this.#reportError(error, id);
    if (record !== undefined) this.close(record, "frame too large", false);
  }

  reportFrameError(error: Error, id: number): void {
    this.#reportError(error, id);
  }

  /** Reports an error that belongs to no connection (accept errors). */
  reportError(error: Error): void {
    this.#reportError(error, undefined);
  }

  /** Takes the record out of the table and tells the handler. */
  #remove(record: ConnectionRecord<T>, reason: DisconnectReason): void {
    this.#byId.delete(record.id);
    record.open = false;
    record.idleTimer?.cancel();
    record.idleTimer = undefined;
    this.counters[C_CLOSED]!++;
    this.counters[REASON_FIELD[reason]]!++;
    // Never shown to the handler (R_PROXY: no onConnect): no onDisconnect.
    if (
      (record.flags & R_PROXY) === 0 && this.#handler.onDisconnect !== undefined
    ) this.#notifyDisconnect(record, reason);
    this.onRemoved?.();
  }

  #notifyDisconnect(
    record: ConnectionRecord<T>,
    reason: DisconnectReason,
  ): void {
    const outer = this.#departing;
    this.#departing = record;
    try {
      watchResult(
        this.#handler.onDisconnect!(this, record.id, reason),
        (error) => this.#disconnectFailed(record.id, error),
      );
    } catch (error) {
      this.#disconnectFailed(record.id, error);
    } finally {
      this.#departing = outer;
    }
  }

  /** `onDisconnect` threw: the connection is gone already; just report. */
  #disconnectFailed(id: number, error: unknown): void {
    this.counters[C_HANDLER_ERRORS]!++;
    this.#reportError(toError(error), id);
  }

  /** Cuts short every bounded flush of a closing connection. */
  abortLingering(): void {
    this.#closes.abortLingering();
  }

  /** Closes a connection the table still holds. */
  close(
    record: ConnectionRecord<T>,
    reason: DisconnectReason,
    flush: boolean,
  ): void {
    if (!record.open) return;
    this.#remove(record, reason);
    this.#closes.close(record.token, flush);
  }

  /** Flushes and half-closes every connection (graceful shutdown). */
  shutdownWrites(): void {
    for (const record of [...this.#byId.values()]) {
      if (record.writeShut) continue;
      if ((record.flags & R_PROXY) !== 0) {
        // No header yet, so nothing to flush: close it now.
        this.close(record, "shutdown", false);
        continue;
      }
      record.writeShut = true;
      this.#loop.shutdownWrite(record.token).catch(() => {
        // The connection closed before its queue drained; its close event
        // tells the handler.
      });
    }
  }

  /** Closes every connection now with `reason`; returns how many. */
  closeAll(reason: DisconnectReason): number {
    let count = 0;
    for (const record of [...this.#byId.values()]) {
      this.close(record, reason, false);
      count++;
    }
    return count;
  }

  /** Resolves when every close started so far has finished. */
  settled(): Promise<void> {
    return this.#closes.settled();
  }

  record(id: number): ConnectionRecord<T> | undefined {
    return this.#byId.get(id);
  }

  // ServerContext

  sendTo(
    id: number,
    bytes: Uint8Array | string,
    options?: SendOptions,
  ): boolean {
    const record = this.#sendable(id);
    // The loop takes over the buffer of the event being dispatched (echo
    // without a copy) and copies it itself if it is written twice; any other
    // caller buffer is copied here because the loop does not copy, unless
    // the caller promises not to change it (`copy: false`).
    const current = this.#current;
    const owned = typeof bytes !== "string" &&
        (bytes === current || options?.copy === false ||
          (current !== undefined && bytes.buffer === current.buffer))
      ? bytes
      : toBytes(bytes);
    return this.#queue(record, owned);
  }

  sendFrame(id: number, frame: E): boolean {
    const record = this.#sendable(id);
    return this.#queue(record, this.#encode("send frame", frame));
  }

  #sendable(id: number): ConnectionRecord<T> {
    // A reply from within onData goes to the connection being dispatched:
    // no lookup (unless onData closed it).
    const current = this.#currentRecord;
    const record = current !== undefined && current.id === id && current.open
      ? current
      : this.#byId.get(id);
    if (record === undefined) throw new ConnectionNotFoundError(id);
    if (record.writeShut) {
      throw new NetError(
        "closed",
        `Cannot send to connection as its write side is shut: id '${id}'`,
      );
    }
    return record;
  }

  #encode(action: string, frame: E): Uint8Array {
    const codec = this.#settings.codec;
    if (codec === undefined) {
      throw new TypeError(`Cannot ${action} as there is no 'codec'`);
    }
    return codec.encode(frame);
  }

  #queue(record: ConnectionRecord<T>, bytes: Uint8Array): boolean {
    const loop = this.#loop;
    // `write` returns false at the loop's high-water mark (the config's on a
    // loop the server created); only then is the queue size looked up.
    const below = loop.write(record.token, bytes);
    this.counters[C_BYTES_QUEUED]! += bytes.length;
    // A reply from within the peer's own onData: stamped on arrival already.
    if (record.idleTimer !== undefined && record !== this.#currentRecord) {
      record.lastActive = performance.now();
    }
    if (below && !this.#checkEveryWrite) return true;
    const pending = loop.pendingWriteBytes(record.token);
    if (pending > this.#settings.maxWriteBuffer) {
      this.close(record, "slow consumer", false);
      return false;
    }
    if (below) return true;
    this.#settings.onHighWater?.();
    if (pending > 0 && !record.wantWritable) {
      record.wantWritable = true;
      // Backpressure both ways: until the queue drains below the low-water
      // mark, read nothing more from this peer (TCP flow control then slows
      // it down), so a peer that sends faster than it reads is paced instead
      // of growing the queue toward "slow consumer".
      loop.reregister(record.token, Interest.WRITABLE);
    }
    return false;
  }

  broadcast(bytes: Uint8Array | string, options?: BroadcastOptions): number {
    return this.#broadcastShared(toBytes(bytes), options);
  }

  broadcastFrame(frame: E, options?: BroadcastOptions): number {
    return this.#broadcastShared(
      this.#encode("broadcast frame", frame),
      options,
    );
  }

  #broadcastShared(shared: Uint8Array, options?: BroadcastOptions): number {
    const except = options?.except;
    let count = 0;
    // No snapshot: the iterator tolerates the deletions a slow-consumer cut
    // makes on the way.
    for (const record of this.#byId.values()) {
      if ((record.flags & (R_OPEN | R_PROXY)) !== R_OPEN) continue;
      if (
        except !== undefined &&
        (typeof except === "number"
          ? except === record.id
          : except.includes(record.id))
      ) {
        continue;
      }
      if (record.writeShut) continue;
      try {
        this.#queue(record, shared);
        count++;
      } catch (error) {
        this.#reportError(toError(error), record.id);
      }
    }
    return count;
  }

  closeConnection(id: number, options?: CloseConnectionOptions): boolean {
    const record = this.#byId.get(id);
    if (record === undefined) return false;
    this.close(record, "closed", options?.flush ?? true);
    return true;
  }

  remoteAddr(id: number): Deno.Addr {
    const record = this.#byId.get(id);
    if (record === undefined) throw new ConnectionNotFoundError(id);
    return record.remoteAddr ??= record.conn.remoteAddr;
  }

  localAddr(id: number): Deno.Addr {
    const record = this.#byId.get(id);
    if (record === undefined) throw new ConnectionNotFoundError(id);
    const x = record.x ??= new RecordExtra();
    return x.localAddr ??= record.conn.localAddr;
  }

  proxyInfo(id: number): ProxyInfo | undefined {
    const record = this.#byId.get(id);
    if (record === undefined) throw new ConnectionNotFoundError(id);
    if (this.#settings.proxy === undefined) return undefined;
    return record.x?.proxyInfo ?? DIRECT;
  }

  connectionIds(): number[] {
    // Ascending: the order they were opened in, as a Map gave them.
    return [...this.#byId.keys()].sort((a, b) => a - b);
  }

  has(id: number): boolean {
    return this.#byId.has(id);
  }

  getData(id: number): T | undefined {
    const record = this.#byId.get(id) ??
      (this.#departing?.id === id ? this.#departing : undefined);
    return record?.data;
  }

  setData(id: number, value: T): void {
    const record = this.#byId.get(id);
    if (record === undefined) throw new ConnectionNotFoundError(id);
    record.data = value;
  }
}
