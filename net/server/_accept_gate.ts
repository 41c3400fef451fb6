// The accept gate of a `TcpServer`: what happens to each accepted
// connection before the connection table owns it. Up to `maxConnections`
// it goes into the table; at the limit the gate stops accepting (tk-listen's
// `listen(max)`: the listener's interest drops to NONE and the kernel
// backlog holds new peers) and resumes once a connection leaves. In a
// multi-worker server the limit is shared (`WorkerHooks`): a connection
// accepted after another Worker took the last slot is held unread, as the
// backlog would hold it, until a slot frees. Accept errors are counted and
// reported (in the table's counters); the loop already backs off before
// the next accept.
//
// One call per accepted connection (`onEvent`, bound once), no allocation.

import type { Event } from "../../reactor/event.ts";
import { Interest } from "../../reactor/interest.ts";
import { isDescriptorExhaustion } from "../../_internal/accept_policy.ts";
import type { ConnectionTable } from "./_connection_table.ts";
import type { WorkerHooks } from "./_worker_hooks.ts";
import {
  C_ACCEPT_ERRORS,
  C_ACCEPT_PAUSES,
  C_DESCRIPTOR_ERRORS,
} from "./_server_counters.ts";

export class AcceptGate<T, E> {
  /** At the limit: not accepting (the listener's interest is NONE). */
  paused = false;
  /** Cleared when the server starts shutting down: accepts are closed. */
  open = true;
  readonly #token: number;
  readonly #table: ConnectionTable<T, E>;
  readonly #hooks: WorkerHooks | undefined;
  readonly #maxConnections: number;
  /** Accepted after another Worker took the last slot: held unread. */
  #parked: Deno.Conn | undefined;

  constructor(
    listenerToken: number,
    table: ConnectionTable<T, E>,
    hooks: WorkerHooks | undefined,
    maxConnections: number,
  ) {
    this.#token = listenerToken;
    this.#table = table;
    this.#hooks = hooks;
    this.#maxConnections = maxConnections;
  }

  /** The listener's event handler: an accepted connection or an error. */
  readonly onEvent = (event: Event): void => {
    const table = this.#table;
    const conn = event.conn;
    if (conn !== undefined) {
      if (!this.open) {
        conn.close();
        return;
      }
      const hooks = this.#hooks;
      const admitted = hooks === undefined || hooks.admit();
      if (admitted) table.add(conn);
      else this.#parked = conn;
      if (
        (!admitted ||
          (hooks?.openCount() ?? table.connectionCount) >=
            this.#maxConnections) && !this.paused
      ) {
        // tk-listen: stop calling accept; the kernel backlog holds new peers.
        this.paused = true;
        this.#table.counters[C_ACCEPT_PAUSES]!++;
        this.#table.loop.reregister(this.#token, Interest.NONE);
      }
    }
    if (event.error !== undefined && !event.closed) {
      // The loop already backs off (acceptErrorDelayMs) before the next accept.
      const counters = table.counters;
      counters[C_ACCEPT_ERRORS]!++;
      if (isDescriptorExhaustion(event.error)) counters[C_DESCRIPTOR_ERRORS]!++;
      table.reportError(event.error);
    } else if (event.closed && this.open && event.error !== undefined) {
      // The listener died under us: report it; connections keep being served.
      table.reportError(event.error);
    }
  };

  /** A connection left (here or, with Workers, anywhere): maybe resume. */
  connectionRemoved(): void {
    if (!this.paused || !this.open) return;
    const parked = this.#parked;
    if (parked !== undefined && this.#hooks!.admit()) {
      this.#parked = undefined;
      this.#table.add(parked);
    }
    if (
      this.#parked === undefined &&
      (this.#hooks?.openCount() ?? this.#table.connectionCount) <
        this.#maxConnections
    ) {
      this.paused = false;
      this.#table.loop.reregister(this.#token, Interest.READABLE);
    }
  }

  /** Shutdown: close what is held; later accepts are closed at once. */
  close(): void {
    this.open = false;
    this.#parked?.close();
    this.#parked = undefined;
  }
}
