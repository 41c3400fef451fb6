// Properties of mini_redis's RESP parser (resp.ts): commands do not
// depend on how the stream is cut into reads or where the server pauses, and
// no input throws or makes it hold more than its query-buffer limit.

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { type RespLimits, RespParser } from "./resp.ts";
import {
  assertProperty,
  concat,
  cutPoints,
  protocolBytes,
  splitAt,
} from "../../tests/_property.ts";

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

interface Outcome {
  commands: string[][];
  error: string | undefined;
  held: number;
}

const show = (arg: Uint8Array): string => Array.from(arg).join(",");

// Feeds the chunks; `pauses[i]` says whether the i-th command pauses the
// parser (mini_redis does so when its reply queue is full), after which the
// next step either resumes with an empty push (onWritable) or pushes the next
// chunk on top of the held bytes.
function parse(
  chunks: readonly Uint8Array[],
  limits: RespLimits = {},
  pauses: readonly boolean[] = [],
  resumeEarly: readonly boolean[] = [],
): Outcome {
  const parser = new RespParser(limits);
  const maxQuery = limits.maxQueryBuffer ??
    (limits.maxBulkLength ?? 1048576) + 4 * 1048576;
  const commands: string[][] = [];
  let error: string | undefined;
  let paused = false;
  const onCommand = (args: Uint8Array[]): boolean => {
    commands.push(args.map(show));
    paused = pauses[commands.length - 1] ?? false;
    return !paused;
  };
  const push = (data: Uint8Array): void => {
    const e = parser.push(data, onCommand);
    if (e) {
      if (error !== undefined) assertEquals(e.message, error, "sticky error");
      error = e.message;
      assertEquals(parser.bufferedBytes, 0, "nothing held after an error");
    } else {
      assert(
        parser.bufferedBytes <= maxQuery,
        `held ${parser.bufferedBytes} > maxQueryBuffer ${maxQuery}`,
      );
    }
  };
  let step = 0;
  for (const chunk of chunks) {
    while (paused && resumeEarly[step++ % Math.max(1, resumeEarly.length)]) {
      paused = false;
      push(EMPTY);
    }
    push(chunk);
  }
  while (paused) {
    paused = false;
    push(EMPTY);
  }
  return { commands, error, held: parser.bufferedBytes };
}

const bulkArg = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.uint8Array({ minLength: 1000, maxLength: 3000 }),
);
const multibulk = fc.array(bulkArg, { minLength: 1, maxLength: 6 }).map(
  (args) => ({
    args,
    bytes: concat([
      enc.encode(`*${args.length}\r\n`),
      ...args.flatMap((
        a,
      ) => [enc.encode(`$${a.length}\r\n`), a, enc.encode("\r\n")]),
    ]),
  }),
);
const token = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,12}$/);
const inline = fc.tuple(
  fc.array(token, { minLength: 1, maxLength: 5 }),
  fc.constantFrom("\r\n", "\n"),
  fc.constantFrom(" ", "  ", "\t"),
).map(([words, eol, sep]) => ({
  args: words.map((w) => enc.encode(w)),
  bytes: enc.encode(words.join(sep) + eol),
}));
// Inline commands must not start with '*' to be inline; tokens never do.
const commands = fc.array(fc.oneof(multibulk, inline), { maxLength: 12 });

Deno.test("RespParser: any split and any pausing of a valid stream yields the same commands", async () => {
  await assertProperty(
    fc.property(
      commands,
      cutPoints,
      fc.array(fc.boolean(), { maxLength: 12 }),
      fc.array(fc.boolean(), { maxLength: 8 }),
      (cmds, cuts, pauses, resumeEarly) => {
        const bytes = concat(cmds.map((c) => c.bytes));
        const expected = cmds.map((c) => c.args.map(show));
        const whole = parse([bytes]);
        assertEquals(whole, { commands: expected, error: undefined, held: 0 });
        assertEquals(
          parse(splitAt(bytes, cuts), {}, pauses, resumeEarly),
          whole,
        );
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("RespParser: an unfinished command is held whole, whatever the split", async () => {
  await assertProperty(
    fc.property(commands, multibulk, cutPoints, (cmds, last, cuts) => {
      const head = concat(cmds.map((c) => c.bytes));
      const cut = last.bytes.subarray(0, last.bytes.length - 1);
      const bytes = concat([head, cut]);
      const whole = parse([bytes]);
      assertEquals(whole.commands.length, cmds.length);
      assertEquals(whole.held, cut.length);
      assertEquals(parse(splitAt(bytes, cuts)), whole);
    }),
    { numRuns: 200 },
  );
});

// Bytes that often look like RESP, so the parser gets deep before failing.
const anyBytes = protocolBytes([
  ["*", "$", "\r\n", "\n", "\r", "-", "1", "2", "3", "0", "9"],
  ["*2\r\n", "$3\r\n", "GET", '"', "'", "\\x4", " ", "*-1\r\n"],
], { maxParts: 60, maxText: 4, maxBytes: 300 });

Deno.test("RespParser: arbitrary bytes never throw, stay under the limits and end in a sticky error or held bytes", async () => {
  await assertProperty(
    fc.property(
      anyBytes,
      cutPoints,
      fc.record({
        maxBulkLength: fc.integer({ min: 1, max: 64 }),
        maxArgs: fc.integer({ min: 1, max: 8 }),
        maxInlineLength: fc.integer({ min: 1, max: 64 }),
        extra: fc.integer({ min: 0, max: 64 }),
      }),
      (bytes, cuts, l) => {
        const limits: RespLimits = {
          maxBulkLength: l.maxBulkLength,
          maxArgs: l.maxArgs,
          maxInlineLength: l.maxInlineLength,
          maxQueryBuffer: l.maxBulkLength + l.extra,
        };
        const outcome = parse(splitAt(bytes, cuts), limits);
        for (const args of outcome.commands) assert(args.length > 0);
        if (outcome.error !== undefined) {
          assertEquals(outcome.held, 0);
          assert(outcome.error.startsWith("Protocol error: "));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("RespParser: with roomy limits, arbitrary bytes give the same commands and error for any split", async () => {
  await assertProperty(
    fc.property(anyBytes, cutPoints, (bytes, cuts) => {
      const whole = parse([bytes]);
      const split = parse(splitAt(bytes, cuts));
      assertEquals(split.commands, whole.commands);
      assertEquals(split.error === undefined, whole.error === undefined);
      if (whole.error === undefined) assertEquals(split.held, whole.held);
    }),
    { numRuns: 300 },
  );
});
