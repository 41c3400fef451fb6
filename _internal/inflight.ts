// Hand-over of a read that was in flight when a connection left the loop.
//
// Deno cannot cancel a pending `conn.read()` without closing the connection,
// and the bytes it returns belong to whoever reads the connection next. When
// `EventLoop.deregister()` detaches a connection with a read in flight (or a
// completed read not yet delivered), it stashes the outcome here; the next
// reader — the loop on re-registration, or `net/`'s `TcpStream` — must take it
// with `takeInflightRead(conn)` before calling `conn.read()` itself, and use
// its bytes first. Likewise writes still queued at deregistration keep being
// written; `takePendingWrites(conn)` resolves when they are done, so that a new
// writer does not interleave with them.

/** The outcome of a read handed over: bytes (owned by the taker), EOF, or an error. */
export type InflightOutcome =
  | {
    readonly data: Uint8Array;
    readonly eof: false;
    readonly error?: undefined;
  }
  | {
    readonly data?: undefined;
    readonly eof: true;
    readonly error?: undefined;
  }
  | { readonly data?: undefined; readonly eof: false; readonly error: unknown };

/**
 * What a previous owner of each connection left for the next one, taken at
 * most once. `stored` is an upper bound of what it holds (stored and not yet
 * taken; an entry whose conn was collected keeps its count): at 0, a take is
 * a counter check, not a hash lookup (every new connection is asked).
 */
class HandOverStash<V> {
  #byConn = new WeakMap<Deno.Conn, V>();
  #stored = 0;

  put(conn: Deno.Conn, value: V): void {
    this.#byConn.set(conn, value);
    this.#stored++;
  }

  take(conn: Deno.Conn): V | undefined {
    if (this.#stored === 0) return undefined;
    const value = this.#byConn.get(conn);
    if (value !== undefined) {
      this.#byConn.delete(conn);
      this.#stored--;
    }
    return value;
  }

  has(conn: Deno.Conn): boolean {
    return this.#byConn.has(conn);
  }
}

const reads = new HandOverStash<Promise<InflightOutcome>>();
const writes = new HandOverStash<PendingWrites>();

/** Stores the outcome of a read in flight on `conn` for its next reader. */
export function stashInflightRead(
  conn: Deno.Conn,
  outcome: Promise<InflightOutcome>,
): void {
  reads.put(conn, outcome);
}

/**
 * Takes the read left in flight on `conn` by the loop, if any. The promise
 * never rejects; an error is reported in the outcome.
 */
export function takeInflightRead(
  conn: Deno.Conn,
): Promise<InflightOutcome> | undefined {
  return reads.take(conn);
}

/** Whether a read outcome is waiting to be taken for `conn`. */
export function hasInflightRead(conn: Deno.Conn): boolean {
  return reads.has(conn);
}

/**
 * Writes a previous owner still has going out on a connection: `done`
 * resolves (never rejects) once they are written or failed; `bytes()` is
 * how many of their bytes are not written yet (what the next owner's
 * `pendingWriteBytes` counts ahead of its own).
 */
export interface PendingWrites {
  readonly done: Promise<void>;
  bytes(): number;
}

const NO_BYTES = (): number => 0;

/**
 * Stores the writes still going out on `conn` for its next writer: `done`
 * resolves when they are done; `bytes` counts what is left of them.
 */
export function stashPendingWrites(
  conn: Deno.Conn,
  done: Promise<void>,
  bytes: () => number = NO_BYTES,
): void {
  writes.put(conn, { done, bytes });
}

/** Takes the writes a previous owner left going out on `conn`, if any. */
export function takePendingWrites(conn: Deno.Conn): PendingWrites | undefined {
  return writes.take(conn);
}
