// Local stand-in for `jsr:@std/assert@^1` (JSR is not reachable here). It keeps
// std's names and signatures so that the import map entry can be swapped for
// the real package without touching a test.
import { inspect, isDeepStrictEqual } from "node:util";

/** Error thrown when an assertion fails. */
export class AssertionError extends Error {
  /** Constructs a new instance. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionError";
  }
}

function fmt(value: unknown): string {
  return inspect(value, { depth: 8, colors: false, sorted: true });
}
function suffix(msg?: string): string {
  return msg ? `: ${msg}` : "";
}

/** Deep equality comparison used in assertions. */
export function equal(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Make an assertion, error will be thrown if `expr` does not have truthy value. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected expression to be true");
}

/** Make an assertion, error will be thrown if `expr` has a truthy value. */
export function assertFalse(expr: unknown, msg = ""): asserts expr is
  | false
  | 0
  | ""
  | null
  | undefined {
  if (expr) throw new AssertionError(msg || "Expected expression to be false");
}

/** Make an assertion that `actual` and `expected` are deeply equal. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    `Values are not equal${suffix(msg)}\n\n    [Actual]   ${
      fmt(actual)
    }\n    [Expected] ${fmt(expected)}`,
  );
}

/** Make an assertion that `actual` and `expected` are not deeply equal. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    `Expected actual: ${fmt(actual)} not to be: ${fmt(expected)}${suffix(msg)}`,
  );
}

/** Make an assertion that `actual` and `expected` are strictly equal (`Object.is`). */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (Object.is(actual, expected)) return;
  throw new AssertionError(
    `Values are not strictly equal${suffix(msg)}\n\n    [Actual]   ${
      fmt(actual)
    }\n    [Expected] ${fmt(expected)}`,
  );
}

/** Make an assertion that `actual` and `expected` are not strictly equal. */
export function assertNotStrictEquals<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (!Object.is(actual, expected)) return;
  throw new AssertionError(
    `Expected "actual" to not be strictly equal to: ${fmt(expected)}${
      suffix(msg)
    }`,
  );
}

/** Make an assertion that `actual` and `expected` are almost equal numbers. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const tol = tolerance ?? (Math.abs(expected) * 1e-7 || 1e-7);
  if (delta <= tol) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to be close to "${expected}": delta "${delta}" is greater than "${tol}"${
      suffix(msg)
    }`,
  );
}

/** Make an assertion that `actual` is not null or undefined. */
export function assertExists<T>(
  actual: T,
  msg?: string,
): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(
      msg ?? `Expected actual: "${actual}" to not be null or undefined`,
    );
  }
}

/** Make an assertion that `actual` is greater than `expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(
    msg ?? `Expect ${fmt(actual)} > ${fmt(expected)}`,
  );
}

/** Make an assertion that `actual` is greater than or equal to `expected`. */
export function assertGreaterOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual >= expected) return;
  throw new AssertionError(
    msg ?? `Expect ${fmt(actual)} >= ${fmt(expected)}`,
  );
}

/** Make an assertion that `actual` is less than `expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (actual < expected) return;
  throw new AssertionError(msg ?? `Expect ${fmt(actual)} < ${fmt(expected)}`);
}

/** Make an assertion that `actual` is less than or equal to `expected`. */
export function assertLessOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual <= expected) return;
  throw new AssertionError(
    msg ?? `Expect ${fmt(actual)} <= ${fmt(expected)}`,
  );
}

// deno-lint-ignore no-explicit-any
type AnyConstructor = new (...args: any[]) => any;
type GetConstructorType<T extends AnyConstructor> = InstanceType<T>;

/** Make an assertion that `obj` is an instance of `type`. */
export function assertInstanceOf<T extends AnyConstructor>(
  actual: unknown,
  expectedType: T,
  msg = "",
): asserts actual is GetConstructorType<T> {
  if (actual instanceof expectedType) return;
  throw new AssertionError(
    msg ||
      `Expected object to be an instance of "${expectedType.name}" but was "${
        // deno-lint-ignore no-explicit-any
        (actual as any)?.constructor?.name ?? typeof actual}"`,
  );
}

/** Make an assertion that `actual` matches the RegExp `expected`. */
export function assertMatch(
  actual: string,
  expected: RegExp,
  msg?: string,
): void {
  if (expected.test(actual)) return;
  throw new AssertionError(
    msg ?? `Expected actual: "${actual}" to match: "${expected}"`,
  );
}

/** Make an assertion that `actual` includes `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    msg ?? `Expected actual: "${actual}" to contain: "${expected}"`,
  );
}

/** Make an assertion that `actual` includes the `expected` values. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const missing: T[] = [];
  for (let i = 0; i < expected.length; i++) {
    let found = false;
    for (let j = 0; j < actual.length; j++) {
      if (equal(expected[i], actual[j])) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(expected[i] as T);
  }
  if (missing.length === 0) return;
  throw new AssertionError(
    msg ??
      `Expected actual: "${fmt(actual)}" to include: "${
        fmt(expected)
      }"\nmissing: ${fmt(missing)}`,
  );
}

/** Make an assertion that `error` is an `Error`, optionally of a class and message. */
export function assertIsError<E extends Error = Error>(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: abstract new (...args: any[]) => E,
  msgMatches?: string | RegExp,
  msg?: string,
): asserts error is E {
  if (!(error instanceof Error)) {
    throw new AssertionError(
      `Expected "error" to be an Error object${suffix(msg)}`,
    );
  }
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${error.constructor.name}"${
        suffix(msg)
      }`,
    );
  }
  if (msgMatches !== undefined) {
    const ok = typeof msgMatches === "string"
      ? error.message.includes(msgMatches)
      : msgMatches.test(error.message);
    if (!ok) {
      throw new AssertionError(
        `Expected error message to include ${
          typeof msgMatches === "string" ? `"${msgMatches}"` : msgMatches
        }, but got "${error.message}"${suffix(msg)}`,
      );
    }
  }
}

/** Executes a function, expecting it to throw. */
export function assertThrows(fn: () => unknown, msg?: string): unknown;
/** Executes a function, expecting it to throw an error of the given class. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): E;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClassOrMsg?: (abstract new (...args: any[]) => E) | string,
  msgIncludes?: string,
  msg?: string,
): E | Error | unknown {
  let thrown = false;
  let err: unknown;
  try {
    fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    const m = typeof errorClassOrMsg === "string" ? errorClassOrMsg : msg;
    throw new AssertionError(`Expected function to throw${suffix(m)}`);
  }
  if (typeof errorClassOrMsg === "function") {
    assertIsError(err, errorClassOrMsg, msgIncludes, msg);
  }
  return err;
}

/** Executes a function which returns a promise, expecting it to reject. */
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  msg?: string,
): Promise<unknown>;
/** Executes a function which returns a promise, expecting it to reject with the given class. */
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): Promise<E>;
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  errorClassOrMsg?: (abstract new (...args: any[]) => E) | string,
  msgIncludes?: string,
  msg?: string,
): Promise<E | Error | unknown> {
  let thrown = false;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    const m = typeof errorClassOrMsg === "string" ? errorClassOrMsg : msg;
    throw new AssertionError(`Expected function to reject${suffix(m)}`);
  }
  if (typeof errorClassOrMsg === "function") {
    assertIsError(err, errorClassOrMsg, msgIncludes, msg);
  }
  return err;
}

/** Forcefully throws a failed assertion. */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${suffix(msg)}`);
}

/** Use this to assert unreachable code. */
export function unreachable(msg?: string): never {
  throw new AssertionError(msg ?? "Unreachable");
}
