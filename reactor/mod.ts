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
