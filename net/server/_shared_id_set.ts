// One Worker's live connection ids in shared memory, readable by every thread
// at any moment: how a multi-worker server answers `connectionIds()`, `has`
// and routing without one announcement message per connection.
//
// An open-addressing hash set of ids (linear probing) in a growable
// SharedArrayBuffer, with ONE writer (the Worker that owns the ids; the main
// thread only clears it after that Worker died). Adding or removing an id is
// one atomic store into one slot (a removed id leaves a tombstone), so a
// reader sees each slot either before or after and entries never move. Only a
// rebuild (growing, or purging tombstones) moves them: it runs under a
// sequence word that is odd meanwhile, and a reader that saw it odd or
// changed reads again (a seqlock). A rebuild comes at most once per
// capacity/4 writes, so readers are not starved under churn.
//
// Each slot also holds the connection's remote and local address as two
// fixed-size records (`_address_record.ts`), written before the id is
// stored: a reader that found the id reads them, then checks that the slot
// still holds that id (a slot freed and reused meanwhile is seen, as ids are
// never reused).

import { ADDRESS_BYTES, readAddress, writeAddress } from "./_address_record.ts";

// Int32 header words.
const GEN = 0; // the seqlock: odd while a rebuild moves entries
const CAPACITY = 1; // slots in use (a power of two)
const LIVE = 2; // ids in the set
const USED = 3; // ids plus tombstones
const HEADER_BYTES = 32;
/** Bytes per slot: the id, then the remote and local address records. */
const SLOT_BYTES = 8 + 2 * ADDRESS_BYTES;
/** BigInt64 words per slot (the id is the first). */
const STRIDE = SLOT_BYTES / 8;

const EMPTY = 0n;
const TOMBSTONE = -1n; // ids are positive

const MIN_SLOTS = 1024;
/**
 * Most slots per set: 192 MiB of address space reserved (not committed) per
 * Worker, for up to 3 million open connections per Worker (far past a
 * process's descriptors).
 */
const MAX_SLOTS = 1 << 22;
/** A reader waits this long for a rebuild before taking the writer as dead. */
const REBUILD_WAIT_MS = 1000;

function slotsFor(maxIds: number): number {
  let slots = MIN_SLOTS;
  while (slots < MAX_SLOTS && slots < maxIds * 2) slots *= 2;
  return slots;
}

// Fibonacci hashing over both halves of the id: ids of one Worker differ in
// their high bits only (`sequence × 256 + worker`).
function hash(id: number, shift: number): number {
  const mixed = (id >>> 0) ^ Math.imul((id / 4294967296) | 0, 0x85ebca6b);
  return Math.imul(mixed, 0x9e3779b1) >>> shift;
}

/** A connection's addresses, as `remoteAddr`/`localAddr` give them. */
export interface RecordedAddresses {
  remoteAddr: Deno.NetAddr;
  localAddr: Deno.NetAddr;
}

export class SharedIdSet {
  readonly buffer: SharedArrayBuffer;
  readonly #header: Int32Array;
  readonly #slots: BigInt64Array;
  readonly #bytes: Uint8Array;

