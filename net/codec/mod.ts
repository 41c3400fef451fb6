/**
 * Framing codecs: turn a byte stream into frames and back. Pass one as
 * `TcpServer`'s or `TcpClient`'s `codec` option (frames arrive in `onFrame`,
 * `ctx.sendFrame` encodes) or to `TcpStream.readFrame`.
 *
 * @module
 */
export * from "./codec.ts";
export * from "./frame_too_large_error.ts";
export * from "./invalid_frame_error.ts";
export * from "./length_prefixed_codec.ts";
export * from "./line_codec.ts";
export * from "./delimiter_codec.ts";
