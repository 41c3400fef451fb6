// `TcpServer.stats()` of a server on one loop: its state and the counters
// of its connection table and accept gate, in the order the stats list them.

import type { EventLoop } from "../../reactor/event_loop.ts";
import type { AcceptGate } from "./_accept_gate.ts";
import type { ConnectionTable } from "./_connection_table.ts";
import { zeroDisconnects } from "./_connection_record.ts";
import type { TcpServerStats } from "./tcp_server_options.ts";

/** A snapshot; `table` and `gate` are undefined before the server started. */
export function serverStats<T, E>(
  state: TcpServerStats["state"],
  loop: EventLoop | undefined,
  table: ConnectionTable<T, E> | undefined,
  gate: AcceptGate<T, E> | undefined,
  startedAt: number,
): TcpServerStats {
  const counters = table?.counters;
  let pending = 0;
  if (table !== undefined) {
    for (const id of table.connectionIds()) {
      pending += loop!.pendingWriteBytes(table.record(id)!.token);
    }
  }
  return {
    state: state === "listening" && gate?.paused ? "paused" : state,
    connections: table?.connectionCount ?? 0,
    peakConnections: counters?.peak ?? 0,
    accepted: counters?.opened ?? 0,
    closed: counters?.closed ?? 0,
    disconnects: { ...zeroDisconnects(), ...counters?.disconnects },
    bytesReceived: counters?.bytesReceived ?? 0,
    bytesQueued: counters?.bytesQueued ?? 0,
    bytesPending: pending,
    dataEvents: counters?.dataEvents ?? 0,
    handlerErrors: counters?.handlerErrors ?? 0,
    acceptErrors: gate?.acceptErrors ?? 0,
    descriptorErrors: gate?.descriptorErrors ?? 0,
    acceptPauses: gate?.acceptPauses ?? 0,
    uptimeMs: startedAt === 0 ? 0 : performance.now() - startedAt,
  };
}
