/**
 * The baseline the compute pool is measured against: a plain `postMessage`
 * worker pool of about twenty lines, as one would write it by hand in Deno.
 * Round-robin dispatch, one message per task each way, no priorities, no
 * cancellation. This file is both the pool (imported by
 * bench/compute_peers.ts) and its worker entry.
 *
 * @module
 */

/** A hand-written postMessage pool. */
export class PostMessagePool {
  #workers: Worker[] = [];
  #next = 0;
  #id = 0;
  #pending = new Map<number, (value: unknown) => void>();

  /** Spawns `workers` workers that import `taskModuleUrl`. */
  constructor(taskModuleUrl: URL, workers: number) {
    for (let i = 0; i < workers; i++) {
      const w = new Worker(import.meta.url, { type: "module" });
      w.onmessage = (e) => {
        const resolve = this.#pending.get(e.data.id)!;
        this.#pending.delete(e.data.id);
        resolve(e.data.value);
      };
      w.postMessage({ init: taskModuleUrl.href });
      this.#workers.push(w);
    }
  }

  /** Runs `name(input)` on the next worker. */
  run(name: string, input: unknown): Promise<unknown> {
    const id = this.#id++;
    const w = this.#workers[this.#next++ % this.#workers.length]!;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      w.postMessage({ id, name, input });
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

// Worker side: the same file, loaded with `new Worker(import.meta.url)`.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined") {
  let tasks: Record<string, (input: unknown) => unknown> = {};
  const queue: MessageEvent[] = [];
  let ready = false;
  scope.onmessage = async (e: MessageEvent) => {
    if (e.data.init) {
      tasks = await import(e.data.init);
      ready = true;
      for (const q of queue.splice(0)) handle(q);
      return;
    }
    if (!ready) queue.push(e);
    else handle(e);
  };
  const handle = (e: MessageEvent) => {
    const { id, name, input } = e.data;
    scope.postMessage({ id, value: tasks[name]!(input) });
  };
}
