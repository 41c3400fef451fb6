// One connection of a ConnectionTable (its record, kept small: idle
// connections are made of it), the settings and counters of the table, and
// the disconnect reasons they count.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { Codec } from "../codec/codec.ts";
import type { ProxyHandshake, ProxySettings } from "../proxy/_server_proxy.ts";
import type { ProxyInfo } from "../proxy/proxy_info.ts";
import type { DisconnectReason } from "./network_handler.ts";
import type { ConnectionTable } from "./_connection_table.ts";
import { defineExtras, defineFlags } from "../../_internal/record_fields.ts";

export type TimerHandle = ReturnType<EventLoop["addTimer"]>;

/** Settings the table applies to every connection. */
export interface ConnectionSettings {
  noDelay: boolean;
  keepAlive: boolean;
  idleTimeoutMs: number;
  writeHighWaterMark: number;
  maxWriteBuffer: number;
  /**
   * Largest receive buffer of one connection; undefined when the loop was
   * created with it (no per-registration options on the hot path).
   */
  maxReadBufferSize?: number | undefined;
  /** The `codec` option: `sendFrame` encodes with it. */
  codec?: Codec<unknown, unknown> | undefined;
  /** PROXY protocol handshake settings; undefined when off. */
  proxy?: ProxySettings | undefined;
  /** Makes connection ids (a multi-worker server's span its Workers). */
  allocateId?: (() => number) | undefined;
  /**
   * Where to count (`_server_counters.ts`): a multi-worker server's Worker
   * counts in its slot of the shared buffer; by default the table's own.
   */
  counters?: Float64Array | undefined;
  /**
   * Called when a write leaves a connection's queue at or over the
   * high-water mark (a Worker then samples its pending bytes for the stats).
   */
  onHighWater?: (() => void) | undefined;
}

/** In the table. */
export const R_OPEN = 1;
const R_WRITESHUT = 2;
const R_WANTWRITABLE = 4;
/** Waiting for its PROXY header: not yet shown to the handler. */
export const R_PROXY = 8;

/** The rarely used parts of a record, allocated on first use. */
export class RecordExtra {
  remoteAddr: Deno.Addr | undefined = undefined;
  lastActive = 0;
  idleTimer: TimerHandle | undefined = undefined;
  localAddr: Deno.Addr | undefined = undefined;
  handshake: ProxyHandshake | undefined = undefined;
  proxyInfo: ProxyInfo | undefined = undefined;
}

/**
 * One open connection; kept small, as idle connections are made of it: its
 * booleans share one integer, and the remote address and idle-timeout state
 * live in an object made only when needed.
 */
export class ConnectionRecord<T> {
  readonly id: number;
  readonly token: number;
  readonly conn: Deno.Conn;
  data: T | undefined = undefined;
  flags: number = R_OPEN;
  x: RecordExtra | undefined = undefined;
  /** The table, for the record's event handler (bound to the record). */
  readonly table: ConnectionTable<T, unknown>;

  constructor(
    table: ConnectionTable<T, unknown>,
    id: number,
    token: number,
    conn: Deno.Conn,
  ) {
    this.table = table;
    this.id = id;
    this.token = token;
    this.conn = conn;
  }

  /** Read from the conn on first use (most servers never ask). */
  declare remoteAddr: Deno.Addr | undefined;
  /** Write side shut (graceful shutdown): `sendTo` refuses. */
  declare writeShut: boolean;
  /** `sendTo` returned false: tell the handler once it drains. */
  declare wantWritable: boolean;
  /** In the table (false once removed). */
  declare open: boolean;
  declare lastActive: number;
  /** Only with an idle timeout. */
  declare idleTimer: TimerHandle | undefined;
}

defineFlags(ConnectionRecord.prototype, {
  writeShut: R_WRITESHUT,
  wantWritable: R_WANTWRITABLE,
  open: R_OPEN,
});
defineExtras(ConnectionRecord.prototype, RecordExtra, {
  remoteAddr: undefined,
  lastActive: 0,
  idleTimer: undefined,
});

/** A count of zero for every disconnect reason, in the order stats list them. */
export function zeroDisconnects(): Record<DisconnectReason, number> {
  return {
    "peer closed": 0,
    "reset": 0,
    "idle timeout": 0,
    "slow consumer": 0,
    "shutdown": 0,
    "handler error": 0,
    "frame too large": 0,
    "closed": 0,
    "error": 0,
    "bad proxy header": 0,
    "worker crashed": 0,
  };
}

/** Maps a Deno I/O error to a disconnect reason. */
export function reasonOf(error: Error): DisconnectReason {
  if (
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    (error as { code?: unknown }).code === "ECONNRESET" ||
    (error as { code?: unknown }).code === "EPIPE"
  ) {
    return "reset";
  }
  return "error";
}
