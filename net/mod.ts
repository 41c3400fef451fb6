/**
 * Networking on the reactor: `TcpServer`/`TcpClient` with a connection map,
 * handlers and a server context (in the manner of Rust's mill-net), and a
 * stream-style API with a deadline on every operation (in the manner of mtcp).
 *
 * @module
 */
export * from "./errors.ts";
export * from "./stream/canceller.ts";
export * from "./server/shutdown_on_signals.ts";
export * from "./stream/tcp_listener.ts";
export * from "./stream/tcp_stream.ts";
export * from "./stream/tcp_stream_options.ts";
export * from "./server/connection_options.ts";
export * from "./server/tcp_server_config.ts";
export * from "./server/tcp_server_config_builder.ts";
export * from "./server/tcp_server_config_options.ts";
export * from "./server/network_handler.ts";
export * from "./server/server_context.ts";
export * from "./server/tcp_server.ts";
export * from "./server/tcp_server_options.ts";
export * from "./server/tcp_server_workers.ts";
export * from "./server/tcp_client.ts";
export * from "./codec/mod.ts";
export * from "./proxy/mod.ts";
