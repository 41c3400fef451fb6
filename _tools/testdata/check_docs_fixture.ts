// Input of check_docs_test.ts: one documented symbol of each kind and one
// undocumented piece of each rule.

/**
 * Doubles a number.
 *
 * @example Usage
 * ```ts ignore
 * documented(2);
 * ```
 *
 * @param x The number.
 * @returns Twice `x`.
 * @throws {RangeError} If `x` is negative.
 */
export function documented(x: number): number {
  if (x < 0) throw new RangeError("negative");
  return 2 * x;
}

export function undocumented(x: number): void {
  void x;
}

/** A class without an example. */
export class Bare {
  size = 0;

  /** Halves a number. */
  half(value: number): number {
    if (value < 0) throw new RangeError("negative");
    return value / 2;
  }

  /** Resets nothing (a void method needs no `@returns`, still an example). */
  reset(): void {}
}

/** Options. */
export interface Options {
  timeoutMs?: number;
  /**
   * A callback needs `@param`s but no example.
   *
   * @param error What failed.
   */
  onError?(error: Error): void;
}

/** A service. */
export interface Service {
  /**
   * Pings.
   *
   * @param host Where.
   */
  ping(host: string): Promise<number>;
}

/**
 * An overloaded function: each overload carries the docs; the
 * implementation signature is not part of the API and needs none.
 *
 * @param x A number.
 * @returns The same number.
 *
 * @example Usage
 * ```ts
 * overloaded(1);
 * ```
 */
export function overloaded(x: number): number;
/**
 * The string form.
 *
 * @param x A string.
 * @returns The same string.
 *
 * @example Usage
 * ```ts
 * overloaded("a");
 * ```
 */
export function overloaded(x: string): string;
export function overloaded(x: number | string): number | string {
  return x;
}

export function undocumentedOverload(x: number): void;
export function undocumentedOverload(x: number | string): void {
  void x;
}

/** What a callback of {@linkcode Hooks} returns. */
export type HookResult = void | Promise<void>;

/** Hooks. */
export interface Hooks {
  /**
   * A callback returning an alias of `void | Promise<void>` needs no
   * `@returns` either.
   *
   * @param id Which.
   */
  onClose?(id: number): HookResult;
}
