// The PROXY protocol gate of a ConnectionTable: a connection whose server
// expects a PROXY header is held back (flagged R_PROXY, not shown to the
// handler) until its header is parsed, then connected with the addresses the
// header gives; a bad or missing header costs that connection only. The
// parsing and deadlines live in proxy/_server_proxy.ts; this module feeds
// them the connection's events and applies their verdict.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { Event } from "../../reactor/event.ts";
import {
  HandshakeDeadlines,
  type HandshakeStep,
  ProxyHandshake,
  type ProxySettings,
} from "../proxy/_server_proxy.ts";
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
  /** Shows the connection to the handler (onConnect). */
  connected(record: ConnectionRecord<T>): void;
  dispatch(record: ConnectionRecord<T>, event: Event): void;
  /** Takes a connection the loop closed out of the table. */
  remove(record: ConnectionRecord<T>, reason: DisconnectReason): void;
  /** Closes a connection at once. */
  close(record: ConnectionRecord<T>, reason: DisconnectReason): void;
  reportError(error: Error, id: number): void;
}

const WAIT_STEP: HandshakeStep = { kind: "wait" };

/** The PROXY handshakes of one table's connections. */
export class ProxyGate<T> {
  readonly #table: ProxyGateTable<T>;
  /** Header deadlines of the handshakes (made on first use). */
  #deadlines: HandshakeDeadlines<object> | undefined;

  constructor(table: ProxyGateTable<T>) {
    this.#table = table;
  }

  /** Starts the handshake of a new connection. */
  begin(record: ConnectionRecord<T>, settings: ProxySettings): void {
    let remote: Deno.Addr;
    try {
      remote = record.conn.remoteAddr;
    } catch {
      remote = { transport: "unix", path: "" };
    }
    const handshake = ProxyHandshake.begin(settings, remote);
    record.flags |= R_PROXY;
    if (!(handshake instanceof ProxyHandshake)) {
      this.#step(record, { kind: "fail", error: handshake }, undefined);
      return;
    }
    (record.x ??= new RecordExtra()).handshake = handshake;
    (this.#deadlines ??= new HandshakeDeadlines<object>(
      settings.timeoutMs,
      (ms, callback) => void this.#table.loop.addTimer(ms, callback),
      (r) => {
        const pending = r as ConnectionRecord<T>;
        return pending.open && pending.x?.handshake !== undefined;
      },
      (r) => {
        const late = r as ConnectionRecord<T>;
        this.#step(late, late.x!.handshake!.timedOut(), undefined);
      },
    )).add(record);
  }

  /** An event of a connection still in its handshake. */
  event(record: ConnectionRecord<T>, event: Event): void {
    const handshake = record.x!.handshake!;
    let step: HandshakeStep = WAIT_STEP;
    if (event.data !== undefined) {
      step = handshake.data(event.data, record.conn);
    }
    if (
      step.kind === "wait" &&
      (event.error !== undefined || event.closed || event.readClosed)
    ) {
      step = handshake.ended();
    }
    this.#step(record, step, event);
  }

  /** Drops the deadlines of handshakes that ended. */
  trim(): void {
    this.#deadlines?.trim();
  }

  #step(
    record: ConnectionRecord<T>,
    step: HandshakeStep,
    event: Event | undefined,
  ): void {
    if (step.kind === "wait") return;
    const table = this.#table;
    if (step.kind === "fail" || step.kind === "quiet") {
      // Still flagged R_PROXY: remove() tells the handler nothing but onError.
      if (step.kind === "fail") table.reportError(step.error, record.id);
      const reason: DisconnectReason = step.kind === "fail"
        ? "bad proxy header"
        : event?.error !== undefined
        ? reasonOf(event.error)
        : "peer closed";
      if (event?.closed) table.remove(record, reason);
      else table.close(record, reason);
      return;
    }
    const x = record.x!;
    x.handshake = undefined;
    this.#deadlines?.trim();
    x.proxyInfo = step.info;
    const header = step.info.header;
    if (step.info.addressesFromHeader && header !== undefined) {
      x.remoteAddr = header.source!;
      x.localAddr = header.destination!;
    }
    record.flags &= ~R_PROXY;
    table.connected(record);
    if (step.held !== undefined && record.open) {
      table.dispatch(record, dataEvent(record.token, step.held));
    }
    if (
      event !== undefined && record.open &&
      (step.rest !== undefined || event.error !== undefined || event.closed ||
        event.readClosed || event.writable)
    ) {
      table.dispatch(record, { ...event, data: step.rest });
    }
  }
}

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
