// IntMap under connection churn: one set and one delete per connection with
// a steady number of live keys, as the loop's registry (tokens from
// `allocateToken()`, 2 ** 50 up) and a server's table by id (1 up) see it.
//   deno bench _internal/int_map_bench.ts
import { IntMap } from "./int_map.ts";

const CONNECTIONS = 100_000;

for (const live of [16, 1000]) {
  for (const [kind, base] of [["ids", 1], ["tokens", 2 ** 50]] as const) {
    Deno.bench(`IntMap churn, ${live} live ${kind}`, {
      group: `${live} live ${kind}`,
      baseline: true,
    }, (b) => {
      const map = new IntMap<object>();
      const value = {};
      let next = base;
      for (let i = 0; i < live; i++) map.set(next++, value);
      b.start();
      for (let i = 0; i < CONNECTIONS; i++) {
        map.set(next, value);
        map.get(next);
        map.delete(next - live);
        next++;
      }
      b.end();
    });
    Deno.bench(`Map churn, ${live} live ${kind}`, {
      group: `${live} live ${kind}`,
    }, (b) => {
      const map = new Map<number, object>();
      const value = {};
      let next = base;
      for (let i = 0; i < live; i++) map.set(next++, value);
      b.start();
      for (let i = 0; i < CONNECTIONS; i++) {
        map.set(next, value);
        map.get(next);
        map.delete(next - live);
        next++;
      }
      b.end();
    });
  }
}
