// The connections' part of a `TcpServer` shutdown, once its listener is
// closed: flush and half-close every connection, wait until they are gone or
// the deadline passes, let the flushed closes finish within the same
// deadline, then force-close the rest.

import type { ConnectionTable } from "./_connection_table.ts";
import type { TcpServerShutdownResult } from "./tcp_server_options.ts";

/** One shutdown's wait for the connections of a table to go. */
export class ConnectionDrain<T, E> {
  readonly #table: ConnectionTable<T, E>;
  // A plain timer, not the loop's: the deadline must hold even if the
  // caller's loop is not running. A forcing shutdown() call ends it early.
  readonly #deadline = Promise.withResolvers<void>();
  #drained: (() => void) | undefined;

  constructor(table: ConnectionTable<T, E>) {
    this.#table = table;
  }

  /** A connection left the table: ends the wait when it was the last. */
  connectionRemoved(): void {
    if (this.#table.connectionCount === 0) this.#drained?.();
  }

  /** Ends the graceful part now (a second, forcing `shutdown()` call). */
  force(): void {
    this.#deadline.resolve();
  }

  /**
   * Drains the table: gracefully within `timeoutMs` unless `force` (then
   * `onShutdown` is called first, and with `closeWrites` every connection is
   * flushed and half-closed), then closes what is left.
   */
  async run(
    force: boolean,
    timeoutMs: number,
    closeWrites: boolean,
    onShutdown: () => void,
  ): Promise<TcpServerShutdownResult> {
    const table = this.#table;
    const deadline = this.#deadline.promise;
    const timer = force
      ? undefined
      : setTimeout(this.#deadline.resolve, timeoutMs);
    let closedGracefully = 0;
    if (!force && table.connectionCount > 0) {
      const before = table.connectionCount;
      onShutdown();
      if (closeWrites) table.shutdownWrites();
      if (table.connectionCount > 0) {
        const drained = Promise.withResolvers<void>();
        this.#drained = drained.resolve;
        await Promise.race([drained.promise, deadline]);
        this.#drained = undefined;
      }
      closedGracefully = before - table.connectionCount;
    }
    if (!force) {
      // Connections closed with flush may still be writing: let them finish
      // within the same deadline.
      await Promise.race([table.settled(), deadline]);
    }
    clearTimeout(timer);
    const forced = table.closeAll("shutdown");
    table.abortLingering();
    await table.settled();
    return { closedGracefully, forced };
  }
}
