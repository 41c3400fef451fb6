// IntMap under connection churn: one set and one delete per connection with
// a steady number of live keys, as the loop's registry (tokens from
// `allocateToken()`, 2 ** 50 up) and a server's table by id (1 up) see it.
//   deno bench _internal/int_map_bench.ts
import { IntMap } from "./int_map.ts";

const CONNECTIONS = 100_000;

interface Table {
  set(key: number, value: object): unknown;
  get(key: number): object | undefined;
  delete(key: number): boolean;
}

function churn(
  b: Deno.BenchContext,
  map: Table,
  live: number,
  base: number,
): void {
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
}

/** 4 to 16 keys live, drifting, as the connections a churning server holds. */
function drift(b: Deno.BenchContext, map: Table): void {
  const value = {};
  const live: number[] = [];
  let next = 2 ** 50;
  b.start();
  for (let i = 0; i < CONNECTIONS; i++) {
    if (live.length < 4 || (live.length < 16 && (i >> 4) % 2 === 0)) {
      map.set(next, value);
      live.push(next++);
    } else {
      map.delete(live.shift()!);
    }
  }
  b.end();
}

Deno.bench(
  "IntMap churn, 4–16 live tokens",
  { group: "drifting", baseline: true },
  (b) => drift(b, new IntMap<object>()),
);
Deno.bench(
  "Map churn, 4–16 live tokens",
  { group: "drifting" },
  (b) => drift(b, new Map<number, object>()),
);

for (const live of [16, 1000]) {
  for (const [kind, base] of [["ids", 1], ["tokens", 2 ** 50]] as const) {
    const group = `${live} live ${kind}`;
    Deno.bench(
      `IntMap churn, ${group}`,
      { group, baseline: true },
      (b) => churn(b, new IntMap<object>(), live, base),
    );
    Deno.bench(
      `Map churn, ${group}`,
      { group },
      (b) => churn(b, new Map<number, object>(), live, base),
    );
  }
}
