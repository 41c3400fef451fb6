import { BufferPool } from "./buffer_pool.ts";

const pool = new BufferPool();
let sink = 0;

for (const size of [512, 16384, 65536]) {
  Deno.bench({
    name: `new Uint8Array(${size})`,
    group: `buffer ${size} B`,
    baseline: true,
    fn() {
      const buf = new Uint8Array(size);
      buf[0] = 1;
      sink += buf[0]!;
    },
  });
  Deno.bench({
    name: `pool.acquire(${size}) + release`,
    group: `buffer ${size} B`,
    fn() {
      const buf = pool.acquire(size);
      buf[0] = 1;
      sink += buf[0]!;
      pool.release(buf);
    },
  });
}

Deno.bench({
  name: "pool.lease(4096) with using",
  group: "lease",
  fn() {
    using lease = pool.lease(4096);
    lease.buffer[0] = 1;
    sink += lease.buffer[0]!;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) throw new Error("unreachable");
});
