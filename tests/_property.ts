// Property tests with a fixed budget and a printed seed, so that CI stays fast
// and every failure can be replayed exactly:
//
//   await assertProperty(fc.property(fc.uint8Array(), (bytes) => { … }));
//
// Each run prints `property seed: S runs: N` (shown by `deno test` for a
// failing test, and with `--trace-leaks`-free output otherwise). To replay a
// failure, run the same test with `PROPERTY_SEED=S` (and `PROPERTY_PATH=P`
// from the failure message to jump straight to the shrunk case). To hunt
// harder, raise the budget with `PROPERTY_RUNS=N` (and skip shrinking with
// `PROPERTY_SHRINK=0`).

import fc from "fast-check";

// An arbitrary given a `maxLength` (or `max`) spreads over the whole range;
// fast-check's default ("small" sizes whatever the bound) rarely gets near the
// limits where parsers break.
fc.configureGlobal({
  ...fc.readConfigureGlobal(),
  defaultSizeToMaxWhenMaxSpecified: true,
});

/** Options for {@linkcode assertProperty}. */
export interface PropertyOptions {
  /**
   * Cases to run; `PROPERTY_RUNS` in the environment overrides it.
   * @default {100}
   */
  numRuns?: number;
  /** Stop after this many milliseconds (cases run so far count as passed). */
  timeoutMs?: number;
}

function envInt(name: string): number | undefined {
  let raw: string | undefined;
  try {
    raw = Deno.env.get(name);
  } catch {
    return undefined;
  }
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) {
    throw new TypeError(
      `Cannot run property as '${name}' must be an integer: received '${raw}'`,
    );
  }
  return value;
}

/** The seed for this run: `PROPERTY_SEED` if set, else a fresh random one. */
export function propertySeed(): number {
  return envInt("PROPERTY_SEED") ?? ((Math.random() * 0x7fffffff) | 0);
}

/**
 * Runs a fast-check property with a fixed number of cases and a printed seed.
 *
 * @param property A `fc.property` or `fc.asyncProperty`.
 * @param options How many cases to run.
 * @returns Resolves when every case held; rejects with fast-check's report
 * (counterexample, seed and path) plus the command-line hint to replay it.
 */
export async function assertProperty<Ts>(
  property: fc.IRawProperty<Ts>,
  options: PropertyOptions = {},
): Promise<void> {
  const seed = propertySeed();
  const numRuns = envInt("PROPERTY_RUNS") ?? options.numRuns ?? 100;
  let path: string | undefined;
  try {
    path = Deno.env.get("PROPERTY_PATH") || undefined;
  } catch {
    path = undefined;
  }
  // deno-lint-ignore no-console
  console.log(`property seed: ${seed} runs: ${numRuns}`);
  const parameters: fc.Parameters<Ts> = {
    seed,
    numRuns,
    // PROPERTY_SHRINK=0: report the first failing case as found (hunting).
    ...(envInt("PROPERTY_SHRINK") === 0 ? { endOnFailure: true } : {}),
    ...(path === undefined ? {} : { path }),
    ...(options.timeoutMs === undefined ? {} : {
      interruptAfterTimeLimit: options.timeoutMs,
      markInterruptAsFailure: false,
    }),
  };
  try {
    await fc.assert(property, parameters);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const found = /path: "([^"]*)"/.exec(message)?.[1];
    throw new Error(
      `Property failed; replay with PROPERTY_SEED=${seed}${
        found ? ` PROPERTY_PATH=${found}` : ""
      }\n${message}`,
      { cause: error },
    );
  }
}

/**
 * Splits `bytes` into consecutive chunks at the given cut points (any order,
 * duplicates and out-of-range values allowed), so that any split of a stream
 * can be generated from an array of integers.
 *
 * @param bytes The stream.
 * @param cuts Offsets to cut at.
 * @returns Chunks whose concatenation is `bytes` (empty chunks dropped).
 */
export function splitAt(
  bytes: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.abs(c) % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = Math.max(start, point);
  }
  return chunks;
}

/**
 * Bytes to throw at a protocol parser: either a run of up to `maxParts`
 * parts, each one of the protocol's own tokens (one group of `tokens` picked,
 * then one token of it) or up to `maxText` random characters, so that the
 * parser gets deep before it fails; or up to `maxBytes` random bytes.
 *
 * @param tokens Groups of tokens of the protocol.
 * @param limits How many parts, random characters and random bytes at most.
 * @returns The arbitrary.
 */
export function protocolBytes(
  tokens: readonly (readonly string[])[],
  limits: { maxParts: number; maxText: number; maxBytes: number },
): fc.Arbitrary<Uint8Array> {
  const encoder = new TextEncoder();
  const parts = fc.array(
    fc.oneof(
      ...tokens.map((group) => fc.constantFrom(...group)),
      fc.string({ maxLength: limits.maxText }),
    ),
    { maxLength: limits.maxParts },
  ).map((list) => encoder.encode(list.join("")));
  return fc.oneof(parts, fc.uint8Array({ maxLength: limits.maxBytes }));
}

/** An arbitrary of cut points for {@linkcode splitAt}. */
export const cutPoints: fc.Arbitrary<number[]> = fc.array(
  fc.nat({ max: 1 << 20 }),
  { maxLength: 64 },
);

export { concat } from "./_helpers.ts";
