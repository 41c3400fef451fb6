import { assertEquals, assertStrictEquals } from "@std/assert";
import { defineExtras, defineFlags } from "./record_fields.ts";

class Extra {
  list: number[] | undefined = undefined;
  at = 0;
}

class Record {
  flags = 0;
  x: Extra | undefined = undefined;
  declare open: boolean;
  declare shut: boolean;
  declare list: number[] | undefined;
  declare at: number;
}
defineFlags(Record.prototype, { open: 1, shut: 4 });
defineExtras(Record.prototype, Extra, { list: undefined, at: 0 });

// Not narrowed by an earlier assertion on `record.x`.
const extraOf = (record: Record): Extra | undefined => record.x;

Deno.test("defineFlags() packs each boolean into its own bit of flags", () => {
  const record = new Record();
  assertEquals([record.open, record.shut], [false, false]);
  record.shut = true;
  assertEquals([record.flags, record.open, record.shut], [4, false, true]);
  record.open = true;
  record.open = true;
  assertEquals(record.flags, 5);
  record.shut = false;
  assertEquals([record.flags, record.open, record.shut], [1, true, false]);
  // Accessors, not own fields: the record stays two fields wide.
  assertEquals(Object.keys(record), ["flags", "x"]);
});

Deno.test("defineExtras() keeps fields in x, made on the first non-empty store", () => {
  const record = new Record();
  assertEquals([record.list, record.at], [undefined, 0]);
  record.list = undefined;
  record.at = 0;
  assertStrictEquals(record.x, undefined);
  record.at = 3;
  assertEquals([extraOf(record) instanceof Extra, extraOf(record)?.at], [
    true,
    3,
  ]);
  const list = [1];
  record.list = list;
  assertStrictEquals(extraOf(record)?.list, list);
  assertStrictEquals(record.list, list);
  record.at = 0;
  assertEquals(record.at, 0);
});
