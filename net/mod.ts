/**
 * Networking on the reactor: `TcpServer`/`TcpClient` with a connection map,
 * handlers and a server context (in the manner of Rust's mill-net), and a
 * stream-style API with a deadline on every operation (in the manner of mtcp).
 *
 * @module
 */
export * from "./errors.ts";
export * from "./canceller.ts";
export * from "./shutdown_on_signals.ts";
export * from "./tcp_listener.ts";
export * from "./tcp_stream.ts";
export * from "./tcp_server_config.ts";
export * from "./network_handler.ts";
export * from "./server_context.ts";
export * from "./tcp_server.ts";
export * from "./tcp_client.ts";
export * from "./codec/mod.ts";
