/**
 * The reactor: an event loop that multiplexes the readiness of many sources
 * (listeners, connections, timers, wakers) into handler callbacks, in the
 * manner of Rust's mio. Deno has no readiness API, so readiness is emulated
 * the way mio does on Windows: the loop keeps one read in flight per source
 * into a pooled buffer and delivers "readable + bytes"; "writable" means the
 * outbound queue drained below its low-water mark.
 *
 * @module
 */
export { Interest } from "./interest.ts";
export { RESERVED_TOKEN_BASE, type Token } from "./token.ts";
export type { Event, EventHandler, Source } from "./event.ts";
export { EventLoop } from "./event_loop.ts";
export type * from "./event_loop_options.ts";
export type { ComputeRunner, ComputeRunOptions } from "./compute_runner.ts";
export { Timer, type TimerHandle, type TimerOptions } from "./timer.ts";
export { Waker, type WakerOptions } from "./waker.ts";
export {
  Channel,
  type ChannelOptions,
  type ChannelSendOptions,
} from "./channel.ts";
export {
  isDatagramAvailable,
  listenDatagram,
  type ListenDatagramOptions,
} from "./datagram.ts";
export {
  type BufferLease,
  BufferPool,
  type BufferPoolMetrics,
  type BufferPoolOptions,
} from "./buffer_pool.ts";
