// A model-based test of the event loop against real loopback sockets.
//
// fast-check generates a handler policy (echo amplification, pausing reads on
// backpressure, resuming from the writable event, stopping reads from the
// writable event, small write watermarks) and a sequence of operations from
// outside the handler: register/reregister (READABLE, WRITABLE, NONE, both),
// write, flush, deregister-and-register-again (hand-over), close, and the peer
// writing, pausing or resuming its reads, and half-closing. The model is the
// two byte streams: after each run every byte the peer sent must have been
// delivered to a handler exactly once and in order, no byte the loop read may
// be left undelivered, the end of stream must be delivered, and the peer must
// receive exactly the bytes the loop was asked to write.
//
// A stall (no progress for a while after the peer has sent everything and
// reads everything) is a failure: that is what a lost wakeup looks like.
//
// Replay a failure with PROPERTY_SEED (and PROPERTY_PATH); hunt longer with
// PROPERTY_RUNS=N.

import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { type Event, EventLoop, Interest, type Token } from "../reactor/mod.ts";
import { assertProperty } from "./_property.ts";
import { firstDifference, mulberry32, within } from "./_helpers.ts";

const HOST = "127.0.0.1";
// How long the settled system may show no progress before it counts as
// stalled. Generous: loopback delivers in microseconds, the CPU is shared.
const STALL_MS = 1500;

type Op =
  | { kind: "peerWrite"; size: number }
  | { kind: "peerReading"; on: boolean }
  | { kind: "peerHalfClose" }
  | { kind: "reregister"; interest: number }
  | { kind: "write"; size: number }
  | { kind: "pump"; size: number }
  | { kind: "flush" }
  | { kind: "wait"; ms: number }
  | { kind: "handOver"; interest: number }
  | { kind: "close"; flush: boolean };

interface Policy {
  /** Replies with this many copies of every chunk received (0: none). */
  amp: number;
  /** A `write()` over the high-water mark drops READABLE. */
  pauseOnBackpressure: boolean;
  /** A writable event restores READABLE. */
  resumeOnWritable: boolean;
  /** Out of 8: how often a writable event drops READABLE instead. */
  pauseOnWritable: number;
  /** Whether a resume keeps WRITABLE in the interest. */
  keepWritable: boolean;
  highWaterMark: number;
  lowWaterMark: number;
  /** Seeds the handler's own coin flips. */
  seed: number;
}

const interestArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(Interest.READABLE) },
  { weight: 3, arbitrary: fc.constant(Interest.WRITABLE) },
  { weight: 1, arbitrary: fc.constant(Interest.NONE) },
  { weight: 2, arbitrary: fc.constant(Interest.READABLE | Interest.WRITABLE) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("peerWrite" as const),
      size: fc.oneof(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 70_000 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("peerReading" as const),
      on: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "peerHalfClose" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("reregister" as const),
      interest: interestArb,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      size: fc.oneof(
        fc.integer({ min: 1, max: 512 }),
        fc.integer({ min: 1, max: 40_000 }),
      ),
    }),
  },
  {
    // The pump pattern from outside a handler (another source's handler, a
    // timer): queue a reply and stop reading until the writable event.
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("pump" as const),
      size: fc.integer({ min: 1, max: 4096 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      ms: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("handOver" as const),
      interest: interestArb,
    }),
  },
);
// Closing ends a run, so it comes last (the peer may still be writing).
const closeArb: fc.Arbitrary<Op[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op[]>([]) },
  {
    weight: 1,
    arbitrary: fc.boolean().map((flush): Op[] => [{ kind: "close", flush }]),
  },
);

