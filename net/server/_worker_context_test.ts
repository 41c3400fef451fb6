import { assert, assertEquals, assertThrows } from "@std/assert";
import { Channel } from "../../reactor/channel.ts";
import { TooBigError } from "../errors.ts";
import { WorkerContext } from "./_worker_context.ts";
import { SharedIdSet } from "./_shared_id_set.ts";
import { MAX_WORKERS, Outbox } from "./_worker_protocol.ts";
import { SharedCounts } from "./_shared_counts.ts";

function contextOfWorker0(maxBytes: number) {
  const channel = new Channel({ capacity: 256 });
  const outbox = new Outbox(channel.buffer, maxBytes);
  const sets = [0, 1].map(() =>
    new SharedIdSet(SharedIdSet.createBuffer(Infinity))
  );
  const ctx = new WorkerContext<unknown>(
    0,
    new SharedCounts(),
    [undefined, outbox],
    sets,
  );
  // Two connections owned by Worker 1 (ids carry the owner).
  sets[1]!.add(MAX_WORKERS + 1);
  sets[1]!.add(2 * MAX_WORKERS + 1);
  return { ctx, outbox };
}

Deno.test("WorkerContext reports a routed sendTo dropped at a full outbox through onOverflow, never silently", async () => {
  const { ctx, outbox } = contextOfWorker0(300);
  const reported: [TooBigError, number | undefined][] = [];
  ctx.onOverflow = (error, id) => reported.push([error, id]);
  const results: boolean[] = [];
  for (let i = 0; i < 30; i++) {
    results.push(ctx.sendTo(MAX_WORKERS + 1, "y".repeat(50)));
  }
  assertEquals(results[0], true);
  assert(results.includes(false));
  assert(reported.length > 0, "drops were reported");
  const dropped = results.length - outbox.backlog -
    results.filter((r) => r).length;
  assertEquals(reported.length, dropped);
  const [error, id] = reported[0]!;
  assert(error instanceof TooBigError);
  assertEquals(id, MAX_WORKERS + 1);
  assertEquals(
    error.message,
    "Cannot send to connection as the outbox to Worker 1 is full (the Worker is not keeping up): 'maxOutboxBytes' is 300",
  );
  // A broadcast whose copy for Worker 1 is dropped neither counts Worker 1's
  // connections nor goes unreported.
  assertEquals(ctx.broadcast("z".repeat(50)), 0);
  assertEquals(reported.at(-1)![1], undefined);
  assert(
    reported.at(-1)![0].message.startsWith(
      "Cannot broadcast as the outbox to Worker 1 is full",
    ),
  );
  await outbox.close();
});

Deno.test("WorkerContext throws the overflow where no onError can hear it", async () => {
  const { ctx, outbox } = contextOfWorker0(100);
  assertThrows(
    () => {
      for (let i = 0; i < 30; i++) ctx.sendTo(MAX_WORKERS + 1, "y".repeat(50));
    },
    TooBigError,
    "Cannot send to connection as the outbox to Worker 1 is full",
  );
  await outbox.close();
});
