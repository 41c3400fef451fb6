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
//
// Churn fills the table with tombstones (consecutive keys take fresh slots
// and leave their deleted predecessors behind), so an insert clears them
// every few dozen connections. When the size stays the same (a table of up
// to KEEP_CAPACITY slots keeps the size it grew to, however the number of
// live keys drifts) and no iteration is running, that happens in place: no
// new arrays, no garbage, and a key array already holding doubles (the
// loop's 2 ** 50 + n tokens) keeps its elements kind instead of being
// converted again.

/** A hash table from non-negative safe-integer keys to objects. */
export class IntMap<V extends object> {
  #keys: number[];
  /** A value, `undefined` (never used) or `null` (deleted). */
  #values: (V | null | undefined)[];
  #mask: number;
  #size = 0;
  /** Values plus tombstones: what probes walk over. */
  #used = 0;
  /** Iterations running: while any is, storage is replaced, never rebuilt in place. */
  #iterating = 0;

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
      (this.#size * 8 < capacity && capacity > KEEP_CAPACITY)
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
   * yielded if not reached yet; entries set meanwhile may or may not be (and
   * once a set has resized the storage, so may entries set and deleted
   * after it).
   */
  *values(): IterableIterator<V> {
    const values = this.#values;
    this.#iterating++;
    try {
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (value !== undefined && value !== null) yield value;
      }
    } finally {
      this.#iterating--;
    }
  }

  /** The keys, in no particular order (as `values()`). */
  *keys(): IterableIterator<number> {
    const values = this.#values;
    const keys = this.#keys;
    this.#iterating++;
    try {
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (value !== undefined && value !== null) yield keys[i]!;
      }
    } finally {
      this.#iterating--;
    }
  }

  /** A third full at most, without the tombstones. */
  #rehash(): void {
    let capacity = MIN_CAPACITY;
    while (capacity < this.#size * 3) capacity *= 2;
    // Up to KEEP_CAPACITY a table keeps the size it grew to: under churn the
    // number of live keys drifts (4 to 16, say), and shrinking whenever it
    // dipped made new arrays again when it rose, every few dozen inserts.
    const current = this.#mask + 1;
    if (capacity < current) {
      capacity = Math.min(current, Math.max(capacity, KEEP_CAPACITY));
    }
    // An iterator walks the arrays it started with: give it those intact.
    if (capacity === current && this.#iterating === 0) {
      this.#rebuildInPlace();
      return;
    }
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

  /**
   * Drops the tombstones without new arrays: each entry moves back to the
   * first free slot of its probe sequence. The walk starts after a slot
   * never used since the last rebuild (there is one: at most half are),
   * which no probe sequence crosses, so every entry comes after the slots
   * its probe passes and a slot it vacates is only ever on the probe of an
   * entry visited later.
   */
  #rebuildInPlace(): void {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    let start = 0;
    while (values[start] !== undefined) start++;
    for (let i = 0; i <= mask; i++) {
      if (values[i] === null) values[i] = undefined;
    }
    for (let n = 1; n <= mask; n++) {
      const i = (start + n) & mask;
      const value = values[i];
      if (value === undefined) continue;
      const key = keys[i]!;
      let at = (key >>> 0) & mask;
      while (at !== i && values[at] !== undefined) at = (at + 1) & mask;
      if (at === i) continue;
      keys[at] = key;
      values[at] = value;
      values[i] = undefined;
    }
    this.#used = this.#size;
  }
}

const MIN_CAPACITY = 16;
/** Slots a table keeps once grown to them (4 KiB of arrays). */
const KEEP_CAPACITY = 256;
