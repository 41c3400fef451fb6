// The PROXY protocol gate of a ConnectionTable: a connection whose server
// expects a PROXY header is held back (flagged R_PROXY, not shown to the
// handler) until its header is parsed, then connected with the addresses the
// header gives; a bad or missing header costs that connection only. The
// parsing and deadlines live in proxy/; this module feeds them the
// connection's events and applies their verdict.
//
// The common case costs little: a proxy sends the whole header in the
// connection's first segment, often with the client's first bytes. It is
// parsed in place in the read buffer, the connection is connected, and the
// table goes on delivering the rest of the same event to onData (no copy, no
// second event). Only a header split over reads, an untrusted peer or a
// timeout make a per-connection ProxyHandshake.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { Event } from "../../reactor/event.ts";
import { maySignature, parseWholeHeader } from "../proxy/_decode.ts";
import {
  DIRECT,
  HandshakeDeadlines,
  type HandshakeStep,
  isTrustedPeer,
  ProxyHandshake,
  proxyInfoOf,
  type ProxySettings,
  untrustedPeer,
} from "../proxy/_server_proxy.ts";
import { DEFAULT_MAX_HEADER_BYTES } from "../proxy/_wire.ts";
import type { ProxyHeader } from "../proxy/proxy_header.ts";
import type { ProxyHeaderError } from "../proxy/proxy_header_error.ts";
import type { ProxyInfo } from "../proxy/proxy_info.ts";
import {
  type ConnectionRecord,
  R_PROXY,
  reasonOf,
  RecordExtra,
} from "./_connection_record.ts";
import type { DisconnectReason } from "./network_handler.ts";

/** What the gate needs of its table. */
export interface ProxyGateTable<T> {
  readonly loop: EventLoop;
  /** The connection with id `id`, if in the table. */
  record(id: number): ConnectionRecord<T> | undefined;
  /** Shows the connection to the handler (onConnect). */
  connected(record: ConnectionRecord<T>): void;
  dispatch(record: ConnectionRecord<T>, event: Event): void;
  /** Takes a connection the loop closed out of the table. */
  remove(record: ConnectionRecord<T>, reason: DisconnectReason): void;
  /** Closes a connection at once. */
  close(record: ConnectionRecord<T>, reason: DisconnectReason): void;
  reportError(error: Error, id: number): void;
}

/** `event()`'s answer when the table has nothing more to deliver. */
export const HELD: null = null;

/** The PROXY handshakes of one table's connections. */
export class ProxyGate<T> {
  readonly #table: ProxyGateTable<T>;
  readonly #settings: ProxySettings;
  /** Header deadlines of the handshakes (made on first use). */
  #deadlines: HandshakeDeadlines | undefined;

  constructor(table: ProxyGateTable<T>, settings: ProxySettings) {
    this.#table = table;
    this.#settings = settings;
  }

