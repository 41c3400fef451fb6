// Hostile tasks against ComputePool: tasks that throw odd values, return or
// take values that cannot be cloned, never finish, hog a worker, or flood the
// queue. Every failure must reject that one task's promise with an error;
// the pool must stay usable with all its workers; nothing may be left
// running (workers are invisible to the sanitizers: checked here).
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
} from "@std/assert";
import { ComputePool } from "../compute/mod.ts";
import type * as Tasks from "./testdata/compute_hostile_tasks.ts";
import { HOSTILE_TASKS, within, withTasksPool } from "./_helpers.ts";

const WORKERS = 2;

/** Runs `fn` on a pool of WORKERS; it must still serve with all of them after. */
function withPool(
  fn: (pool: ComputePool<typeof Tasks>) => Promise<void>,
  options: { maxQueue?: number } = {},
): Promise<void> {
  return withTasksPool({ workers: WORKERS, ...options }, async (pool) => {
    await fn(pool);
    assertEquals(
      await within(pool.run("echo", "alive"), 10_000, "echo"),
      "alive",
    );
    assertEquals(pool.liveWorkers, WORKERS);
  });
}

/** The task settles with a rejection (never a hang, never a crash). */
async function rejects(
  promise: Promise<unknown>,
  what: string,
): Promise<unknown> {
  let outcome: { error: unknown } | undefined;
  try {
    await within(promise, 10_000, what);
  } catch (error) {
    outcome = { error };
  }
  assert(outcome !== undefined, `${what} resolved`);
  assert(
    !String((outcome.error as Error)?.message ?? "").startsWith(
      "Timed out after",
    ),
    `${what} hung`,
  );
  return outcome.error;
}

Deno.test("hostile compute: tasks throwing odd values reject that task only", async () => {
  await withPool(async (pool) => {
    for (
      const name of [
        "throwNull",
        "throwBare",
        "throwToString",
        "throwGetter",
        "rejectNull",
      ] as const
    ) {
      await rejects(pool.run(name, undefined), name);
      assertEquals(await pool.run("echo", name), name);
    }
  });
});

Deno.test("hostile compute: non-cloneable results and inputs, unknown names, bad transfers are clean errors", async () => {
  await withPool(async (pool) => {
    for (
      const name of [
        "returnDeepFunction",
        "returnThrowingGetter",
        "returnSymbol",
      ] as const
    ) {
      const error = await rejects(pool.run(name, undefined), name);
      assertInstanceOf(error, Error);
    }
    for (const input of [() => 1, Symbol("x"), { f: new WeakMap() }]) {
      const error = await rejects(
        pool.run("echo", input),
        `echo ${String(input)}`,
      );
      assertInstanceOf(error, Error);
    }
    const run = pool.run as unknown as (
      n: string,
      i: unknown,
    ) => Promise<unknown>;
    const error = await rejects(
      run.call(pool, "noSuchTask", 1),
      "unknown task",
    );
    assertInstanceOf(error, Error);
    assertEquals(await pool.run("badTransfer", undefined), 1);
  });
});

