// Capped exponential backoff of `TcpClient` reconnects.

/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  initialDelayMs: number,
  maxDelayMs: number,
): number {
  // 2 ** attempt overflows to Infinity after ~1024 attempts; min() caps it.
  return Math.min(initialDelayMs * 2 ** attempt, maxDelayMs);
}
