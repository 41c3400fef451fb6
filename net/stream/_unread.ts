// Putting bytes back in front of a TcpStream's unread ones: what a reader
// that had to look ahead (readProxyHeader in mode "optional") uses to undo
// its look when what it looked for is not there. Private to the package:
// TcpStream fills the hook in a static block.

import type { TcpStream } from "./tcp_stream.ts";

/** Set by TcpStream. */
export const streamHooks: {
  unread?: (stream: TcpStream, bytes: Uint8Array) => void;
} = {};

/** Puts `bytes` back: the next read of `stream` returns them first. */
export function unread(stream: TcpStream, bytes: Uint8Array): void {
  if (bytes.length > 0) streamHooks.unread!(stream, bytes);
}
