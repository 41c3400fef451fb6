// The Worker of a multi-worker TcpServer: loads the handler module, runs a
// TcpServer on its own loop with a reusePort listener, serves the messages
// other Workers route to its connections, and shows its connections to the
// whole server: ids, addresses and stats counters in shared memory as they
// change, and (with `proxyProtocol`) each arrival's PROXY header by gossip.

import { Channel } from "../../reactor/channel.ts";
import type { EventLoop } from "../../reactor/event_loop.ts";
import { toError } from "../../_internal/to_error.ts";
import type { DisconnectReason, NetworkHandler } from "./network_handler.ts";
import { importHandlerModule, moduleHandler } from "./_handler_module.ts";
import type { ServerContext } from "./server_context.ts";
import { TcpServer } from "./tcp_server.ts";
import { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";
import type { WorkerInitInfo } from "./tcp_server_workers.ts";
import { WorkerContext } from "./_worker_context.ts";
import { SharedIdSet } from "./_shared_id_set.ts";
import { workerHooks } from "./_worker_hooks.ts";
import {
  connectionFromText,
  connectionToText,
  encodeMessage,
  Gossip,
  OP_BROADCAST,
  OP_CLOSE,
  OP_GONE,
  OP_OPEN,
  OP_RESUME,
  OP_SEND,
  Outbox,
  payloadText,
  unpackMessages,
  type WorkerMessage,
} from "./_worker_protocol.ts";
import { SharedCounts } from "./_shared_counts.ts";
import { C_BYTES_PENDING } from "./_server_counters.ts";

/** How often a Worker samples its pending bytes while queues are full. */
const SAMPLE_MS = 50;

/** The first message from the main thread. */
export interface StartMessage {
  type: "start";
  index: number;
  workers: number;
  config: TcpServerConfigOptions;
  handlerModule: string;
  workerData: unknown;
  state: SharedArrayBuffer;
  /** Channel buffers of the Workers by index, then the main thread's. */
  channels: SharedArrayBuffer[];
  /** Each Worker's live connection ids (`SharedIdSet`), by index. */
  idSets: SharedArrayBuffer[];
  /** Bound of each outbox's user messages (`maxOutboxBytes`). */
  maxOutboxBytes: number;
  /** Ids of connections a crashed predecessor held. */
  crashed: number[];
}

/** A shutdown request (a second one with `force` cuts the first short). */
export interface ShutdownMessage {
  type: "shutdown";
  force: boolean;
  timeoutMs: number;
  /** `Date.now()` when the main thread asked: one deadline for all Workers. */
  sentAt: number;
}

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

let server: TcpServer<unknown, unknown, unknown> | undefined;
let serving: Promise<void> | undefined;
let stopping: Promise<void> | undefined;
const abort = new AbortController();

scope.onmessage = (e: MessageEvent) => {
  const message = e.data as StartMessage | ShutdownMessage;
  if (message.type === "start") {
    start(message).catch((error) => {
      const err = toError(error);
      scope.postMessage({
        type: "failed",
        name: err.name,
        message: err.message,
      });
    });
  } else if (message.type === "shutdown") {
    stop(message);
  }
};

function stop(message: ShutdownMessage): void {
  abort.abort();
  if (server === undefined) {
    scope.postMessage({
      type: "stopped",
      result: { closedGracefully: 0, forced: 0 },
    });
    return;
  }
  const result = server.shutdown({
    force: message.force,
    // Time spent in the message counts against the shared deadline.
    timeoutMs: Math.max(0, message.timeoutMs - (Date.now() - message.sentAt)),
  });
  stopping ??= (async () => {
    const summed = await result;
    await serving?.catch(() => {}); // a failed start was reported already
    scope.postMessage({ type: "stopped", result: summed });
  })();
}

function withoutHealthPort(
  options: TcpServerConfigOptions,
): TcpServerConfigOptions {
  const { healthPort: _, ...rest } = options;
  return rest;
}

async function start(init: StartMessage): Promise<void> {
  const { index, workers, state } = init;
  const loaded = await importHandlerModule(init.handlerModule);
  const counts = new SharedCounts(state);
  const outboxes = init.channels.map((buffer, i) =>
    i === index ? undefined : new Outbox(buffer, init.maxOutboxBytes)
  );
  const slot = counts.slot(index);
  let workerLoop: EventLoop | undefined;
  let sampling = false;
  const sets = init.idSets.map((buffer) => new SharedIdSet(buffer));
  const own = sets[index]!;
  const ctx = new WorkerContext<unknown, unknown>(
    index,
    counts,
    outboxes,
    sets,
  );
  const codec = loaded.codec;
  ctx.codec = codec;
  ctx.proxied = init.config.proxyProtocol !== undefined;
  // The connections whose arrival was gossiped (their departure is too).
  const announced = new Set<number>();
  const gossiper = new Gossip(outboxes);
  const gossip = (message: Uint8Array) => gossiper.post(message);
  // init() may return the handler (e.g. one configured from workerData).
  const info: WorkerInitInfo = {
    index,
    workers,
    workerData: init.workerData,
    context: ctx,
    signal: abort.signal,
  };
  const user = await moduleHandler(loaded, info, "start server Worker");
  if (user.onError !== undefined) {
    ctx.onOverflow = (error, id) => user.onError!(ctx, error, id);
  }
  // One health responder per server: Worker 0 answers it.
  const config = new TcpServerConfig(
    index === 0 ? init.config : withoutHealthPort(init.config),
  );
  const max = config.maxConnections;
  // Set once the server runs (callbacks come only after that).
  // deno-lint-ignore prefer-const
  let table: ServerContext<unknown, unknown>;

  // Callbacks get the server-wide context instead of this Worker's table.
  const handler: NetworkHandler<unknown, unknown, unknown> = {
    onData: (_t, id, data) => user.onData!(ctx, id, data),
    onFrame: (_t, id, frame) => user.onFrame!(ctx, id, frame),
    onConnect: (_t, id) => {
      const connection = {
        remoteAddr: table.remoteAddr(id),
        localAddr: table.localAddr(id),
        proxyInfo: table.proxyInfo(id),
      };
      // Listed server-wide, with its addresses, from now on, before any
      // message could say so. Only what the set cannot hold travels as a
      // message: a PROXY header, or an address it could not record.
      if (
        !own.add(id, connection.remoteAddr, connection.localAddr) ||
        ctx.proxied
      ) {
        announced.add(id);
        gossip(encodeMessage(OP_OPEN, id, connectionToText(connection)));
      }
      return user.onConnect?.(ctx, id);
    },
    onDisconnect: (_t, id, reason: DisconnectReason) => {
      own.delete(id);
      if (announced.delete(id)) gossip(encodeMessage(OP_GONE, id));
      return user.onDisconnect?.(ctx, id, reason);
    },
    onWritable: (_t, id) => user.onWritable?.(ctx, id),
    onError: (_t, error, id) => user.onError?.(ctx, error, id),
    onListening: (_t, addr) => user.onListening?.(ctx, addr),
    onShutdown: (_t) => user.onShutdown?.(ctx),
  };
  if (user.onData === undefined) delete handler.onData;
  if (user.onFrame === undefined) delete handler.onFrame;
  if (user.onWritable === undefined) delete handler.onWritable;
  if (user.onShutdown === undefined) delete handler.onShutdown;

  server = new TcpServer(config, handler, codec ? { codec } : {});
  const channel = new Channel({ buffer: init.channels[index]! });
  const hooks = {
    reusePort: workers > 1,
    onLoop(loop: EventLoop) {
      channel.register(loop, loop.allocateToken(), onChannelMessage);
      workerLoop = loop;
    },
    // The table counts the stats straight into shared memory.
    counters: slot,
    onHighWater(): void {
      if (!sampling) samplePending();
    },
    allocateId: () => counts.allocateId(index),
    admit: () => counts.admit(index, max),
    openCount: () => counts.open,
    released(): void {
      const before = counts.release(index);
      // At the limit every Worker may have paused accepting: wake them all.
      if (before >= max) gossip(encodeMessage(OP_RESUME, 0));
    },
    resume: undefined as (() => void) | undefined,
  };
  workerHooks.set(server, hooks);

  const onChannelMessage = (raw: unknown): void => {
    for (const message of unpackMessages(raw as Uint8Array)) {
      onMessage(message);
    }
  };
  const onMessage = (message: WorkerMessage): void => {
    try {
      switch (message.op) {
        case OP_SEND:
          if (table.has(message.id)) table.sendTo(message.id, message.payload);
          break;
        case OP_BROADCAST:
          table.broadcast(message.payload, { except: message.ids });
          break;
        case OP_CLOSE:
          table.closeConnection(message.id, { flush: message.flag === 1 });
          break;
        case OP_OPEN:
          ctx.remote.set(message.id, connectionFromText(payloadText(message)));
          break;
        case OP_GONE:
          ctx.remote.delete(message.id);
          break;
        case OP_RESUME:
          hooks.resume?.();
          break;
      }
    } catch (error) {
      // E.g. the connection's write side shut during a shutdown.
      try {
        user.onError?.(ctx, toError(error), message.id || undefined);
      } catch {
        // An error handler that throws has nobody left to tell.
      }
    }
  };

  // Pending bytes are the one stat not counted as it changes (they leave
  // the queues inside the loop): sampled from the moment a queue reaches the
  // high-water mark, every 50 ms until they all drained. No timer otherwise.
  const samplePending = (): void => {
    const { bytesPending, state } = server!.stats();
    slot[C_BYTES_PENDING] = bytesPending;
    sampling = bytesPending > 0 && state !== "closed";
    if (sampling) workerLoop!.addTimer(SAMPLE_MS, samplePending);
  };

  // The replacement of a crashed Worker accounts for its connections.
  for (const id of init.crashed) {
    try {
      await user.onDisconnect?.(ctx, id, "worker crashed");
    } catch (error) {
      try {
        user.onError?.(ctx, toError(error), id);
      } catch {
        // Nobody left to tell.
      }
    }
  }
  serving = server.run().finally(() => {
    slot[C_BYTES_PENDING] = 0;
    for (const outbox of outboxes) void outbox?.close();
  });
  // A bind error (AddrInUse...) rejects `serving`: report it as a failed
  // start, not as a crash.
  const addr = await Promise.race([
    server.listening(),
    serving.then(() => {
      throw new Deno.errors.NotConnected("Cannot start server Worker");
    }),
  ]);
  table = server.context;
  ctx.table = table;
  scope.postMessage({ type: "listening", addr });
}
