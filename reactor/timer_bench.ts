import { EventLoop } from "./event_loop.ts";

const N = 100_000;
const noop = () => {};

Deno.bench({
  name: "setTimeout + clearTimeout",
  group: `schedule and cancel ${N} timers`,
  baseline: true,
  fn() {
    const ids = new Array(N);
    for (let i = 0; i < N; i++) ids[i] = setTimeout(noop, 60_000 + (i % 1000));
    for (let i = 0; i < N; i++) clearTimeout(ids[i]);
  },
});

Deno.bench({
  name: "EventLoop.addTimer + cancel",
  group: `schedule and cancel ${N} timers`,
  async fn(b) {
    await using loop = new EventLoop();
    const handles = new Array(N);
    b.start();
    for (let i = 0; i < N; i++) {
      handles[i] = loop.addTimer(60_000 + (i % 1000), noop);
    }
    for (let i = 0; i < N; i++) handles[i].cancel();
    b.end();
  },
});

Deno.bench({
  name: "1,000 cancels among 100,000 pending (O(log n) each)",
  group: "cancel with 100,000 pending",
  async fn(b) {
    await using loop = new EventLoop();
    const handles = new Array(N);
    for (let i = 0; i < N; i++) {
      handles[i] = loop.addTimer(60_000 + (i % 1000), noop);
    }
    b.start();
    for (let i = 0; i < 1000; i++) handles[(i * 97) % N].cancel();
    b.end();
    for (let i = 0; i < N; i++) handles[i].cancel();
  },
});

Deno.bench({
  name: "1,000 timers firing through one loop",
  group: "fire",
  async fn() {
    await using loop = new EventLoop();
    let fired = 0;
    for (let i = 0; i < 1000; i++) {
      loop.addTimer(0, () => {
        if (++fired === 1000) loop.stop();
      });
    }
    await loop.run();
  },
});
