// Boolean properties packed into the bits of one integer field, `flags`. The
// records idle connections are made of (the loop's Entry, the server's
// ConnectionRecord) keep their booleans there to stay small. Each class
// declares its flags (`declare writing: boolean;`, with the flag's doc) and
// defines them from one table of name to bit, instead of writing a getter
// and a setter per flag.

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
