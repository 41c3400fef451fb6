// A Worker that churns a SharedIdSet as a server Worker would, for
// net/server/_shared_id_set_test.ts: adds `stable` ids, then adds transient
// ids and deletes the oldest one after each add once `window` are live, but
// only after two adds of three until `maxLive` are live (so the set grows
// while it is read), publishing in `control`:
//   [0] stop (set by the reader)
//   [1] the highest transient index deleted so far (stored after deleting)
//   [2] transient ids added
//   [3] reads done (set by the reader; the churn starts at the first)
// Ends by itself after `rounds` transients or 10 s, posting "done".
import { SharedIdSet } from "../../net/server/_shared_id_set.ts";

/** Transient ids are `(TRANSIENT + t) × 256 + 1`. */
export const TRANSIENT = 1_000_000;

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (e: MessageEvent) => {
  const { buffer, control, stable, window, maxLive, rounds } = e.data as {
    buffer: SharedArrayBuffer;
    control: SharedArrayBuffer;
    stable: number[];
    window: number;
    maxLive: number;
    rounds: number;
  };
  const set = new SharedIdSet(buffer);
  const words = new Int32Array(control);
  for (const id of stable) set.add(id);
  Atomics.store(words, 1, -1);
  scope.postMessage("ready");
  // Churn (and grow) only once the reader reads.
  Atomics.wait(words, 3, 0, 10_000);
  const end = performance.now() + 10_000;
  let oldest = 0;
  for (let t = 0; t < rounds && Atomics.load(words, 0) === 0; t++) {
    set.add((TRANSIENT + t) * 256 + 1);
    Atomics.store(words, 2, t + 1);
    const live = t + 1 - oldest;
    if (live > window && (t % 3 !== 0 || live > maxLive)) {
      set.delete((TRANSIENT + oldest) * 256 + 1);
      Atomics.store(words, 1, oldest);
      oldest++;
    }
    if ((t & 1023) === 0 && performance.now() > end) break;
  }
  scope.postMessage("done");
};
