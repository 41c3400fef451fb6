// How a Worker of a multi-worker server bends its TcpServer: a listener with
// SO_REUSEPORT, ids and the connection limit shared with the other Workers.
// Kept off TcpServer's public surface (a WeakMap, not a method or option).

import type { EventLoop } from "../../reactor/event_loop.ts";

/** What a Worker sets for its TcpServer before starting it. */
export interface WorkerHooks {
  /** Listen with SO_REUSEPORT (more than one Worker; needs --unstable-net). */
  reusePort: boolean;
  /** Called by `run()` with the loop it made, before it starts serving. */
  onLoop(loop: EventLoop): void;
  /** Where the connection table counts its stats (shared memory). */
  counters?: Float64Array | undefined;
  /** A write left a queue at the high-water mark: sample pending bytes. */
  onHighWater?: (() => void) | undefined;
  /** Makes a server-wide unique connection id. */
  allocateId(): number;
  /** Counts one accepted connection in; `false` if over `maxConnections`. */
  admit(): boolean;
  /** Open connections over all Workers. */
  openCount(): number;
  /** A connection of this Worker left. */
  released(): void;
  /** Set by TcpServer: accept again if paused and below the limit. */
  resume?: (() => void) | undefined;
}

/** The hooks of the TcpServers that run inside a multi-worker server's Workers. */
export const workerHooks: WeakMap<object, WorkerHooks> = new WeakMap();
