import { assertEquals, assertThrows } from "@std/assert";
import {
  integerRule,
  MAX_BUFFER_SIZE,
  MAX_TIMEOUT_MS,
  validateAtLeast,
  validateAtMost,
  validateByteSize,
  validateDelay,
  validateEnum,
  validateHostname,
  validateInteger,
  validateMilliseconds,
  validatePort,
  validatePositiveInteger,
  validateSignal,
  validateString,
  validateTypeOf,
  validateUint8Array,
} from "./validate.ts";

const A = "create thing";

Deno.test("integerRule() words the usual ranges", () => {
  assertEquals(
    integerRule(0, Number.MAX_SAFE_INTEGER),
    "a non-negative integer",
  );
  assertEquals(integerRule(1, Number.MAX_SAFE_INTEGER), "a positive integer");
  assertEquals(
    integerRule(2, Number.MAX_SAFE_INTEGER),
    "an integer of at least 2",
  );
  assertEquals(integerRule(0, 65535), "an integer from 0 to 65535");
  assertEquals(integerRule(1, 2 ** 30), "an integer from 1 to 2 ** 30");
  assertEquals(
    integerRule(1, 2 ** 24, true),
    "an integer from 1 to 2 ** 24 or Infinity",
  );
});

Deno.test("validateInteger() returns valid values", () => {
  assertEquals(validateInteger(A, "n", 0), 0);
  assertEquals(validateInteger(A, "n", 7, { min: 7, max: 7 }), 7);
  assertEquals(
    validateInteger(A, "n", Infinity, { allowInfinity: true }),
    Infinity,
  );
});

Deno.test("validateInteger() throws TypeError for a non-number", () => {
  assertThrows(
    () => validateInteger(A, "n", "5"),
    TypeError,
    "Cannot create thing as 'n' must be a non-negative integer: received '5'",
  );
  assertThrows(() => validateInteger(A, "n", 5n), TypeError, "received 5n");
  assertThrows(
    () => validateInteger(A, "n", undefined),
    TypeError,
    "received undefined",
  );
});

Deno.test("validateInteger() throws RangeError for fractions, NaN and out of range", () => {
  assertThrows(
    () => validateInteger(A, "n", 1.5),
    RangeError,
    "Cannot create thing as 'n' must be a non-negative integer: received 1.5",
  );
  assertThrows(() => validateInteger(A, "n", NaN), RangeError, "received NaN");
  assertThrows(() => validateInteger(A, "n", -1), RangeError, "received -1");
  assertThrows(
    () => validateInteger(A, "n", Infinity),
    RangeError,
    "received Infinity",
  );
  assertThrows(
    () => validateInteger(A, "n", 11, { min: 1, max: 10 }),
    RangeError,
    "'n' must be an integer from 1 to 10: received 11",
  );
});

Deno.test("validatePositiveInteger() and validateInteger({ min: 0 }) bound both ends", () => {
  assertEquals(validatePositiveInteger(A, "n", 1), 1);
  assertThrows(
    () => validatePositiveInteger(A, "n", 0),
    RangeError,
    "'n' must be a positive integer: received 0",
  );
  assertThrows(
    () => validatePositiveInteger(A, "n", 2 ** 40, 2 ** 24),
    RangeError,
    "'n' must be an integer from 1 to 2 ** 24: received 1099511627776",
  );
  assertEquals(validateInteger(A, "n", 0, { min: 0 }), 0);
  assertThrows(
    () => validateInteger(A, "n", -0.5, { min: 0 }),
    RangeError,
    "'n' must be a non-negative integer: received -0.5",
  );
});

Deno.test("validateByteSize() caps sizes at 1 GiB", () => {
  assertEquals(validateByteSize(A, "size", MAX_BUFFER_SIZE), 2 ** 30);
  assertThrows(
    () => validateByteSize(A, "size", 2 ** 30 + 1),
    RangeError,
    "'size' must be an integer from 1 to 2 ** 30: received 1073741825",
  );
  assertThrows(
    () => validateByteSize(A, "size", 0),
    RangeError,
    "received 0",
  );
  assertEquals(validateByteSize(A, "size", 0, 0), 0);
});

