/**
 * A pool of Web Workers for CPU-heavy work, with priorities held in
 * Atomics-backed queues in `SharedArrayBuffer`s, results as promises,
 * cancellation and metrics.
 *
 * @module
 */
export {};
