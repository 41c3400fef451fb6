// Worker for reactor/waker_test.ts: wakes the loop through a Waker built on
// the posted SharedArrayBuffer, and bumps a heartbeat word every millisecond
// so that the test can tell the worker really stopped after terminate().
import { Waker } from "../../reactor/mod.ts";

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (e: Event) => void): void;
};
self.addEventListener("error", (e) => e.preventDefault());
self.addEventListener("unhandledrejection", (e) => e.preventDefault());

let heartbeat: Int32Array | undefined;
setInterval(() => {
  if (heartbeat) Atomics.add(heartbeat, 0, 1);
}, 1);

self.onmessage = (e: MessageEvent) => {
  const { buffer, beat, wakes } = e.data as {
    buffer: SharedArrayBuffer;
    beat: SharedArrayBuffer;
    wakes: number;
  };
  heartbeat = new Int32Array(beat);
  const waker = new Waker({ buffer });
  for (let i = 0; i < wakes; i++) waker.wake();
  self.postMessage("woke");
};