Deno.test("validateMilliseconds() accepts whole milliseconds setTimeout can wait", () => {
  assertEquals(validateMilliseconds(A, "ms", 0), 0);
  assertEquals(validateMilliseconds(A, "ms", MAX_TIMEOUT_MS), MAX_TIMEOUT_MS);
  assertEquals(
    validateMilliseconds(A, "ms", Infinity, { allowInfinity: true }),
    Infinity,
  );
  assertThrows(
    () => validateMilliseconds(A, "idleTimeoutMs", 1.5),
    RangeError,
    "Cannot create thing as 'idleTimeoutMs' must be an integer from 0 to 2147483647: received 1.5",
  );
  assertThrows(
    () => validateMilliseconds(A, "ms", 2 ** 31),
    RangeError,
    "received 2147483648",
  );
  assertThrows(
    () => validateMilliseconds(A, "ms", Infinity),
    RangeError,
    "received Infinity",
  );
  assertThrows(
    () => validateMilliseconds(A, "ms", 0, { min: 1, allowInfinity: true }),
    RangeError,
    "'ms' must be an integer from 1 to 2147483647 or Infinity: received 0",
  );
  assertThrows(
    () => validateMilliseconds(A, "ms", "1"),
    TypeError,
    "received '1'",
  );
});

Deno.test("validatePort() accepts 0 only for a listener", () => {
  assertEquals(validatePort(A, "port", 0), 0);
  assertEquals(validatePort(A, "port", 65535), 65535);
  assertThrows(
    () => validatePort(A, "port", 70000),
    RangeError,
    "'port' must be an integer from 0 to 65535: received 70000",
  );
  assertThrows(
    () => validatePort("connect", "port", 0, false),
    RangeError,
    "Cannot connect as 'port' must be an integer from 1 to 65535: received 0",
  );
  assertThrows(() => validatePort(A, "port", "80"), TypeError, "received '80'");
});

Deno.test("validateTypeOf('boolean') accepts only booleans", () => {
  assertEquals(validateTypeOf(A, "b", false, "boolean"), false);
  assertThrows(
    () => validateTypeOf(A, "b", 1, "boolean"),
    TypeError,
    "Cannot create thing as 'b' must be a boolean: received 1",
  );
});

Deno.test("validateString() rejects non-strings and empty strings", () => {
  assertEquals(validateString(A, "s", "x"), "x");
  assertEquals(validateString(A, "s", "", true), "");
  assertThrows(
    () => validateString(A, "s", 5),
    TypeError,
    "'s' must be a non-empty string: received 5",
  );
  assertThrows(
    () => validateString(A, "s", ""),
    RangeError,
    "'s' must be a non-empty string: received ''",
  );
});

Deno.test("validateHostname() rejects a number with TypeError and junk with RangeError", () => {
  for (
    const ok of ["127.0.0.1", "::1", "localhost", "fe80::1%lo", "a.b-c.example"]
  ) {
    assertEquals(validateHostname(A, "hostname", ok), ok);
  }
  assertThrows(
    () => validateHostname(A, "hostname", 5),
    TypeError,
    "Cannot create thing as 'hostname' must be a non-empty hostname or IP address: received 5",
  );
  for (const bad of ["", "a b", "a/b", "a\nb", "x".repeat(256)]) {
    assertThrows(
      () => validateHostname(A, "hostname", bad),
      RangeError,
      "'hostname'",
    );
  }
});

