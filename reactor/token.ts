import { formatValue } from "../_internal/format.ts";

/**
 * A token identifies a registered source in the events the loop delivers
 * (mio's `Token`). It is a non-negative safe integer chosen by the caller;
 * tokens from {@linkcode RESERVED_TOKEN_BASE} up are handed out by
 * `EventLoop.allocateToken()` so that libraries built on the loop never
 * collide with application tokens counted from 0.
 *
 * @example Usage
 * ```ts
 * import type { Token } from "@millrace/io/reactor";
 *
 * const SERVER: Token = 0;
 * const firstClient: Token = SERVER + 1;
 * console.log(firstClient);
 * ```
 */
export type Token = number;

/**
 * The first token of the range reserved for `EventLoop.allocateToken()`
 * (2 ** 50). Registering a token at or above it that the loop did not hand
 * out is a `RangeError`.
 *
 * @example Usage
 * ```ts
 * import { RESERVED_TOKEN_BASE } from "@millrace/io/reactor";
 * import { assert } from "@std/assert";
 *
 * assert(RESERVED_TOKEN_BASE > 1_000_000_000);
 * ```
 */
export const RESERVED_TOKEN_BASE: number = 2 ** 50;

/** Throws unless `token` is a non-negative safe integer. */
export function assertToken(token: unknown, action: string): void {
  if (typeof token !== "number") {
    throw new TypeError(
      `Cannot ${action} as 'token' must be a non-negative integer: received ${
        formatValue(token)
      }`,
    );
  }
  if (!Number.isSafeInteger(token) || token < 0) {
    throw new RangeError(
      `Cannot ${action} as 'token' must be a non-negative integer: received ${
        formatValue(token)
      }`,
    );
  }
}
