// deno-lint-ignore-file no-console
// One Worker pushes `--messages` 64 B messages into a Channel as fast as it
// can (waiting for room when full); the main thread's EventLoop drains them.
// Prints {"messages", "seconds", "perSecond", "events"}.
import { Channel, EventLoop } from "../../reactor/mod.ts";

const count = Number(
  Deno.args[Deno.args.indexOf("--messages") + 1] ?? "1000000",
);
const code = `self.onmessage = async (e) => {
  const { Channel } = await import(e.data.url);
  const channel = new Channel({ buffer: e.data.buffer });
  const message = new Uint8Array(64);
  for (let sent = 0; sent < e.data.count; sent++) {
    if (!channel.trySend(message)) await channel.send(message);
  }
  self.postMessage(e.data.count);
};`;
const loop = new EventLoop();
const channel = new Channel({ capacity: 1 << 20 });
let received = 0;
let events = 0;
channel.register(loop, 1, () => {
  received++;
}, 4096);
const events0 = loop.metrics().eventsDispatched;
const worker = new Worker(
  URL.createObjectURL(new Blob([code], { type: "text/javascript" })),
  { type: "module" },
);
const sent = new Promise<number>((r) => worker.onmessage = (e) => r(e.data));
worker.postMessage({
  url: new URL("../../reactor/channel.ts", import.meta.url).href,
  buffer: channel.buffer,
  count,
});
const cpu = (): number => {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!
    .split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000_000; // ns at 100 Hz
};
const cpu0 = cpu();
const t0 = performance.now();
const running = loop.run();
const total = await sent;
while (received < total) await new Promise((r) => setTimeout(r, 1));
const elapsed = (performance.now() - t0) / 1000;
events = loop.metrics().eventsDispatched - events0;
loop.stop();
await running;
await loop[Symbol.asyncDispose]();
worker.terminate();
console.log(JSON.stringify({
  messages: received,
  seconds: elapsed,
  perSecond: received / elapsed,
  events,
  cpuNsPerMessage: (cpu() - cpu0) / received,
}));
