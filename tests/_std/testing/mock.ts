// Local stand-in for `jsr:@std/testing@^1/mock` (JSR is not reachable here):
// the subset of std's spy API this project uses, with std's names.
import { assertEquals, AssertionError } from "../assert.ts";

/** A call recorded by a spy. */
export interface SpyCall<Args extends unknown[] = unknown[], Return = unknown> {
  /** Arguments passed to the call. */
  args: Args;
  /** Value returned, if it returned. */
  returned?: Return;
  /** Error thrown, if it threw. */
  error?: unknown;
}

/** A function that records its calls. */
export interface Spy<Args extends unknown[] = unknown[], Return = unknown> {
  (...args: Args): Return;
  /** Calls recorded so far. */
  calls: SpyCall<Args, Return>[];
}

/** Wraps `fn` (or a no-op) so that each call is recorded. */
export function spy<Args extends unknown[] = unknown[], Return = undefined>(
  fn?: (...args: Args) => Return,
): Spy<Args, Return> {
  const calls: SpyCall<Args, Return>[] = [];
  const s = ((...args: Args): Return => {
    const call: SpyCall<Args, Return> = { args };
    calls.push(call);
    try {
      const r = fn ? fn(...args) : (undefined as Return);
      call.returned = r;
      return r;
    } catch (e) {
      call.error = e;
      throw e;
    }
  }) as Spy<Args, Return>;
  s.calls = calls;
  return s;
}

/** Asserts that a spy was called `expectedCalls` times. */
export function assertSpyCalls(
  // deno-lint-ignore no-explicit-any
  s: Spy<any[], any>,
  expectedCalls: number,
): void {
  if (s.calls.length !== expectedCalls) {
    throw new AssertionError(
      `Spy not called as much as expected: expected ${expectedCalls} calls, received ${s.calls.length}`,
    );
  }
}

/** Asserts that call `callIndex` of a spy had the expected arguments. */
export function assertSpyCallArgs(
  // deno-lint-ignore no-explicit-any
  s: Spy<any[], any>,
  callIndex: number,
  expected: unknown[],
): void {
  const call = s.calls[callIndex];
  if (!call) throw new AssertionError("Spy not called as much as expected");
  assertEquals(call.args, expected);
}
