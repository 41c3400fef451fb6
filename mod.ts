/**
 * millrace: the reactor model of Rust's mio and mill-io for Deno.
 *
 * - {@link https://jsr.io/@millrace/io/doc/reactor | reactor}: an event loop over Deno
 *   sockets with timers, a cross-worker waker and pooled buffers.
 * - {@link https://jsr.io/@millrace/io/doc/net | net}: `TcpServer`/`TcpClient`, and
 *   streams with a deadline on every operation.
 * - {@link https://jsr.io/@millrace/io/doc/compute | compute}: a Web Worker pool with
 *   priorities for CPU-heavy work.
 *
 * @module
 */
export * from "./reactor/mod.ts";
export * from "./net/mod.ts";
export * from "./compute/mod.ts";
