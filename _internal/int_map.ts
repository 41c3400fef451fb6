// A map from non-negative integer keys (connection ids, loop tokens) to
// objects, for tables whose keys churn: one set and one delete per
// connection, forever.
//
// Why not a `Map`: V8's Map is an ordered hash table, and when it rehashes
// (which a churned Map does every few dozen deletions) the old table keeps
// its entries and gets a pointer to the new one, for live iterators. A chain
// of dead tables is harmless while it is young, but once one table of it
// reaches the old generation (it only has to outlive two scavenges, as the
// table of an idle server does), the scavenger treats its pointer to the next
// table as a root, that table and its stale entries survive, are promoted in
// turn, and so on: every scavenge then promotes nearly all the connections
// that closed since the previous one, until a full GC happens to break the
// chain. Under connection churn that was a second steady state of the young
// generation: 0.4-1 MB promoted per scavenge (about 1 KB per connection),
// scavenges 5-10 times longer, new space grown to its maximum. Here the old
// arrays of a resize point nowhere and a deleted slot forgets its value, so
// nothing dead keeps anything alive.
//
// Open addressing with linear probing over two arrays. A delete leaves a
// tombstone (null) rather than moving entries, and only inserts resize, so
// deleting during `values()` neither skips nor repeats an entry (the
// connection table's broadcast relies on it).

/** A hash table from non-negative safe-integer keys to objects. */
export class IntMap<V extends object> {
  #keys: number[];
  /** A value, `undefined` (never used) or `null` (deleted). */
  #values: (V | null | undefined)[];
  #mask: number;
  #size = 0;
  /** Values plus tombstones: what probes walk over. */
  #used = 0;

  constructor() {
    this.#keys = new Array(MIN_CAPACITY).fill(0);
    this.#values = new Array(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
  }

  /** The number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Slots in the storage (for tests). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** The value of `key`, if any. */
  get(key: number): V | undefined {
    const at = this.#find(key);
    return at < 0 ? undefined : this.#values[at]!;
  }

  /** The slot holding `key`, or -1. */
  #find(key: number): number {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Keys are mostly consecutive: their low bits are already a good hash.
    for (let i = (key >>> 0) & mask;; i = (i + 1) & mask) {
      const value = values[i];
      if (value === undefined) return -1;
      if (keys[i] === key && value !== null) return i;
    }
  }

  /** Whether `key` has a value. */
  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets the value of `key`. */
  set(key: number, value: V): void {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    let free = -1;
    for (let i = (key >>> 0) & mask;; i = (i + 1) & mask) {
      const current = values[i];
      if (current === undefined) {
        if (free < 0) {
          free = i;
          this.#used++;
        }
        break;
      }
      if (current === null) {
        if (free < 0) free = i;
      } else if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
    keys[free] = key;
    values[free] = value;
    this.#size++;
    // At most half full, tombstones included, so probes stay short; and
    // storage grown by a burst is given back once the burst has left.
    const capacity = mask + 1;
    if (
      this.#used * 2 > capacity ||
      (this.#size * 8 < capacity && capacity > MIN_CAPACITY)
    ) this.#rehash();
  }

  /** Removes `key`; returns whether it had a value. */
  delete(key: number): boolean {
    const at = this.#find(key);
    if (at < 0) return false;
    this.#values[at] = null;
    this.#size--;
    return true;
  }

  /**
   * The values, in no particular order. Entries deleted meanwhile are not
   * yielded if not reached yet; entries set meanwhile may or may not be.
   */
  *values(): IterableIterator<V> {
    const values = this.#values;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value !== undefined && value !== null) yield value;
    }
  }

  /** The keys, in no particular order (as `values()`). */
  *keys(): IterableIterator<number> {
    const values = this.#values;
    const keys = this.#keys;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value !== undefined && value !== null) yield keys[i]!;
    }
  }

  /** Into new arrays, a third full at most, without the tombstones. */
  #rehash(): void {
    let capacity = MIN_CAPACITY;
    while (capacity < this.#size * 3) capacity *= 2;
    const keys = this.#keys;
    const values = this.#values;
    this.#keys = new Array(capacity).fill(0);
    this.#values = new Array(capacity).fill(undefined);
    this.#mask = capacity - 1;
    this.#used = this.#size;
    const mask = this.#mask;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === undefined || value === null) continue;
      // Keys are unique: the first empty slot is the one.
      let at = (keys[i]! >>> 0) & mask;
      while (this.#values[at] !== undefined) at = (at + 1) & mask;
      this.#keys[at] = keys[i]!;
      this.#values[at] = value;
    }
  }
}

const MIN_CAPACITY = 16;
