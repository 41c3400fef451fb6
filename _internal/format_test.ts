import { assertEquals } from "@std/assert";
import { formatValue } from "./format.ts";

Deno.test("formatValue() quotes strings and escapes them", () => {
  assertEquals(formatValue("tcp"), "'tcp'");
  assertEquals(formatValue(""), "''");
  assertEquals(formatValue("it's"), "'it\\'s'");
  assertEquals(formatValue('say "hi"'), `'say "hi"'`);
  assertEquals(formatValue("a\nb"), "'a\\nb'");
});

Deno.test("formatValue() cuts long strings and tells their length", () => {
  assertEquals(
    formatValue("x".repeat(100)),
    `'${"x".repeat(64)}…' (100 characters)`,
  );
  assertEquals(formatValue("y".repeat(64)), `'${"y".repeat(64)}'`);
});

Deno.test("formatValue() renders primitives bare", () => {
  assertEquals(formatValue(0), "0");
  assertEquals(formatValue(-0), "-0");
  assertEquals(formatValue(1.5), "1.5");
  assertEquals(formatValue(2 ** 40), "1099511627776");
  assertEquals(formatValue(NaN), "NaN");
  assertEquals(formatValue(-Infinity), "-Infinity");
  assertEquals(formatValue(5n), "5n");
  assertEquals(formatValue(true), "true");
  assertEquals(formatValue(null), "null");
  assertEquals(formatValue(undefined), "undefined");
  assertEquals(formatValue(Symbol("x")), "Symbol(x)");
});

Deno.test("formatValue() renders objects by their type", () => {
  assertEquals(formatValue(() => {}), "a function");
  assertEquals(formatValue(class Foo {}), "a function");
  assertEquals(formatValue([]), "an empty array");
  assertEquals(formatValue([1]), "an array of 1 item");
  assertEquals(formatValue([1, 2, 3]), "an array of 3 items");
  assertEquals(formatValue(new Uint8Array(1)), "a Uint8Array of 1 byte");
  assertEquals(formatValue(new Uint8Array(4)), "a Uint8Array of 4 bytes");
  assertEquals(formatValue({}), "an object");
  assertEquals(formatValue(Object.create(null)), "an object");
  assertEquals(formatValue(new Date(0)), "a Date");
  assertEquals(formatValue(new AbortController().signal), "an AbortSignal");
  assertEquals(formatValue(new Error("x")), "an Error");
  assertEquals(formatValue(new Map()), "a Map");
  class Point {}
  assertEquals(formatValue(new Point()), "a Point");
});

Deno.test("formatValue() never throws", () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assertEquals(formatValue(proxy), "an object");
  const hostile = Object.create(
    Object.create(null, {
      constructor: {
        get() {
          throw new Error("no");
        },
      },
    }),
  );
  assertEquals(formatValue(hostile), "an object");
});
