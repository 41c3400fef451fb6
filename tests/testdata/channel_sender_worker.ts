// Sends `count` messages into a Channel: each is [sender u32][seq u32] then a
// filler of pseudo-random length (seeded) whose bytes are (seq + i) & 255, so
// the receiver can check identity, order and content of every message.
import { Channel } from "../../reactor/channel.ts";

interface Job {
  buffer: SharedArrayBuffer;
  sender: number;
  count: number;
  maxFill: number;
  seed: number;
  /** Bumped every millisecond while this Worker lives (to see it end). */
  beat: SharedArrayBuffer;
}

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown): void;
};

self.onmessage = async (event: MessageEvent<Job>) => {
  const { buffer, sender, count, maxFill, seed, beat } = event.data;
  const heartbeat = new Int32Array(beat);
  setInterval(() => Atomics.add(heartbeat, sender, 1), 1);
  const channel = new Channel({ buffer });
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  let full = 0;
  for (let seq = 0; seq < count; seq++) {
    const fill = Math.floor(random() * (maxFill + 1));
    const message = new Uint8Array(8 + fill);
    const view = new DataView(message.buffer);
    view.setUint32(0, sender, true);
    view.setUint32(4, seq, true);
    for (let i = 0; i < fill; i++) message[8 + i] = (seq + i) & 255;
    if (!channel.trySend(message)) {
      full++;
      await channel.send(message);
    }
  }
  self.postMessage({ done: true, full });
};
