/**
 * The reactor: an event loop that multiplexes the readiness of many sources
 * (listeners, connections, UDP sockets, timers, wakers) into handler
 * callbacks, in the manner of Rust's mio. Deno has no readiness API, so
 * readiness is emulated the way mio does on Windows: the loop keeps one read
 * (or accept) in flight per readable source, into an adaptive pooled buffer,
 * and delivers "readable + bytes"; "writable" means the outbound queue
 * drained below its low-water mark. Events are dispatched as soon as their
 * I/O completes, in the same microtask checkpoint.
 *
 * @example An echo server
 * ```ts
 * import { EventLoop, Interest } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * await using loop = new EventLoop();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * let next = 1;
 * loop.register(listener, 0, Interest.READABLE, (event, loop) => {
 *   if (!event.conn) return;
 *   loop.register(event.conn, next++, Interest.READABLE, (event, loop) => {
 *     if (event.data) loop.write(event.token, event.data);
 *     else if (event.readClosed || event.error) void loop.close(event.token);
 *   });
 * });
 * const running = loop.run();
 *
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * assertEquals(await client.read(buf), 4);
 * assertEquals(new TextDecoder().decode(buf), "ping");
 *
 * loop.stop();
 * await running;
 * ```
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
