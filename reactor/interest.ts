import { formatValue } from "../_internal/format.ts";
/**
 * Interest: which readiness kinds a registered source wants delivered, as a
 * bit set (mio's `Interest`).
 *
 * @example Combining interests
 * ```ts
 * import { Interest } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(Interest.READABLE | Interest.WRITABLE, Interest.BOTH);
 * ```
 */
export type Interest = number;

/**
 * The interest bits. `READABLE` keeps one read (or accept) in flight and
 * delivers its result; `WRITABLE` delivers an event when the write queue
 * drains below its low-water mark.
 *
 * @example Pausing reads
 * ```ts
 * import { Interest } from "@millrace/io/reactor";
 * import { assert } from "@std/assert";
 *
 * const interest = Interest.BOTH & ~Interest.READABLE;
 * assert(interest === Interest.WRITABLE);
 * ```
 */
export const Interest: {
  readonly NONE: 0;
  readonly READABLE: 1;
  readonly WRITABLE: 2;
  readonly BOTH: 3;
} = Object.freeze(
  {
    NONE: 0,
    READABLE: 1,
    WRITABLE: 2,
    BOTH: 3,
  } as const,
);

/** Throws a `TypeError` unless `interest` is one of the four interest values. */
export function assertInterest(interest: unknown, action: string): void {
  if (
    typeof interest !== "number" || !Number.isInteger(interest) ||
    interest < 0 || interest > 3
  ) {
    throw new TypeError(
      `Cannot ${action} as 'interest' must be an Interest (0-3): received ${
        formatValue(interest)
      }`,
    );
  }
}
