// How the records idle connections are made of (the loop's Entry, the
// server's ConnectionRecord) stay small: their booleans are packed into the
// bits of one integer field, `flags`, and their rarely used fields live in a
// side object, `x`, made on first use. Each class declares these properties
// (`declare writing: boolean;`, with the property's doc) and defines them
// here from one table, instead of writing a getter and a setter for each.

/** An object whose booleans live in the bits of `flags`. */
export interface Flagged {
  flags: number;
}

/**
 * Defines on `proto`, for each `name: bit` of `bits`, a boolean accessor
 * over that bit of `this.flags` (non-enumerable, like a class accessor).
 *
 * @param proto The prototype of a class that declares the names.
 * @param bits One bit (a power of two) per name.
 */
export function defineFlags<K extends string>(
  proto: NoInfer<Flagged & Record<K, boolean>>,
  bits: Readonly<Record<K, number>>,
): void {
  for (const [name, bit] of Object.entries<number>(bits)) {
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: Flagged): boolean {
        return (this.flags & bit) !== 0;
      },
      set(this: Flagged, value: boolean): void {
        this.flags = value ? this.flags | bit : this.flags & ~bit;
      },
    });
  }
}

/** An object whose rarely used fields live in `x`, made on first use. */
export interface WithExtra<X> {
  x: X | undefined;
}

/**
 * Defines on `proto`, for each `name: empty` of `empties`, an accessor that
 * forwards to `this.x[name]`: it reads `empty` while there is no `x`, and
 * storing `empty` makes none (clearing a field costs no allocation).
 *
 * @param proto The prototype of a class that declares the names.
 * @param Extra The class of `x`, whose fields have the same names.
 * @param empties Each field's value while unset (`undefined`, or `0`).
 */
export function defineExtras<X extends object, K extends keyof X & string>(
  proto: NoInfer<WithExtra<X> & Pick<X, K>>,
  Extra: new () => X,
  empties: Readonly<Record<K, undefined | 0>>,
): void {
  for (const [name, empty] of Object.entries<undefined | 0>(empties)) {
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: WithExtra<Record<string, unknown>>): unknown {
        const x = this.x;
        return x === undefined ? empty : x[name];
      },
      set(this: WithExtra<Record<string, unknown>>, value: unknown): void {
        if (value === empty && this.x === undefined) return;
        (this.x ??= new Extra() as Record<string, unknown>)[name] = value;
      },
    });
  }
}