const policyArb: fc.Arbitrary<Policy> = fc.record({
  amp: fc.integer({ min: 0, max: 4 }),
  pauseOnBackpressure: fc.boolean(),
  // The documented pump pattern resumes reads from the writable event.
  resumeOnWritable: fc.oneof(
    { weight: 3, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  pauseOnWritable: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
  ),
  keepWritable: fc.boolean(),
  highWaterMark: fc.integer({ min: 64, max: 65536 }),
  lowWaterMark: fc.oneof(
    fc.integer({ min: 1, max: 256 }),
    fc.integer({ min: 1, max: 65536 }),
  ),
  seed: fc.integer(),
}).map((p) => ({
  ...p,
  // The loop requires the low-water mark strictly below the high one.
  lowWaterMark: Math.min(p.lowWaterMark, p.highWaterMark - 1),
}));

// The peer's bytes and the loop's own writes: position-dependent patterns, so
// a lost, doubled or reordered chunk cannot compare equal.
function peerBytes(offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const n = offset + i;
    out[i] = (n * 7 + (n >>> 8) * 13 + (n >>> 16)) & 255;
  }
  return out;
}
function loopBytes(offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const n = offset + i;
    out[i] = (n * 11 + (n >>> 8) * 3 + 101) & 255;
  }
  return out;
}

// mulberry32 (tests/_helpers.ts): the handler's coin flips, reproducible from
// the policy's seed.
const coins = mulberry32;

class Bytes {
  #parts: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.length += bytes.length;
  }
  all(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    this.#parts = [out];
    return out;
  }
}

// Waits for `promise`, failing (instead of hanging) after a while.
function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  return within(promise, 5000, what);
}

async function runModel(policy: Policy, ops: readonly Op[]): Promise<void> {
  const errors: unknown[] = [];
  // An exception escaping the loop (from a promise callback of its own) would
  // end the test file; record it as this run's failure, so that it shrinks.
  const escaped = (event: ErrorEvent | PromiseRejectionEvent): void => {
    event.preventDefault();
    errors.push(
      event instanceof ErrorEvent ? event.error : event.reason,
    );
  };
  globalThis.addEventListener("error", escaped);
  globalThis.addEventListener("unhandledrejection", escaped);
  try {
    await runModelWith(policy, ops, errors);
  } finally {
    globalThis.removeEventListener("error", escaped);
    globalThis.removeEventListener("unhandledrejection", escaped);
  }
}

