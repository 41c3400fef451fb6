// Properties of the kv example's request format (protocol.ts): every request
// built by request() parses back to itself, and any frame either parses to a
// request that encodes back to the same bytes or is refused with a message,
// never a throw. (The framing is net/'s LengthPrefixedCodec, whose own
// properties live in net/codec.)

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { assertProperty } from "../../tests/_property.ts";
import {
  MAX_KEY,
  OP_DEL,
  OP_GET,
  OP_SET,
  parseRequest,
  request,
} from "./protocol.ts";

Deno.test("kv parseRequest(request(op, key, value)) gives back op, key and value", async () => {
  await assertProperty(
    fc.property(
      fc.constantFrom(OP_GET, OP_SET, OP_DEL),
      fc.uint8Array({ minLength: 1, maxLength: MAX_KEY }),
      fc.uint8Array({ maxLength: 2048 }),
      (op, key, value) => {
        const v = op === OP_SET ? value : new Uint8Array(0);
        const parsed = parseRequest(request(op, key, v));
        assert(typeof parsed !== "string", String(parsed));
        assertEquals(parsed.op, op);
        assertEquals(parsed.key, key);
        assertEquals(parsed.value, v);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("kv parseRequest on arbitrary frames: a request that re-encodes to the frame, or a message", async () => {
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    // A plausible header with a key length anywhere around the limit.
    fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 1100 }),
    ).map(([op, len, rest]) =>
      Uint8Array.from([op, len >> 8, len & 0xff, ...rest])
    ),
  );
  await assertProperty(
    fc.property(frame, (bytes) => {
      const parsed = parseRequest(bytes);
      if (typeof parsed === "string") {
        assert(parsed.length > 0);
        return;
      }
      assert(parsed.key.length >= 1 && parsed.key.length <= MAX_KEY);
      assert(parsed.op === OP_SET || parsed.value.length === 0);
      assertEquals(request(parsed.op, parsed.key, parsed.value), bytes);
    }),
    { numRuns: 500 },
  );
});
