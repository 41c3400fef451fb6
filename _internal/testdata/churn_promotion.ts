// deno-lint-ignore-file no-console
// Child of int_map_test.ts (run with --expose-gc --trace-gc-nvp): churns a
// table of 16 live entries keyed by consecutive integers, as a server's
// connection table is under connection churn, with every value holding
// ~1 KB. Midway two minor GCs promote the table's current storage, as a
// quiet spell of a real server does. Prints a marker line, so the parent
// counts only the bytes the scavenges after it promoted.
import { IntMap } from "../int_map.ts";

const useMap = Deno.args[0] === "map";
const table = useMap ? new Map<number, object>() : new IntMap<object>();
const gc = (globalThis as unknown as { gc(options: object): void }).gc;
const live: number[] = [];
const ROUNDS = 400_000;
for (let id = 1; id <= ROUNDS; id++) {
  table.set(id, { id, payload: new Array(120).fill(id) });
  live.push(id);
  if (live.length > 16) table.delete(live.shift()!);
  if (id === ROUNDS / 4) {
    gc({ type: "minor" });
    gc({ type: "minor" });
    console.log("--- forced");
  }
}
console.log(`--- done ${table.size}`);