async function runModelWith(
  policy: Policy,
  ops: readonly Op[],
  errors: unknown[],
): Promise<void> {
  await using loop = new EventLoop({
    writeHighWaterMark: policy.highWaterMark,
    writeLowWaterMark: policy.lowWaterMark,
    minReadBufferSize: 64,
    onError: (error) => errors.push(error),
  });
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepting = listener.accept();
  const peer = await Deno.connect({ hostname: HOST, port: listener.addr.port });
  const conn = await accepting;
  const flip = coins(policy.seed);

  // The model.
  const peerSent = new Bytes(); // what the peer wrote
  const delivered = new Bytes(); // what handlers got, in order
  const loopWrote = new Bytes(); // what was passed to loop.write, in order
  const peerGot = new Bytes(); // what the peer read
  let eofDelivered = false;
  let peerEof = false;
  let peerReset = false;
  let closed = false;
  let flushedClose = false;
  let closing: Promise<unknown> | undefined;
  let progress = 0;
  let loopOffset = 0;
  let token: Token = 1;
  let interest: number = Interest.READABLE;
  let events = 0;
  let handOvers = 0;

  const write = (t: Token, bytes: Uint8Array, own: boolean): boolean => {
    loopWrote.push(own ? bytes.slice() : bytes);
    return loop.write(t, bytes);
  };
  const setInterest = (t: Token, next: number): void => {
    interest = next;
    loop.reregister(t, next);
  };
  const handler = (event: Event, l: EventLoop): void => {
    assert(l === loop);
    events++;
    progress++;
    if (event.error) errors.push(event.error);
    if (event.data) {
      assert(!eofDelivered, "data after end of stream");
      const data = event.data;
      delivered.push(data.slice());
      let ok = true;
      for (let i = 0; i < policy.amp; i++) {
        // The first copy hands the loop the event's own buffer (after a
        // hand-over too, where it may be an adopted read's, not the pool's).
        const own = i === 0;
        ok = write(event.token, own ? data : data.slice(), own) && ok;
      }
      if (!ok && policy.pauseOnBackpressure) {
        setInterest(event.token, Interest.WRITABLE);
      }
    }
    if (event.readClosed) {
      assert(!eofDelivered, "end of stream delivered twice");
      eofDelivered = true;
    }
    if (event.writable) {
      if (flip() * 8 < policy.pauseOnWritable) {
        setInterest(event.token, Interest.WRITABLE);
      } else if (policy.resumeOnWritable) {
        setInterest(
          event.token,
          Interest.READABLE | (policy.keepWritable ? Interest.WRITABLE : 0),
        );
      }
    }
  };

  loop.register(conn, token, interest, handler);
  const running = loop.run();

  // The peer: writes go out in order on one chain; a reader that can pause.
  let peerWrites: Promise<void> = Promise.resolve();
  let peerWriteError: unknown;
  let peerOffset = 0;
  let peerHalfClosed = false;
  let reading = true;
  let resumeReading = Promise.withResolvers<void>();
  const reader = (async () => {
    const buf = new Uint8Array(65536);
    while (true) {
      if (!reading) await resumeReading.promise;
      let n: number | null;
      try {
        n = await peer.read(buf);
      } catch (error) {
        // Closing a socket with unread input sends RST, which may also drop
        // bytes the peer had not read yet: only a prefix is then owed.
        if (closed) peerReset = true;
        else errors.push(error);
        break;
      }
      progress++;
      if (n === null) {
        peerEof = true;
        break;
      }
      peerGot.push(buf.slice(0, n));
    }
  })();
  const setReading = (on: boolean): void => {
    reading = on;
    if (on) {
      resumeReading.resolve();
      resumeReading = Promise.withResolvers<void>();
    }
  };
  const halfClose = (): void => {
    if (peerHalfClosed) return;
    peerHalfClosed = true;
    peerWrites = peerWrites.then(() => peer.closeWrite()).catch((e) => {
      peerWriteError ??= e;
    });
  };

  try {
    for (const op of ops) {
      if (closed) break;
      switch (op.kind) {
        case "peerWrite": {
          if (peerHalfClosed) break;
          const bytes = peerBytes(peerOffset, op.size);
          peerOffset += op.size;
          peerSent.push(bytes);
          peerWrites = peerWrites.then(async () => {
            let at = 0;
            while (at < bytes.length) {
              at += await peer.write(bytes.subarray(at));
            }
          }).catch((e) => {
            peerWriteError ??= e;
          });
          break;
        }
        case "peerReading":
          setReading(op.on);
          break;
        case "peerHalfClose":
          halfClose();
          break;
        case "reregister":
          setInterest(token, op.interest);
          break;
        case "write":
          write(token, loopBytes(loopOffset, op.size), true);
          loopOffset += op.size;
          break;
        case "pump":
          write(token, loopBytes(loopOffset, op.size), true);
          loopOffset += op.size;
          setInterest(token, Interest.WRITABLE);
          break;
        case "flush": {
          const controller = new AbortController();
          const timer = setTimeout(() => controller.abort(), 20);
          try {
            await loop.flush(token, { signal: controller.signal });
          } catch (error) {
            assert(controller.signal.aborted, String(error));
          } finally {
            clearTimeout(timer);
          }
          break;
        }
        case "wait":
          await new Promise((r) => setTimeout(r, op.ms));
          break;
        case "handOver": {
          // Also while writes are queued or in flight: the new owner's
          // writes and reads wait for them, then go on.
          const source = loop.deregister(token);
          // A new owner reads the connection afresh: after the end of
          // stream its first read returns it again, and it is told again.
          eofDelivered = false;
          handOvers++;
          token++;
          interest = op.interest;
          loop.register(source, token, interest, handler);
          break;
        }
        case "close":
          closed = true;
          flushedClose = op.flush;
          // Not awaited here: a flushed close lingers until the peer's end
          // of stream, which the peer sends in the settle phase below.
          closing = bounded(loop.close(token, { flush: op.flush }), "close");
          break;
      }
    }

    // Settle: the peer sends its end of stream and reads everything; the
    // loop reads (READABLE restored from outside, if it was dropped) and,
    // once the end of stream is delivered, closes after flushing.
    setReading(true);
    halfClose();
    let seen = -1;
    let quietSince = performance.now();
    while (true) {
      const done = closed
        ? peerEof || peerReset
        : eofDelivered && delivered.length === peerSent.length;
      if (done) break;
      // An application resumes reads it paused (a policy may pause again
      // from its handler, so keep at it). Never when READABLE is already on:
      // an entry stuck on the ready list must stay stuck to be seen.
      if (!closed && !(interest & Interest.READABLE)) {
        setInterest(token, interest | Interest.READABLE);
      }
      if (progress !== seen) {
        seen = progress;
        quietSince = performance.now();
      } else if (performance.now() - quietSince > STALL_MS) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await closing;
    const metrics = loop.metrics();
    const state =
      `policy ${JSON.stringify(policy)}; peer sent ${peerSent.length}, ` +
      `loop read ${metrics.bytesRead}, delivered ${delivered.length}, ` +
      `end of stream ${eofDelivered ? "delivered" : "not delivered"}, ` +
      `interest ${interest}, events ${events}, loop wrote ${loopWrote.length}, ` +
      `peer got ${peerGot.length}, hand-overs ${handOvers}${
        closed ? ", closed" : ""
      }${peerReset ? ", peer reset" : ""}`;
    if (!closed) {
      // A read handed over is counted once, by the loop that read it.
      assertEquals(
        metrics.bytesRead,
        delivered.length,
        `bytes read by the loop but never delivered (a lost wakeup): ${state}`,
      );
    }
    if (!closed) {
      assertEquals(
        delivered.length,
        peerSent.length,
        `bytes sent but not delivered (stalled): ${state}`,
      );
      assert(eofDelivered, `end of stream not delivered (stalled): ${state}`);
      await bounded(loop.close(token, { flush: true }), "close with flush");
      closed = flushedClose = true;
    }
    await bounded(peerWrites, "peer writes");
    // Every delivered byte is the peer's, once, in order: all of them unless
    // the loop closed first.
    const sent = peerSent.all();
    const got = delivered.all();
    const at = firstDifference(got, sent);
    assert(
      at === -1 || at === got.length,
      `delivered bytes differ from the peer's at ${at}: ${state}`,
    );
    if (peerWriteError === undefined && eofDelivered) {
      assertEquals(got.length, sent.length, `bytes not delivered: ${state}`);
    }
    // The peer reads to its end of stream; it got exactly what the loop was
    // asked to write (a prefix when the loop closed without flushing).
    await bounded(reader, "peer reads to end of stream");
    const wrote = loopWrote.all();
    const received = peerGot.all();
    const diff = firstDifference(received, wrote);
    if (flushedClose) {
      // A flushed close lingers until the peer's end of stream: no reset
      // may cost the peer a byte (`close({ flush: true })` documents it).
      assertEquals(diff, -1, `peer got different bytes at ${diff}: ${state}`);
    } else {
      assert(
        diff === -1 || diff === received.length,
        `peer got different bytes at ${diff}: ${state}`,
      );
    }
    assertEquals(errors, [], state);
  } finally {
    setReading(true);
    try {
      peer.close();
    } catch { /* closed */ }
    if (loop.has(token)) {
      await bounded(loop.close(token), "close").catch(() => {});
    }
    await bounded(reader, "peer reader").catch(() => {});
    await bounded(peerWrites, "peer writes").catch(() => {});
    loop.stop();
    await running;
  }
}

Deno.test("EventLoop model: every byte delivered exactly once, in order, and written exactly, under random interest changes and backpressure", async () => {
  await assertProperty(
    fc.asyncProperty(
      policyArb,
      fc.array(opArb, { minLength: 1, maxLength: 40 }),
      closeArb,
      (policy, ops, close) => runModel(policy, [...ops, ...close]),
    ),
    { numRuns: 200 },
  );
});