Deno.test("hostile compute: a task that only ends when cancelled times out; a hogging task does not block the other worker", async () => {
  await withPool(async (pool) => {
    // Several rounds: each must give its worker back.
    for (let i = 0; i < 2 * WORKERS; i++) {
      const hung = pool.run("hangUntilAborted", undefined, { timeoutMs: 50 });
      const error = await rejects(hung, "hang with timeout");
      assertEquals((error as Error).name, "TimeoutError");
    }
    const hung = pool.run("hangUntilAborted", undefined, { timeoutMs: 100 });
    const error = await rejects(hung, "hang with timeout");
    assertEquals((error as Error).name, "TimeoutError");
    const controller = new AbortController();
    const aborted = pool.run("hangUntilAborted", undefined, {
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    assertEquals(
      ((await rejects(aborted, "hang aborted")) as Error).message,
      "stop",
    );
    // One worker burns 1.5 s and ignores its cancel flag; the timeout still
    // rejects the caller, and the other worker keeps answering meanwhile.
    let hogDone = false;
    const hog = pool.run("busy", 1500, { timeoutMs: 50 });
    const hogSettled = hog.then(() => {}, () => {}).finally(() =>
      hogDone = true
    );
    await rejects(hog, "hog timeout");
    let answered = 0;
    const start = performance.now();
    while (performance.now() - start < 300) {
      assertEquals(
        await within(pool.run("echo", answered), 5000, "echo"),
        answered,
      );
      answered++;
    }
    await hogSettled;
    assert(hogDone);
    assertGreater(answered, 5);
    // The hog finishes eventually and its worker comes back.
    const both = [];
    for (let i = 0; i < 8; i++) both.push(pool.run("busy", 5));
    assertEquals(
      (await within(Promise.all(both), 20_000, "both workers")).length,
      8,
    );
  });
});

Deno.test("hostile compute: a 32 MiB result arrives byte-exact", async () => {
  await withPool(async (pool) => {
    const n = 32 * 1024 * 1024;
    const got = await within(
      pool.run("bytes", n),
      30_000,
      "bytes",
    ) as Uint8Array;
    assertEquals(got.length, n);
    for (let i = 0; i < n; i += 4093) {
      assertEquals(got[i], (i * 13 + (i >> 10)) & 0xff, `byte ${i}`);
    }
  });
});

Deno.test("hostile compute: a flood of half-failing tasks beyond maxQueue settles every promise", async () => {
  await withPool(async (pool) => {
    const N = 3000;
    const outcomes = await within(
      Promise.allSettled(
        Array.from({ length: N }, (_, i) => {
          try {
            return pool.run("oddThrows", i);
          } catch (error) {
            return Promise.reject(error);
          }
        }),
      ),
      30_000,
      "flood settled",
    );
    let ok = 0, thrown = 0, refused = 0;
    for (const [i, o] of outcomes.entries()) {
      if (o.status === "fulfilled") {
        assertEquals(o.value, i);
        ok++;
      } else if (
        o.reason instanceof RangeError &&
        String(o.reason.message).includes("maxQueue")
      ) {
        refused++;
      } else {
        assertEquals((o.reason as Error).message, `odd ${i}`);
        thrown++;
      }
    }
    assertEquals(ok + thrown + refused, N);
    assertGreater(refused, 0);
    assertGreater(ok, 0);
    assertGreater(thrown, 0);
  }, { maxQueue: 500 });
});

Deno.test("hostile compute: unknown task names are TypeErrors and never use up the name table", async () => {
  // Submitted before the workers are ready, and after.
  const pool = new ComputePool<typeof Tasks>(HOSTILE_TASKS, {
    workers: WORKERS,
  });
  try {
    const run = pool.run as unknown as (
      n: string,
      i: unknown,
    ) => Promise<unknown>;
    const early = Array.from(
      { length: 300 },
      (_, i) => run.call(pool, `early${i}`, i).then(() => null, (e) => e),
    );
    const real = pool.run("echo", "early real");
    for (
      const [i, error] of (await within(Promise.all(early), 10_000, "early"))
        .entries()
    ) {
      assertInstanceOf(error, TypeError);
      assertEquals(
        error.message,
        `Cannot run task as 'early${i}' is not a function exported by the task module`,
      );
    }
    assertEquals(await within(real, 10_000, "early real"), "early real");
    for (let i = 0; i < 300; i++) {
      const error = await run.call(pool, `bogus${i}`, i).then(
        () => null,
        (e) => e,
      );
      assertInstanceOf(error, TypeError);
    }
    // Every real export still runs, also ones never named before.
    assertEquals(await within(pool.run("oddThrows", 2), 5000, "oddThrows"), 2);
    assertEquals(
      await within(pool.run("bytes", 3), 5000, "bytes"),
      new Uint8Array([0, 13, 26]),
    );
    assertEquals(pool.metrics().workersReplaced, 0);
  } finally {
    await within(pool.terminate(), 10_000, "terminate");
  }
  assertEquals(pool.liveWorkers, 0);
});

Deno.test("hostile compute: errors keep their class, cause, own properties and AggregateError.errors", async () => {
  await withPool(async (pool) => {
    const type = await rejects(pool.run("throwRich", "type"), "type");
    assertInstanceOf(type, TypeError);
    assertEquals(type.message, "bad type");
    assertInstanceOf(type.cause, RangeError);
    assertEquals((type.cause as Error).message, "inner cause");
    assertEquals((type as unknown as { code: string }).code, "E_BAD");
    assertEquals((type as unknown as { detail: unknown }).detail, {
      field: "x",
    });
    assert(type.stack?.includes("hostile_tasks.ts"), type.stack);

    const aggregate = await rejects(pool.run("throwRich", "aggregate"), "agg");
    assertInstanceOf(aggregate, AggregateError);
    assertEquals(aggregate.message, "several");
    assertEquals(aggregate.errors.length, 2);
    assertInstanceOf(aggregate.errors[0], SyntaxError);
    assertEquals((aggregate.errors[0] as Error).message, "first");
    assertEquals(aggregate.errors[1], { plain: true });

    // A class the main thread does not have: an Error with its name, message,
    // stack and own properties.
    const custom = await rejects(pool.run("throwRich", "custom"), "custom");
    assertInstanceOf(custom, Error);
    assertEquals(custom.name, "QuotaError");
    assertEquals(custom.message, "over quota");
    assertEquals((custom as unknown as { limit: number }).limit, 10);

    const async = await rejects(pool.run("throwRich", "async"), "async");
    assertInstanceOf(async, RangeError);
    assertEquals((async as unknown as { code: number }).code, 7);

    const dom = await rejects(pool.run("throwRich", "dom"), "dom");
    assertInstanceOf(dom, DOMException);
    assertEquals(dom.name, "AbortError");
  });
});
