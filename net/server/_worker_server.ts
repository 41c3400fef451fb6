// The main-thread side of a multi-worker TcpServer: starts N Workers (one
// first, to learn the port when it is 0), supervises them (a crash is
// reported, its connections accounted and the Worker restarted), sums their
// stats from shared memory and drains them all with one shutdown deadline.

import { Channel } from "../../reactor/channel.ts";
import { isDatagramAvailable } from "../../reactor/datagram.ts";
import { EventLoop } from "../../reactor/event_loop.ts";
import { toError } from "../../_internal/to_error.ts";
import type { ServerContext } from "./server_context.ts";
import type {
  TcpServerRunOptions,
  TcpServerShutdownOptions,
  TcpServerShutdownResult,
  TcpServerStats,
} from "./tcp_server_options.ts";
import type { TcpServerConfig } from "./tcp_server_config.ts";
import type { TcpServerConfigOptions } from "./tcp_server_config_options.ts";
import type { TcpServerWorkersOptions } from "./tcp_server_workers.ts";
import type { ModuleServer, ModuleServerOptions } from "./_module_server.ts";
import { WorkerContext } from "./_worker_context.ts";
import { SharedIdSet } from "./_shared_id_set.ts";
import {
  connectionFromText,
  encodeMessage,
  OP_GONE,
  OP_OPEN,
  Outbox,
  payloadText,
  unpackMessages,
} from "./_worker_protocol.ts";
import { SharedCounts } from "./_shared_counts.ts";
import type { ShutdownMessage, StartMessage } from "./_server_worker.ts";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from "./_server_setup.ts";

// Room for routed messages per Worker: 1 MiB rings.
const CHANNEL_CAPACITY = 1 << 20;

/** Whether this Deno can give several listeners one port (SO_REUSEPORT). */
export function reusePortSupport(): string | undefined {
  if (Deno.build.os !== "linux") {
    return `${Deno.build.os} has no reusePort in Deno`;
  }
  // Deno exits (code 70, uncatchable) on `reusePort` without --unstable-net;
  // the flag also exposes Deno.listenDatagram, which is safe to probe.
  if (!isDatagramAvailable()) return "linux without '--unstable-net'";
  return undefined;
}

// Every field of the validated config, as options the Workers rebuild it
// from (a spread keeps up with fields added to the config later).
function configOptions(config: TcpServerConfig): TcpServerConfigOptions {
  return structuredClone({ ...config }) as TcpServerConfigOptions;
}

interface Slot {
  worker: Worker | undefined;
  listening: PromiseWithResolvers<Deno.Addr>;
  stopped: PromiseWithResolvers<TcpServerShutdownResult> | undefined;
}

export class WorkerServer<T> implements ModuleServer<T> {
  readonly #config: TcpServerConfigOptions;
  readonly #options: TcpServerWorkersOptions;
  readonly #module: string;
  readonly #count: number;
  readonly #maxOutboxBytes: number;
  readonly #counts = new SharedCounts();
  readonly #channels: Channel[] = [];
  readonly #sets: SharedIdSet[] = [];
  readonly #slots: Slot[] = [];
  readonly #context: WorkerContext<T>;
  #status: TcpServerStats["state"] = "idle";
  #addr: Deno.Addr | undefined;
  #listening = Promise.withResolvers<Deno.Addr>();
  #loop: EventLoop | undefined;
  #looping: Promise<void> | undefined;
  #shutdown: Promise<TcpServerShutdownResult> | undefined;
  #done = Promise.withResolvers<void>();
  #startedAt = 0;
  #failure: Error | undefined;