  /** Starts the handshake of a new connection. */
  begin(record: ConnectionRecord<T>): void {
    const settings = this.#settings;
    record.flags |= R_PROXY;
    if (settings.trusted !== undefined) {
      let remote: Deno.Addr;
      try {
        remote = record.conn.remoteAddr;
      } catch {
        remote = { transport: "unix", path: "" };
      }
      if (!isTrustedPeer(settings, remote)) {
        if (settings.mode !== "optional") {
          this.#step(record, {
            kind: "fail",
            error: untrustedPeer(remote, false),
          }, undefined);
          return;
        }
        (record.x ??= new RecordExtra()).handshake = new ProxyHandshake(
          settings,
          false,
        );
      }
    }
    (this.#deadlines ??= new HandshakeDeadlines(
      settings.timeoutMs,
      (ms, callback) => void this.#table.loop.addTimer(ms, callback),
      (id) => this.#pendingRecord(id) !== undefined,
      (id) => {
        const late = this.#pendingRecord(id)!;
        this.#step(late, this.#handshake(late).timedOut(), undefined);
      },
    )).add(record.id);
  }

  /**
   * An event of a connection still in its handshake. Returns the bytes the
   * table is to deliver with the rest of `event` once the connection is
   * connected (`undefined`: none), or {@linkcode HELD} when it has nothing
   * more to do (still waiting, refused or closed).
   */
  event(
    record: ConnectionRecord<T>,
    event: Event,
  ): Uint8Array | undefined | null {
    const data = event.data;
    if (data !== undefined && record.x?.handshake === undefined) {
      // Nothing buffered yet: the header whole in this chunk is parsed in
      // place, and a chunk that cannot start one (mode "optional") is the
      // start of a direct connection.
      const mode = this.#settings.mode;
      let header: ProxyHeader | undefined;
      try {
        header = parseWholeHeader(data, mode, DEFAULT_MAX_HEADER_BYTES);
      } catch (error) {
        return this.#step(
          record,
          { kind: "fail", error: error as ProxyHeaderError },
          event,
        );
      }
      if (header !== undefined) {
        const rest = header.length < data.length
          ? data.subarray(header.length)
          : undefined;
        return this.#open(record, proxyInfoOf(header), undefined, rest);
      }
      if (mode === "optional" && !maySignature(data[0]!, mode)) {
        return this.#open(record, DIRECT, undefined, data);
      }
    }
    const handshake = this.#handshake(record);
    let step: HandshakeStep = WAIT;
    if (data !== undefined) step = handshake.data(data, record.conn);
    if (
      step.kind === "wait" &&
      (event.error !== undefined || event.closed || event.readClosed)
    ) {
      step = handshake.ended();
    }
    return this.#step(record, step, event);
  }

  /** The record of connection `id` if it is still in its handshake. */
  #pendingRecord(id: number): ConnectionRecord<T> | undefined {
    const record = this.#table.record(id);
    return record !== undefined && record.open &&
        (record.flags & R_PROXY) !== 0
      ? record
      : undefined;
  }

  /** The record's handshake, made when the fast path could not finish. */
  #handshake(record: ConnectionRecord<T>): ProxyHandshake {
    const x = record.x ??= new RecordExtra();
    return x.handshake ??= new ProxyHandshake(this.#settings, true);
  }

  #step(
    record: ConnectionRecord<T>,
    step: HandshakeStep,
    event: Event | undefined,
  ): Uint8Array | undefined | null {
    if (step.kind === "wait") return HELD;
    if (step.kind === "open") {
      return this.#open(record, step.info, step.held, step.rest);
    }
    const table = this.#table;
    // Still flagged R_PROXY: remove() tells the handler nothing but onError.
    if (step.kind === "fail") table.reportError(step.error, record.id);
    const reason: DisconnectReason = step.kind === "fail"
      ? "bad proxy header"
      : event?.error !== undefined
      ? reasonOf(event.error)
      : "peer closed";
    if (event?.closed) table.remove(record, reason);
    else table.close(record, reason);
    return HELD;
  }

  /**
   * Connects the record: `held` (bytes kept while they looked like a
   * signature) is delivered at once, `rest` is returned for the table to
   * deliver with the event being dispatched.
   */
  #open(
    record: ConnectionRecord<T>,
    info: ProxyInfo,
    held: Uint8Array | undefined,
    rest: Uint8Array | undefined,
  ): Uint8Array | undefined | null {
    const x = record.x;
    if (x !== undefined) x.handshake = undefined;
    if (info !== DIRECT) {
      const extra = x ?? (record.x = new RecordExtra());
      extra.proxyInfo = info;
      if (info.addressesFromHeader) {
        extra.remoteAddr = info.header!.source!;
        extra.localAddr = info.header!.destination!;
      }
    }
    record.flags &= ~R_PROXY;
    const table = this.#table;
    table.connected(record);
    if (held !== undefined && record.open) {
      table.dispatch(record, dataEvent(record.token, held));
    }
    return record.open ? rest : HELD;
  }
}

const WAIT: HandshakeStep = { kind: "wait" };

/** An event carrying only bytes (bytes held back by a PROXY handshake). */
function dataEvent(token: number, data: Uint8Array): Event {
  return {
    token,
    readable: true,
    writable: false,
    readClosed: false,
    error: undefined,
    closed: false,
    data,
    conn: undefined,
    remoteAddr: undefined,
  };
}
