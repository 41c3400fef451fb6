// A server's or client's `codec` option: wraps the user's handler (with
// `onFrame`) into one with `onData` that runs each connection's decoder. The
// connection table only learns two things: an over-limit frame closes the
// connection with reason "frame too large" (`failFrame`), and `sendFrame`
// encodes. Frames inside one receive buffer reach `onFrame` as views of it.

import { toError } from "../../_internal/to_error.ts";
import { isThenable } from "../../_internal/watch_result.ts";
import { IntMap } from "../../_internal/int_map.ts";
import type { Codec, Decoder } from "../codec/codec.ts";
import type { FrameTooLargeError } from "../codec/frame_too_large_error.ts";
import type { NetworkHandler } from "./network_handler.ts";
import type { ServerContext } from "./server_context.ts";

/** What the wrapper needs of the connection table beyond `ServerContext`. */
export interface FramingTable {
  /** Reports a decoding error and closes `id` with reason "frame too large". */
  failFrame(id: number, error: Error): void;
  /** Reports an error for `id` to `onError` (discarded over-long frames). */
  reportFrameError(error: Error, id: number): void;
}

/** One connection's decoder and its frame callback (made once, not per read). */
class FramedConnection<T, F, E> {
  readonly decoder: Decoder<F>;
  readonly ctx: ServerContext<T, E> & FramingTable;
  readonly id: number;
  readonly handler: NetworkHandler<T, F, E>;
  pending: PromiseLike<void>[] | undefined = undefined;
  inCallback = false;

  constructor(
    codec: Codec<F, E>,
    ctx: ServerContext<T, E> & FramingTable,
    id: number,
    handler: NetworkHandler<T, F, E>,
  ) {
    this.decoder = codec.createDecoder();
    this.ctx = ctx;
    this.id = id;
    this.handler = handler;
  }

  readonly onFrame = (frame: F): boolean => {
    this.inCallback = true;
    const result = this.handler.onFrame!(this.ctx, this.id, frame);
    this.inCallback = false;
    if (isThenable(result)) {
      (this.pending ??= []).push(result);
    }
    // The handler may have closed the connection: decode no further.
    return this.ctx.has(this.id);
  };

  readonly onDiscard = (error: FrameTooLargeError): void => {
    this.ctx.reportFrameError(error, this.id);
  };
}

/**
 * Returns a handler whose `onData` decodes with `codec` and calls
 * `handler.onFrame` per frame; the other callbacks are passed through.
 */
export function framingHandler<T, F, E>(
  handler: NetworkHandler<T, F, E>,
  codec: Codec<F, E>,
): NetworkHandler<T, F, E> {
  // Not a Map: see _internal/int_map.ts.
  const connections = new IntMap<FramedConnection<T, F, E>>();
  const framed: NetworkHandler<T, F, E> = {
    onData(ctx, id, data) {
      let connection = connections.get(id);
      if (connection === undefined) {
        const table = ctx as ServerContext<T, E> & FramingTable;
        connection = new FramedConnection(codec, table, id, handler);
        connections.set(id, connection);
      }
      try {
        connection.decoder.decode(
          data,
          connection.onFrame,
          connection.onDiscard,
        );
      } catch (error) {
        // An error from onFrame is the handler's ("handler error"); one from
        // the decoder (FrameTooLargeError, a custom codec's) is the peer's.
        const fromHandler = connection.inCallback;
        connection.inCallback = false;
        connection.pending = undefined;
        if (fromHandler) throw error;
        connection.ctx.failFrame(id, toError(error));
        return;
      }
      const pending = connection.pending;
      if (pending === undefined) return;
      connection.pending = undefined;
      return Promise.all(pending).then(() => {});
    },
    onDisconnect(ctx, id, reason) {
      connections.delete(id);
      return handler.onDisconnect?.(ctx, id, reason);
    },
  };
  if (handler.onConnect !== undefined) {
    framed.onConnect = (ctx, id) => handler.onConnect!(ctx, id);
  }
  if (handler.onWritable !== undefined) {
    framed.onWritable = (ctx, id) => handler.onWritable!(ctx, id);
  }
  if (handler.onError !== undefined) {
    framed.onError = (ctx, error, id) => handler.onError!(ctx, error, id);
  }
  if (handler.onListening !== undefined) {
    framed.onListening = (ctx, addr) => handler.onListening!(ctx, addr);
  }
  if (handler.onShutdown !== undefined) {
    framed.onShutdown = (ctx) => handler.onShutdown!(ctx);
  }
  return framed;
}
