import { assert, assertEquals, assertThrows } from "@std/assert";
import { SharedIdSet } from "./_shared_id_set.ts";
import { TRANSIENT } from "../../tests/testdata/shared_id_set_writer.ts";

const idOf = (seq: number, worker = 1) => seq * 256 + worker;

Deno.test("SharedIdSet adds, finds, deletes and lists ids, growing past its first capacity", () => {
  const set = new SharedIdSet(SharedIdSet.createBuffer(Infinity));
  const first = set.buffer.byteLength;
  const ids = Array.from({ length: 5000 }, (_, i) => idOf(i + 1));
  for (const id of ids) set.add(id);
  assert(set.buffer.byteLength > first, "the buffer grew");
  assertEquals(set.size, 5000);
  for (const id of ids) assert(set.has(id));
  assert(!set.has(idOf(5001)));
  assert(!set.has(idOf(1, 2)));
  // Ids past 2^32 (a long-running server) hash and compare exactly.
  const big = idOf(2 ** 40 + 3);
  set.add(big);
  assert(set.has(big) && !set.has(big + 256));
  for (const id of ids.slice(0, 4000)) assert(set.delete(id));
  assert(!set.delete(ids[0]!));
  const out: number[] = [];
  set.appendTo(out);
  assertEquals(
    out.sort((a, b) => a - b),
    [...ids.slice(4000), big],
  );
  set.clear();
  assertEquals(set.size, 0);
  assert(!set.has(big));
  set.add(idOf(9));
  assert(set.has(idOf(9)));
});

Deno.test("SharedIdSet under churn keeps a bounded buffer (tombstones are purged)", () => {
  const set = new SharedIdSet(SharedIdSet.createBuffer(Infinity));
  const first = set.buffer.byteLength;
  for (let i = 1; i <= 200_000; i++) {
    set.add(idOf(i));
    if (i > 100) set.delete(idOf(i - 100));
  }
  assertEquals(set.size, 100);
  assertEquals(set.buffer.byteLength, first);
  const out: number[] = [];
  set.appendTo(out);
  assertEquals(out.length, 100);
});

Deno.test("SharedIdSet refuses an id past the room its buffer may grow to", () => {
  const set = new SharedIdSet(SharedIdSet.createBuffer(10));
  // Room for 10 is rounded up to 1,024 slots, of which 3/4 may hold ids.
  for (let i = 1; i <= 768; i++) set.add(idOf(i));
  assertThrows(
    () => set.add(idOf(769)),
    RangeError,
    "Cannot track connection as this Worker holds too many: received 768",
  );
  assertEquals(set.size, 768);
});

Deno.test("SharedIdSet read from another thread while a Worker churns it: stable ids always listed, deleted ones never, no torn ids", async () => {
  const buffer = SharedIdSet.createBuffer(Infinity);
  const control = new SharedArrayBuffer(16);
  const words = new Int32Array(control);
  // 600 stable ids make it grow once before the reads; then the transients
  // live at a time go from 200 to 3,000 (it grows twice more while read),
  // and tombstones make a rebuild every few hundred adds.
  const stable = Array.from({ length: 600 }, (_, i) => idOf(i + 1));
  const stableSet = new Set(stable);
  const worker = new Worker(
    new URL("../../tests/testdata/shared_id_set_writer.ts", import.meta.url),
    { type: "module" },
  );
  const messages: string[] = [];
  let next = Promise.withResolvers<void>();
  worker.onmessage = (e) => {
    messages.push(e.data);
    next.resolve();
  };
  try {
    worker.postMessage({
      buffer,
      control,
      stable,
      window: 200,
      maxLive: 3000,
      rounds: 2_000_000,
    });
    await next.promise;
    next = Promise.withResolvers<void>();
    const set = new SharedIdSet(buffer);
    let reads = 0;
    for (; reads < 1000 && messages.length < 2; reads++) {
      Atomics.store(words, 3, reads + 1);
      Atomics.notify(words, 3);
      const deleted = Atomics.load(words, 1);
      const added = Atomics.load(words, 2);
      const out: number[] = [];
      set.appendTo(out);
      const seen = new Set(out);
      assertEquals(seen.size, out.length, "an id listed twice");
      for (const id of stable) {
        if (!seen.has(id)) throw new Error(`stable id ${id} missing`);
      }
      for (const id of out) {
        if (stableSet.has(id)) continue;
        const t = (id - 1) / 256 - TRANSIENT;
        if (!Number.isInteger(t) || t < 0) throw new Error(`torn id ${id}`);
        if (t <= deleted) throw new Error(`deleted id ${id} listed`);
      }
      const probe = reads % stable.length;
      if (!set.has(stable[probe]!)) throw new Error("has() missed a stable id");
      if (deleted >= 0 && set.has(idOf(TRANSIENT + deleted))) {
        throw new Error("has() found a deleted id");
      }
      if (added > 0) assert(added >= deleted);
    }
    assert(reads > 100, `only ${reads} reads`);
    assert(
      set.buffer.byteLength >= 32 + 8192 * 8,
      `the set did not grow to 8,192 slots: ${set.buffer.byteLength} bytes`,
    );
    assert(
      Atomics.load(words, 2) > 2000,
      `only ${Atomics.load(words, 2)} transient ids: too few rebuilds`,
    );
  } finally {
    Atomics.store(words, 0, 1);
    if (messages.length < 2) await next.promise;
    worker.terminate();
  }
});

Deno.test("SharedIdSet records each id's addresses, kept across rebuilds, none for an address it cannot round-trip", () => {
  const set = new SharedIdSet(SharedIdSet.createBuffer(Infinity));
  const tcp = (hostname: string, port: number): Deno.NetAddr => ({
    transport: "tcp",
    hostname,
    port,
  });
  const local = tcp("127.0.0.1", 8080);
  const v6 = tcp("::1", 65535);
  set.add(idOf(1), tcp("127.0.0.1", 40001), local);
  set.add(idOf(2), tcp("2001:db8::7", 1), v6);
  set.add(idOf(3), tcp("::ffff:10.0.0.1", 0), local);
  // Not the text Deno gives (leading zeros): not recorded, never misread.
  set.add(idOf(4), tcp("2001:DB8::7", 5), local);
  set.add(idOf(5), { transport: "unix", path: "/tmp/x" }, local);
  assertEquals(set.addresses(idOf(1)), {
    remoteAddr: tcp("127.0.0.1", 40001),
    localAddr: local,
  });
  assertEquals(set.addresses(idOf(2)), {
    remoteAddr: tcp("2001:db8::7", 1),
    localAddr: v6,
  });
  assertEquals(
    set.addresses(idOf(3))?.remoteAddr,
    tcp("::ffff:10.0.0.1", 0),
  );
  assertEquals(set.addresses(idOf(4)), undefined);
  assertEquals(set.addresses(idOf(5)), undefined);
  assert(set.has(idOf(4)) && set.has(idOf(5)));
  // Thousands more (the set grows, entries move) and a delete.
  for (let i = 6; i < 5000; i++) set.add(idOf(i), tcp("127.0.0.1", i), local);
  assert(set.delete(idOf(3)));
  assertEquals(set.addresses(idOf(3)), undefined);
  assertEquals(set.addresses(idOf(2))?.remoteAddr, tcp("2001:db8::7", 1));
  for (let i = 6; i < 5000; i++) {
    assertEquals(set.addresses(idOf(i))?.remoteAddr.port, i);
  }
  assertEquals(set.addresses(idOf(6000)), undefined);
});