  constructor(
    config: TcpServerConfig,
    options: TcpServerWorkersOptions,
    { count, href, maxOutboxBytes }: ModuleServerOptions,
  ) {
    if (count > 1) {
      if (config.transport !== "tcp") {
        throw new TypeError(
          `Cannot create server as 'workers' above 1 needs transport "tcp": received "${config.transport}"`,
        );
      }
      const missing = reusePortSupport();
      if (missing !== undefined) {
        throw new Deno.errors.NotSupported(
          `Cannot create server as 'workers' above 1 needs reusePort, which Deno offers only on Linux with the '--unstable-net' flag: received workers ${count} on ${missing}`,
        );
      }
    }
    this.#config = configOptions(config);
    this.#options = options;
    this.#module = href;
    this.#count = count;
    this.#maxOutboxBytes = maxOutboxBytes;
    const outboxes: Outbox[] = [];
    for (let i = 0; i <= count; i++) {
      const channel = new Channel({ capacity: CHANNEL_CAPACITY });
      this.#channels.push(channel);
      if (i < count) outboxes.push(new Outbox(channel.buffer, maxOutboxBytes));
    }
    for (let i = 0; i < count; i++) {
      this.#sets.push(
        new SharedIdSet(SharedIdSet.createBuffer(config.maxConnections)),
      );
    }
    this.#context = new WorkerContext<T>(
      -1,
      this.#counts,
      outboxes,
      this.#sets,
    );
    this.#context.proxied = config.proxyProtocol !== undefined;
    // The main thread's channel receives the gossip only (its context's view).
  }

  get addr(): Deno.Addr {
    if (this.#addr === undefined) {
      throw new Deno.errors.NotConnected(
        "Cannot get address as the server has not started",
      );
    }
    return this.#addr;
  }

  listening(): Promise<Deno.Addr> {
    return this.#listening.promise;
  }

  get connectionCount(): number {
    return this.#counts.open;
  }

  get context(): ServerContext<T> {
    if (this.#status === "idle") {
      throw new Deno.errors.NotConnected(
        "Cannot get context as the server has not started",
      );
    }
    return this.#context;
  }

  run(options: TcpServerRunOptions = {}): Promise<void> {
    if (this.#status !== "idle") {
      return Promise.reject(
        new Deno.errors.AlreadyExists(
          `Cannot run server as it is ${this.#status}`,
        ),
      );
    }
    this.#status = "listening";
    this.#startedAt = performance.now();
    this.#listening.promise.catch(() => {});
    const loop = new EventLoop();
    this.#loop = loop;
    this.#channels[this.#count]!.register(loop, 1, (raw) => {
      for (const message of unpackMessages(raw as Uint8Array)) {
        if (message.op === OP_OPEN) {
          this.#context.remote.set(
            message.id,
            connectionFromText(payloadText(message)),
          );
        } else if (message.op === OP_GONE) {
          this.#context.remote.delete(message.id);
        }
      }
    });
    this.#looping = loop.run();
    const signal = options.signal;
    const onAbort = () => void this.shutdown();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#startAll().then(
      () => {
        if (signal?.aborted) onAbort();
      },
      async (error) => {
        this.#failure = toError(error);
        this.#listening.reject(error);
        await this.shutdown({ force: true });
      },
    );
    return this.#done.promise.finally(() => {
      signal?.removeEventListener("abort", onAbort);
    });
  }

  async #startAll(): Promise<void> {
    // Worker 0 binds first: with port 0 the others need the port it got.
    const first = await this.#spawn(0, []);
    this.#addr = first;
    if (this.#config.port === 0) {
      this.#config.port = (first as Deno.NetAddr).port;
    }
    const rest: Promise<Deno.Addr>[] = [];
    for (let i = 1; i < this.#count; i++) rest.push(this.#spawn(i, []));
    await Promise.all(rest);
    this.#listening.resolve(first);
  }

  #spawn(index: number, crashed: number[]): Promise<Deno.Addr> {
    const worker = new Worker(
      new URL("./_server_worker.ts", import.meta.url),
      { type: "module" },
    );
    const slot: Slot = {
      worker,
      listening: Promise.withResolvers<Deno.Addr>(),
      stopped: undefined,
    };
    slot.listening.promise.catch(() => {});
    this.#slots[index] = slot;
    worker.onmessage = (e: MessageEvent) => {
      const data = e.data;
      if (data.type === "listening") slot.listening.resolve(data.addr);
      else if (data.type === "stopped") slot.stopped?.resolve(data.result);
      else if (data.type === "failed") {
        const Class = (Deno.errors as unknown as Record<
          string,
          new (message: string) => Error
        >)[
          data.name
        ] ?? Error;
        slot.listening.reject(new Class(data.message));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#crashed(index, slot, toError(e.error ?? e.message));
    };
    const start: StartMessage = {
      type: "start",
      index,
      workers: this.#count,
      config: this.#config,
      handlerModule: this.#module,
      workerData: this.#options.workerData,
      state: this.#counts.buffer,
      channels: this.#channels.map((c) => c.buffer),
      idSets: this.#sets.map((set) => set.buffer),
      maxOutboxBytes: this.#maxOutboxBytes,
      crashed,
    };
    worker.postMessage(start);
    return slot.listening.promise;
  }

  #crashed(index: number, slot: Slot, error: Error): void {
    if (this.#slots[index] !== slot || slot.worker === undefined) return;
    slot.worker.terminate();
    slot.worker = undefined;
    // Its connections died with its thread: take them out of its id set (its
    // JS stopped at the error, so it writes there no more), of the others'
    // address maps and of the shared counts.
    const ids: number[] = [];
    this.#sets[index]!.appendTo(ids);
    this.#sets[index]!.clear();
    for (const id of ids) {
      this.#context.remote.delete(id);
      const gone = encodeMessage(OP_GONE, id);
      for (let i = 0; i < this.#count; i++) {
        if (i !== index) this.#context.outboxes[i]!.send(gone);
      }
    }
    // `ids` are the connections its handler saw (onConnect); the shared
    // count also has those still reading a PROXY header.
    const open = this.#counts.retire(index);
    slot.listening.reject(error);
    slot.stopped?.resolve({ closedGracefully: 0, forced: open });
    try {
      this.#options.onWorkerError?.(error, index);
    } catch {
      // The supervisor goes on.
    }
    if (this.#status === "listening" || this.#status === "paused") {
      this.#spawn(index, ids).catch((error) => {
        try {
          this.#options.onWorkerError?.(toError(error), index);
        } catch {
          // The supervisor goes on.
        }
      });
    }
  }

  stats(): TcpServerStats {
    return {
      state: this.#status,
      ...this.#counts.sum(this.#count),
      uptimeMs: this.#startedAt === 0 ? 0 : performance.now() - this.#startedAt,
    };
  }

  shutdown(
    options: TcpServerShutdownOptions = {},
  ): Promise<TcpServerShutdownResult> {
    const force = options.force ?? false;
    if (this.#shutdown !== undefined) {
      if (force) {
        this.#post({
          type: "shutdown",
          force: true,
          timeoutMs: 0,
          sentAt: Date.now(),
        });
      }
      return this.#shutdown;
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    if (
      typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0
    ) {
      throw new RangeError(
        `Cannot shut down server as 'timeoutMs' must be a non-negative number: received ${timeoutMs}`,
      );
    }
    this.#shutdown = this.#runShutdown(force, timeoutMs);
    return this.#shutdown;
  }

  #post(message: ShutdownMessage): void {
    for (const slot of this.#slots) slot?.worker?.postMessage(message);
  }

  async #runShutdown(
    force: boolean,
    timeoutMs: number,
  ): Promise<TcpServerShutdownResult> {
    if (this.#status === "idle") {
      this.#status = "closed";
      this.#done.resolve();
      return { closedGracefully: 0, forced: 0 };
    }
    this.#status = "shutting down";
    // Workers still starting finish starting first (or fail).
    await Promise.allSettled(this.#slots.map((s) => s?.listening.promise));
    const results: Promise<TcpServerShutdownResult>[] = [];
    for (const slot of this.#slots) {
      if (slot?.worker === undefined) continue;
      slot.stopped = Promise.withResolvers<TcpServerShutdownResult>();
      results.push(slot.stopped.promise);
    }
    // One deadline for all: every Worker gets the same timeout now.
    this.#post({ type: "shutdown", force, timeoutMs, sentAt: Date.now() });
    const summed = { closedGracefully: 0, forced: 0 };
    for (const result of await Promise.all(results)) {
      summed.closedGracefully += result.closedGracefully;
      summed.forced += result.forced;
    }
    for (const slot of this.#slots) {
      slot?.worker?.terminate();
      if (slot !== undefined) slot.worker = undefined;
    }
    for (const outbox of this.#context.outboxes) await outbox?.close();
    this.#loop!.stop();
    await this.#looping;
    await this.#loop![Symbol.asyncDispose]();
    this.#status = "closed";
    if (this.#failure !== undefined) this.#done.reject(this.#failure);
    else this.#done.resolve();
    return summed;
  }
}
