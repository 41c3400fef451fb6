// The counters of `TcpServer.stats()` as one Float64Array, written where
// they change by the connection table and the accept gate. A single-loop
// server's array is its own; each Worker of a multi-worker server writes
// straight into its slot of the shared buffer (`_shared_counts.ts`), so the
// main thread sums them exactly at any moment and no Worker publishes
// anything on a timer. Only this file knows the field order.

import type { DisconnectReason } from "./network_handler.ts";
import type { TcpServerStats } from "./tcp_server_options.ts";
import { zeroDisconnects } from "./_connection_record.ts";

export const C_ACCEPTED = 0;
export const C_CLOSED = 1;
export const C_BYTES_RECEIVED = 2;
export const C_BYTES_QUEUED = 3;
/** Only a Worker's slot uses it (sampled; see `_server_worker.ts`). */
export const C_BYTES_PENDING = 4;
export const C_DATA_EVENTS = 5;
export const C_HANDLER_ERRORS = 6;
export const C_ACCEPT_ERRORS = 7;
export const C_DESCRIPTOR_ERRORS = 8;
export const C_ACCEPT_PAUSES = 9;
/** Disconnect reasons, counted after the named fields. */
const REASONS = Object.keys(zeroDisconnects()) as DisconnectReason[];
const C_REASONS = 10;

/** Where each disconnect reason is counted. */
export const REASON_FIELD: Readonly<Record<DisconnectReason, number>> = Object
  .fromEntries(REASONS.map((reason, i) => [reason, C_REASONS + i])) as Record<
    DisconnectReason,
    number
  >;

/** Fields in use. */
export const COUNTER_FIELDS: number = C_REASONS + REASONS.length;

/**
 * Fields per Worker slot in shared memory: padded to 128 bytes, so that two
 * Workers counting bytes on every event never write one cache line (or the
 * pair the CPU prefetches together).
 */
export const SLOT_FIELDS: number = Math.ceil(COUNTER_FIELDS / 16) * 16;

/** The counted part of the stats (state, counts and uptime come elsewhere). */
export type CountedStats = Omit<
  TcpServerStats,
  "state" | "connections" | "peakConnections" | "uptimeMs"
>;

/** The stats in `values` (a counter array, or a sum of several). */
export function countedStats(values: Float64Array): CountedStats {
  const disconnects = zeroDisconnects();
  for (const reason of REASONS) {
    disconnects[reason] = values[REASON_FIELD[reason]]!;
  }
  return {
    accepted: values[C_ACCEPTED]!,
    closed: values[C_CLOSED]!,
    disconnects,
    bytesReceived: values[C_BYTES_RECEIVED]!,
    bytesQueued: values[C_BYTES_QUEUED]!,
    bytesPending: values[C_BYTES_PENDING]!,
    dataEvents: values[C_DATA_EVENTS]!,
    handlerErrors: values[C_HANDLER_ERRORS]!,
    acceptErrors: values[C_ACCEPT_ERRORS]!,
    descriptorErrors: values[C_DESCRIPTOR_ERRORS]!,
    acceptPauses: values[C_ACCEPT_PAUSES]!,
  };
}
