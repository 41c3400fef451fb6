import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { TimerHeap, TimerNode } from "./timer_heap.ts";

Deno.test("TimerHeap pops in (deadline, insertion) order after random removals", () => {
  const heap = new TimerHeap();
  const nodes: TimerNode[] = [];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const node = new TimerNode(undefined, i);
    heap.push(node, Math.floor(rand() * 100));
    nodes.push(node);
  }
  const removed = new Set<number>();
  for (let i = 0; i < 700; i++) {
    const k = Math.floor(rand() * nodes.length);
    if (heap.remove(nodes[k]!)) removed.add(k);
  }
  assertEquals(heap.size, 2000 - removed.size);
  let last = -1;
  let lastSeq = -1;
  let count = 0;
  for (let node = heap.pop(); node; node = heap.pop()) {
    assert(!removed.has(node.token));
    assertGreaterOrEqual(node.deadline, last);
    if (node.deadline === last) assert(node.seq > lastSeq);
    last = node.deadline;
    lastSeq = node.seq;
    count++;
  }
  assertEquals(count, 2000 - removed.size);
});
