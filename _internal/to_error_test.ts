import {
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
} from "@std/assert";
import { toError } from "./to_error.ts";

Deno.test("toError() keeps errors and never throws on hostile values", () => {
  const error = new RangeError("boom");
  assertStrictEquals(toError(error), error);
  assertEquals(toError("text").message, "Non-error value thrown: text");
  assertEquals(toError(null).message, "Non-error value thrown: null");
  const bare = Object.create(null);
  assertEquals(
    toError(bare).message,
    "Non-error value thrown: [object Object]",
  );
  assertStrictEquals(toError(bare).cause, bare);
  const evil = {
    toString() {
      throw new Error("no");
    },
  };
  assertInstanceOf(toError(evil), Error);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  assertEquals(
    toError(revoked.proxy).message,
    "Non-error value thrown: object",
  );
});
