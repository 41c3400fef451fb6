// Local stand-in for `jsr:@std/async@^1` (JSR is not reachable here), with
// std's names and signatures.

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Signal used to abort the delay. */
  signal?: AbortSignal;
  /** Whether the process should wait for the timer. @default {true} */
  persistent?: boolean;
}

/** Resolve a promise after a given amount of milliseconds. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, persistent = true } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(+i);
      reject(signal?.reason);
    };
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const i = setTimeout(done, ms);
    signal?.addEventListener("abort", abort, { once: true });
    if (persistent === false) Deno.unrefTimer(+i);
  });
}

/** Options for {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Signal used to abort the deadline. */
  signal?: AbortSignal;
}

/** Create a promise which will be rejected with a `TimeoutError` DOMException when `ms` elapse. */
export async function deadline<T>(
  p: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  const timeout = AbortSignal.timeout(ms);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout])
    : timeout;
  return await abortable(p, signal);
}

/** Make a promise abortable with the given signal. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, reject } = Promise.withResolvers<never>();
  const abort = () => reject(signal.reason);
  signal.addEventListener("abort", abort, { once: true });
  return Promise.race([promise, p]).finally(() => {
    signal.removeEventListener("abort", abort);
  });
}

/** Transform values from an iterable with a bounded number of concurrent calls. */
export function pooledMap<T, R>(
  poolLimit: number,
  array: Iterable<T> | AsyncIterable<T>,
  iteratorFn: (data: T) => Promise<R>,
): AsyncIterableIterator<R> {
  async function* run(): AsyncIterableIterator<R> {
    const executing = new Set<Promise<R>>();
    const results: Promise<R>[] = [];
    for await (const item of array) {
      const p = iteratorFn(item);
      results.push(p);
      executing.add(p);
      p.finally(() => executing.delete(p)).catch(() => {});
      if (executing.size >= poolLimit) await Promise.race(executing);
    }
    for (const p of results) yield await p;
  }
  return run();
}
