// Error classes of `net/`. Every class carries a stable `kind` so that callers
// can tell failures apart without `instanceof` across realms, and keeps the
// underlying Deno error (if any) as `cause`.

/**
 * The kinds of {@linkcode NetError}.
 *
 * @example Usage
 * ```ts
 * import { type NetErrorKind, TimedOutError, TooBigError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const worthRetrying = (kind: NetErrorKind): boolean => kind === "timed-out" || kind === "cancelled";
 * assertEquals(worthRetrying(new TimedOutError("Cannot read as the deadline passed").kind), true);
 * assertEquals(worthRetrying(new TooBigError("Cannot read line as it is too long").kind), false);
 * ```
 */
export type NetErrorKind =
  | "timed-out"
  | "cancelled"
  | "incomplete"
  | "too-big"
  | "invalid-frame"
  | "connection-not-found"
  | "closed";

/**
 * Base class of the errors thrown by `net/`.
 *
 * @example Telling errors apart by kind
 * ```ts
 * import { NetError, TimedOutError } from "@millrace/io/net";
 * import { assert } from "@std/assert";
 *
 * const error: NetError = new TimedOutError("Cannot read as the deadline passed: 'timeoutMs' was 10");
 * assert(error.kind === "timed-out");
 * ```
 */
export class NetError extends Error {
  /** What went wrong, stable across versions. */
  readonly kind: NetErrorKind;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { NetError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const error = new NetError("closed", "Cannot read as the stream was closed");
   * assertEquals([error.kind, error.name], ["closed", "NetError"]);
   * ```
   *
   * @param kind What went wrong.
   * @param message The message, std style.
   * @param options The `cause`, if any.
   */
  constructor(kind: NetErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
    // Each subclass is named after itself (`TimedOutError`, ...).
    this.name = new.target.name;
  }
}

/**
 * An operation did not finish before its deadline.
 *
 * @example Usage
 * ```ts
 * import { TimedOutError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new TimedOutError("Cannot accept as the deadline passed").kind, "timed-out");
 * ```
 */
export class TimedOutError extends NetError {
  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { TimedOutError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new TimedOutError("Cannot read as the deadline passed").name, "TimedOutError");
   * ```
   *
   * @param message The message, std style.
   * @param options The `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("timed-out", message, options);
  }
}

/**
 * An operation was cancelled through an `AbortSignal` or a `Canceller`.
 *
 * @example Usage
 * ```ts
 * import { CancelledError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new CancelledError("Cannot read as the operation was cancelled").kind, "cancelled");
 * ```
 */
export class CancelledError extends NetError {
  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { CancelledError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const error = new CancelledError("Cannot read as the operation was cancelled", { cause: "bye" });
   * assertEquals(error.cause, "bye");
   * ```
   *
   * @param message The message, std style.
   * @param options The `cause` (the abort reason), if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("cancelled", message, options);
  }
}

/**
 * The peer closed the stream before the expected number of bytes arrived.
 *
 * @example Usage
 * ```ts
 * import { IncompleteError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new IncompleteError("Cannot read 8 bytes as the peer closed the stream: received 3", new Uint8Array(3));
 * assertEquals(error.partial.length, 3);
 * ```
 */
export class IncompleteError extends NetError {
  /** The bytes that did arrive before end of stream. */
  readonly partial: Uint8Array;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { IncompleteError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * const error = new IncompleteError("Cannot read 4 bytes as the peer closed the stream: received 1", new Uint8Array([7]));
   * assertEquals(error.partial, new Uint8Array([7]));
   * ```
   *
   * @param message The message, std style.
   * @param partial The bytes that did arrive.
   * @param options The `cause`, if any.
   */
  constructor(message: string, partial: Uint8Array, options?: ErrorOptions) {
    super("incomplete", message, options);
    this.partial = partial;
  }
}

/**
 * More bytes arrived than the caller's `maxLength` allows.
 *
 * @example Usage
 * ```ts
 * import { TooBigError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new TooBigError("Cannot read line as it exceeds 'maxLength': 4096").kind, "too-big");
 * ```
 */
export class TooBigError extends NetError {
  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { TooBigError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new TooBigError("Cannot read all as it exceeds 'maxLength': 16").name, "TooBigError");
   * ```
   *
   * @param message The message, std style.
   * @param options The `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("too-big", message, options);
  }
}

/**
 * No open connection has the given id.
 *
 * @example Usage
 * ```ts
 * import { ConnectionNotFoundError } from "@millrace/io/net";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(new ConnectionNotFoundError(42).connectionId, 42);
 * ```
 */
export class ConnectionNotFoundError extends NetError {
  /** The id that was not found. */
  readonly connectionId: number;

  /**
   * Constructs a new instance.
   *
   * @example Usage
   * ```ts
   * import { ConnectionNotFoundError } from "@millrace/io/net";
   * import { assertEquals } from "@std/assert";
   *
   * assertEquals(new ConnectionNotFoundError(7).message, "Cannot find connection: id '7' is not open");
   * ```
   *
   * @param connectionId The id that was not found.
   * @param options The `cause`, if any.
   */
  constructor(connectionId: number, options?: ErrorOptions) {
    super(
      "connection-not-found",
      `Cannot find connection: id '${connectionId}' is not open`,
      options,
    );
    this.connectionId = connectionId;
  }
}