  /**
   * A buffer for a set that will hold up to `maxIds` ids at once (more when
   * `Infinity`, up to 3 million): it grows as needed.
   */
  static createBuffer(maxIds: number): SharedArrayBuffer {
    const maxByteLength = HEADER_BYTES + slotsFor(maxIds) * SLOT_BYTES;
    const buffer = new SharedArrayBuffer(
      HEADER_BYTES + MIN_SLOTS * SLOT_BYTES,
      {
        maxByteLength,
      },
    );
    new Int32Array(buffer, 0, 4)[CAPACITY] = MIN_SLOTS;
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#header = new Int32Array(buffer, 0, 4);
    // Length-tracking: follows the buffer as it grows.
    this.#slots = new BigInt64Array(buffer, HEADER_BYTES);
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES);
  }

  /** Ids in the set. */
  get size(): number {
    return Atomics.load(this.#header, LIVE);
  }

  /**
   * Adds `id` (new: ids are never reused) with its addresses, where they
   * can be recorded. Writer only.
   *
   * @returns Whether both addresses were recorded.
   */
  add(id: number, remoteAddr?: Deno.Addr, localAddr?: Deno.Addr): boolean {
    const header = this.#header;
    const capacity = header[CAPACITY]!;
    if ((header[USED]! + 1) * 4 > capacity * 3) {
      const live = header[LIVE]! + 1;
      this.#rebuild(live * 2 > capacity ? capacity * 2 : capacity);
    }
    const slots = this.#slots;
    const mask = header[CAPACITY]! - 1;
    let at = hash(id, Math.clz32(mask) | 0);
    for (;;) {
      const value = slots[at * STRIDE]!;
      if (value === EMPTY || value === TOMBSTONE) break;
      at = (at + 1) & mask;
    }
    if (slots[at * STRIDE] === EMPTY) Atomics.add(header, USED, 1);
    // The records first: the id's store below publishes them.
    const record = at * SLOT_BYTES + 8;
    const recorded = writeAddress(this.#bytes, record, remoteAddr) &&
      writeAddress(this.#bytes, record + ADDRESS_BYTES, localAddr);
    Atomics.store(slots, at * STRIDE, BigInt(id));
    Atomics.add(header, LIVE, 1);
    return recorded;
  }

  /** Removes `id`; `false` if it was not in the set. Writer only. */
  delete(id: number): boolean {
    const header = this.#header;
    const slots = this.#slots;
    const mask = header[CAPACITY]! - 1;
    const key = BigInt(id);
    for (let at = hash(id, Math.clz32(mask) | 0);; at = (at + 1) & mask) {
      const value = slots[at * STRIDE]!;
      if (value === EMPTY) return false;
      if (value === key) {
        Atomics.store(slots, at * STRIDE, TOMBSTONE);
        Atomics.sub(header, LIVE, 1);
        return true;
      }
    }
  }

  /**
   * Empties the set: by its writer, or by the main thread once the writer
   * died (a Worker's JS stops at its uncaught error, before the main thread
   * hears of it).
   */
  clear(): void {
    const header = this.#header;
    const gen = Atomics.load(header, GEN);
    Atomics.store(header, GEN, gen | 1);
    this.#slots.fill(EMPTY, 0, header[CAPACITY]! * STRIDE);
    Atomics.store(header, LIVE, 0);
    Atomics.store(header, USED, 0);
    Atomics.store(header, GEN, (gen | 1) + 1);
  }

  // Moves every id into `capacity` slots (dropping tombstones), under an odd
  // GEN: readers meanwhile retry.
  #rebuild(capacity: number): void {
    const header = this.#header;
    if (capacity > MAX_SLOTS || !this.#fits(capacity)) {
      if (header[LIVE]! * 4 >= header[CAPACITY]! * 3) {
        throw new RangeError(
          `Cannot track connection as this Worker holds too many: received ${
            header[LIVE]
          }`,
        );
      }
      capacity = header[CAPACITY]!;
    }
    // Each live slot, id and records, copied out before anything moves.
    const live: Uint8Array[] = [];
    const oldSlots = this.#slots;
    const oldCapacity = header[CAPACITY]!;
    for (let at = 0; at < oldCapacity; at++) {
      if (oldSlots[at * STRIDE]! > 0n) {
        live.push(
          this.#bytes.slice(at * SLOT_BYTES, (at + 1) * SLOT_BYTES),
        );
      }
    }
    const gen = header[GEN]!;
    Atomics.store(header, GEN, gen + 1);
    if (HEADER_BYTES + capacity * SLOT_BYTES > this.buffer.byteLength) {
      this.buffer.grow(HEADER_BYTES + capacity * SLOT_BYTES);
    }
    const slots = this.#slots;
    for (let at = 0; at < capacity; at++) slots[at * STRIDE] = EMPTY;
    const mask = capacity - 1;
    const shift = Math.clz32(mask) | 0;
    for (const entry of live) {
      const id = Number(new BigInt64Array(entry.buffer, 0, 1)[0]!);
      let at = hash(id, shift);
      while (slots[at * STRIDE] !== EMPTY) at = (at + 1) & mask;
      this.#bytes.set(entry, at * SLOT_BYTES);
    }
    header[LIVE] = live.length;
    header[USED] = live.length;
    Atomics.store(header, CAPACITY, capacity);
    Atomics.store(header, GEN, gen + 2);
  }

  #fits(capacity: number): boolean {
    return HEADER_BYTES + capacity * SLOT_BYTES <= this.buffer.maxByteLength;
  }

  /** Whether `id` is in the set. Any thread. */
  has(id: number): boolean {
    const key = BigInt(id);
    let found = false;
    this.#read((slots, mask) => {
      found = false;
      for (let at = hash(id, Math.clz32(mask) | 0);; at = (at + 1) & mask) {
        const value = Atomics.load(slots, at * STRIDE);
        if (value === EMPTY) return;
        if (value === key) {
          found = true;
          return;
        }
      }
    });
    return found;
  }

  /**
   * The addresses recorded with `id`, or undefined if it is not in the set
   * or they could not be recorded. Any thread.
   */
  addresses(id: number): RecordedAddresses | undefined {
    const key = BigInt(id);
    const bytes = this.#bytes;
    let found: RecordedAddresses | undefined;
    this.#read((slots, mask) => {
      found = undefined;
      for (let at = hash(id, Math.clz32(mask) | 0);; at = (at + 1) & mask) {
        const value = Atomics.load(slots, at * STRIDE);
        if (value === EMPTY) return;
        if (value !== key) continue;
        const record = at * SLOT_BYTES + 8;
        const remoteAddr = readAddress(bytes, record);
        const localAddr = readAddress(bytes, record + ADDRESS_BYTES);
        // Still this id's slot: the records were not being rewritten.
        if (Atomics.load(slots, at * STRIDE) !== key) return;
        if (remoteAddr !== undefined && localAddr !== undefined) {
          found = { remoteAddr, localAddr };
        }
        return;
      }
    });
    return found;
  }

  /** Appends the ids in the set to `out` (in no order). Any thread. */
  appendTo(out: number[]): void {
    const start = out.length;
    this.#read((slots, mask) => {
      out.length = start;
      for (let at = 0; at <= mask; at++) {
        const value = Atomics.load(slots, at * STRIDE);
        if (value > 0n) out.push(Number(value));
      }
    });
  }

  // Runs `scan` until it ran with no rebuild in between (see the top).
  #read(scan: (slots: BigInt64Array, mask: number) => void): void {
    const header = this.#header;
    let waitingSince = 0;
    for (let spins = 0;; spins++) {
      const gen = Atomics.load(header, GEN);
      if ((gen & 1) === 0) {
        const capacity = Atomics.load(header, CAPACITY);
        // A reader may see the new capacity before the grown length.
        if (capacity * STRIDE <= this.#slots.length) {
          scan(this.#slots, capacity - 1);
          if (Atomics.load(header, GEN) === gen) return;
        }
      }
      if ((spins & 1023) === 1023) {
        // A writer that died in a rebuild leaves GEN odd: give up on it.
        const now = performance.now();
        if (waitingSince === 0) waitingSince = now;
        else if (now - waitingSince > REBUILD_WAIT_MS) return;
      }
    }
  }
}
