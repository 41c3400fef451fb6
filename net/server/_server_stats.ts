// `TcpServer.stats()` of a server on one loop: its state and the counters
// of its connection table and accept gate, in the order the stats list them.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { AcceptGate } from "./_accept_gate.ts";
import type { ConnectionTable } from "./_connection_table.ts";
import { countedStats, COUNTER_FIELDS } from "./_server_counters.ts";
import type { TcpServerStats } from "./tcp_server_options.ts";

const NONE = new Float64Array(COUNTER_FIELDS);

/** The bytes queued on `table`'s connections and not yet written. */
export function pendingBytes<T, E>(
  loop: EventLoop,
  table: ConnectionTable<T, E>,
): number {
  let pending = 0;
  for (const id of table.connectionIds()) {
    pending += loop.pendingWriteBytes(table.record(id)!.token);
  }
  return pending;
}

/** A snapshot; `table` and `gate` are undefined before the server started. */
export function serverStats<T, E>(
  state: TcpServerStats["state"],
  loop: EventLoop | undefined,
  table: ConnectionTable<T, E> | undefined,
  gate: AcceptGate<T, E> | undefined,
  startedAt: number,
): TcpServerStats {
  const { accepted, closed, ...counted } = countedStats(
    table?.counters ?? NONE,
  );
  return {
    state: state === "listening" && gate?.paused ? "paused" : state,
    connections: table?.connectionCount ?? 0,
    peakConnections: table?.peak ?? 0,
    accepted,
    closed,
    ...counted,
    bytesPending: table === undefined ? 0 : pendingBytes(loop!, table),
    uptimeMs: startedAt === 0 ? 0 : performance.now() - startedAt,
  };
}
