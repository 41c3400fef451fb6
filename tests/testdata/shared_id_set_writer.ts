// A Worker that churns a SharedIdSet as a server Worker would, for
// net/server/_shared_id_set_test.ts: adds `stable` ids, then adds transient
// ids and deletes each one `window` adds later, publishing in `control`:
//   [0] stop (set by the reader)
//   [1] the highest transient index deleted so far (stored after deleting)
//   [2] transient ids added
// Ends by itself after `rounds` transients or 10 s, posting "done".
import { SharedIdSet } from "../../net/server/_shared_id_set.ts";

/** Transient ids are `(TRANSIENT + t) × 256 + 1`. */
export const TRANSIENT = 1_000_000;

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (e: MessageEvent) => {
  const { buffer, control, stable, window, rounds } = e.data as {
    buffer: SharedArrayBuffer;
    control: SharedArrayBuffer;
    stable: number[];
    window: number;
    rounds: number;
  };
  const set = new SharedIdSet(buffer);
  const words = new Int32Array(control);
  for (const id of stable) set.add(id);
  Atomics.store(words, 1, -1);
  scope.postMessage("ready");
  const end = performance.now() + 10_000;
  for (let t = 0; t < rounds && Atomics.load(words, 0) === 0; t++) {
    set.add((TRANSIENT + t) * 256 + 1);
    Atomics.store(words, 2, t + 1);
    if (t >= window) {
      set.delete((TRANSIENT + t - window) * 256 + 1);
      Atomics.store(words, 1, t - window);
    }
    if ((t & 1023) === 0 && performance.now() > end) break;
  }
  scope.postMessage("done");
};