Deno.test("validateEnum() names every choice", () => {
  const transports = ["tcp", "unix", "tls"] as const;
  assertEquals(validateEnum(A, "transport", "unix", transports), "unix");
  assertThrows(
    () => validateEnum(A, "transport", "udp", transports),
    RangeError,
    "'transport' must be 'tcp', 'unix' or 'tls': received 'udp'",
  );
  assertThrows(
    () => validateEnum(A, "transport", 1, transports),
    TypeError,
    "received 1",
  );
  assertThrows(
    () => validateEnum(A, "level", 4, [0, 1]),
    RangeError,
    "'level' must be 0 or 1: received 4",
  );
});

Deno.test("validateTypeOf('function' | 'object') and validateUint8Array() check types", () => {
  const f = () => {};
  assertEquals(validateTypeOf(A, "f", f, "function"), f);
  assertThrows(
    () => validateTypeOf(A, "onError", 5, "function"),
    TypeError,
    "'onError' must be a function: received 5",
  );
  const o = {};
  assertEquals(validateTypeOf(A, "options", o, "object"), o);
  assertThrows(
    () => validateTypeOf(A, "options", null, "object"),
    TypeError,
    "'options' must be an object: received null",
  );
  assertThrows(
    () => validateTypeOf(A, "options", f, "object"),
    TypeError,
    "a function",
  );
  const bytes = new Uint8Array(2);
  assertEquals(validateUint8Array(A, "bytes", bytes), bytes);
  assertThrows(
    () => validateUint8Array(A, "bytes", [1, 2]),
    TypeError,
    "'bytes' must be a Uint8Array: received an array of 2 items",
  );
});

Deno.test("validateSignal() accepts an AbortSignal or undefined", () => {
  const { signal } = new AbortController();
  assertEquals(validateSignal(A, "signal", signal), signal);
  assertEquals(validateSignal(A, "signal", undefined), undefined);
  assertThrows(
    () => validateSignal(A, "signal", {}),
    TypeError,
    "'signal' must be an AbortSignal: received an object",
  );
});

Deno.test("validateAtMost() and validateAtLeast() check relations", () => {
  assertEquals(validateAtMost(A, "low", 10, "high", 10), 10);
  assertThrows(
    () => validateAtMost(A, "low", 10, "high", 10, true),
    RangeError,
    "Cannot create thing as 'low' must be less than 'high' (10): received 10",
  );
  assertThrows(
    () => validateAtMost(A, "low", 11, "high", 10),
    RangeError,
    "'low' must be at most 'high' (10): received 11",
  );
  assertEquals(validateAtLeast(A, "max", 5, "min", 5), 5);
  assertThrows(
    () =>
      validateAtLeast(A, "maxWriteBuffer", 1000, "writeHighWaterMark", 65536),
    RangeError,
    "'maxWriteBuffer' must be at least 'writeHighWaterMark' (65536): received 1000",
  );
});

Deno.test("validateDelay() accepts fractional delays up to 2 ** 31 - 1 ms", () => {
  assertEquals(validateDelay(A, "delayMs", 0), 0);
  assertEquals(validateDelay(A, "delayMs", 127.25), 127.25);
  assertEquals(validateDelay(A, "delayMs", MAX_TIMEOUT_MS), MAX_TIMEOUT_MS);
  assertEquals(
    validateDelay(A, "timeoutMs", Infinity, { allowInfinity: true }),
    Infinity,
  );
  assertThrows(
    () => validateDelay(A, "delayMs", -1),
    RangeError,
    "Cannot create thing as 'delayMs' must be a number from 0 to 2147483647: received -1",
  );
  assertThrows(
    () => validateDelay(A, "delayMs", NaN),
    RangeError,
    "received NaN",
  );
  assertThrows(
    () => validateDelay(A, "delayMs", Infinity),
    RangeError,
    "received Infinity",
  );
  assertThrows(
    () => validateDelay(A, "timeoutMs", 2 ** 31, { allowInfinity: true }),
    RangeError,
    "'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received 2147483648",
  );
  assertThrows(
    () => validateDelay(A, "delayMs", null),
    TypeError,
    "received null",
  );
});
