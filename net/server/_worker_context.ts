// The ServerContext handlers get in a multi-worker TcpServer: the local
// connection table for ids this Worker owns, messages over the owners'
// channels for the rest, the shared counters and each Worker's shared id set
// for what holds server-wide.

import { IntMap } from "../../_internal/int_map.ts";
import type { Codec } from "../codec/codec.ts";
import { ConnectionNotFoundError, TooBigError } from "../errors.ts";
import type { ProxyInfo } from "../proxy/proxy_info.ts";
import type {
  BroadcastOptions,
  CloseConnectionOptions,
  SendOptions,
  ServerContext,
} from "./server_context.ts";
import {
  encodeMessage,
  OP_BROADCAST,
  OP_CLOSE,
  OP_SEND,
  type Outbox,
  ownerOf,
} from "./_worker_protocol.ts";
import type { SharedCounts } from "./_shared_counts.ts";
import type { RecordedAddresses, SharedIdSet } from "./_shared_id_set.ts";

/** What the arrival gossip tells about a connection of another Worker. */
export interface RemoteConnection {
  remoteAddr: Deno.Addr;
  localAddr: Deno.Addr;
  proxyInfo: ProxyInfo | undefined;
}

export class WorkerContext<T, E = Uint8Array> implements ServerContext<T, E> {
  /** This Worker's index; the main thread has none (-1). */
  readonly index: number;
  /** The local connections (undefined on the main thread). */
  table: ServerContext<T, E> | undefined;
  /** The server's codec in this thread (`sendFrame` encodes with it). */
  codec: Codec<unknown, E> | undefined;
  /** Outboxes to every Worker by index (this one's slot unused). */
  readonly outboxes: (Outbox | undefined)[];
  /**
   * Told of a routed message dropped as its outbox is full (the handler's
   * `onError`); without it, the call that sent it throws.
   */
  onOverflow:
    | ((error: TooBigError, id: number | undefined) => void)
    | undefined;
  /**
   * Other Workers' connections as their OP_OPEN/OP_GONE gossip tells them:
   * `proxyInfo`, and addresses the shared sets could not record (which
   * connections are open, and their addresses, are in `sets`). Not a `Map`:
   * see _internal/int_map.ts.
   */
  readonly remote: IntMap<RemoteConnection> = new IntMap();
  /**
   * The server reads PROXY headers (`proxyProtocol`): every arrival is
   * gossiped, for `proxyInfo`. Without it only addresses the shared sets
   * could not record are.
   */
  proxied = false;
  /** Every Worker's live ids by index, written by the owner as it goes. */
  readonly sets: readonly SharedIdSet[];
  readonly #counts: SharedCounts;

  constructor(
    index: number,
    counts: SharedCounts,
    outboxes: (Outbox | undefined)[],
    sets: readonly SharedIdSet[],
  ) {
    this.index = index;
    this.#counts = counts;
    this.outboxes = outboxes;
    this.sets = sets;
  }

  /** Whether `id` is an open connection of another Worker. */
  #isRemote(id: number): boolean {
    const owner = ownerOf(id);
    return owner !== this.index && this.sets[owner]?.has(id) === true;
  }

  #outboxOf(id: number): Outbox | undefined {
    const owner = ownerOf(id);
    return owner === this.index ? undefined : this.outboxes[owner];
  }

  sendTo(
    id: number,
    bytes: Uint8Array | string,
    options?: SendOptions,
  ): boolean {
    const outbox = this.#outboxOf(id);
    if (outbox === undefined || !this.#isRemote(id)) {
      if (this.table === undefined || ownerOf(id) !== this.index) {
        throw new ConnectionNotFoundError(id);
      }
      return this.table.sendTo(id, bytes, options);
    }
    const outcome = outbox.sendBounded(encodeMessage(OP_SEND, id, bytes));
    if (outcome === "full") this.#overflow("send to connection", id, id);
    return outcome === "sent";
  }

  /** Reports (or throws) a routed message dropped at a full outbox. */
  #overflow(action: string, owner: number, id: number | undefined): void {
    const worker = ownerOf(owner);
    const error = new TooBigError(
      `Cannot ${action} as the outbox to Worker ${worker} is full (the Worker is not keeping up): 'maxOutboxBytes' is ${
        this.outboxes[worker]!.maxBytes
      }`,
    );
    if (this.onOverflow === undefined) throw error;
    this.onOverflow(error, id);
  }

  broadcast(bytes: Uint8Array | string, options?: BroadcastOptions): number {
    let count = this.table?.broadcast(bytes, options) ?? 0;
    const except = options?.except;
    const ids = except === undefined
      ? []
      : typeof except === "number"
      ? [except]
      : [...except];
    // One copy per Worker, not per connection: the owner fans it out.
    let message: Uint8Array | undefined;
    let dropped: Set<number> | undefined;
    for (let i = 0; i < this.outboxes.length; i++) {
      const outbox = this.outboxes[i];
      if (i === this.index || outbox === undefined) continue;
      message ??= encodeMessage(OP_BROADCAST, 0, bytes, 0, ids);
      if (outbox.sendBounded(message) === "full") {
        (dropped ??= new Set()).add(i);
      }
    }
    for (let i = 0; i < this.sets.length; i++) {
      if (i === this.index || dropped?.has(i)) continue;
      count += this.sets[i]!.size;
    }
    for (const id of new Set(ids)) {
      if (!dropped?.has(ownerOf(id)) && this.#isRemote(id)) count--;
    }
    for (const worker of dropped ?? []) {
      this.#overflow("broadcast", worker, undefined);
    }
    return count;
  }

  closeConnection(id: number, options?: CloseConnectionOptions): boolean {
    const outbox = this.#outboxOf(id);
    if (outbox === undefined) {
      return this.table?.closeConnection(id, options) ?? false;
    }
    if (!this.#isRemote(id)) return false;
    outbox.send(
      encodeMessage(OP_CLOSE, id, undefined, options?.flush === false ? 0 : 1),
    );
    return true;
  }

  sendFrame(id: number, frame: E): boolean {
    if (this.#outboxOf(id) === undefined && this.table !== undefined) {
      return this.table.sendFrame(id, frame);
    }
    return this.sendTo(id, this.#encode("send frame", frame));
  }

  broadcastFrame(frame: E, options?: BroadcastOptions): number {
    return this.broadcast(this.#encode("broadcast frame", frame), options);
  }

  #encode(action: string, frame: E): Uint8Array {
    if (this.codec === undefined) {
      throw new TypeError(`Cannot ${action} as there is no 'codec'`);
    }
    return this.codec.encode(frame);
  }

  /**
   * Another Worker's connection's addresses: from the owner's shared set at
   * once, else (not recordable there) from its arrival message.
   */
  #remoteConnection(
    id: number,
  ): RemoteConnection | RecordedAddresses | undefined {
    const owner = ownerOf(id);
    if (owner === this.index) return undefined;
    return this.sets[owner]?.addresses(id) ?? this.remote.get(id);
  }

  remoteAddr(id: number): Deno.Addr {
    const remote = this.#remoteConnection(id);
    if (remote !== undefined) return remote.remoteAddr;
    if (this.table === undefined) throw new ConnectionNotFoundError(id);
    return this.table.remoteAddr(id);
  }

  localAddr(id: number): Deno.Addr {
    const remote = this.#remoteConnection(id);
    if (remote !== undefined) return remote.localAddr;
    if (this.table === undefined) throw new ConnectionNotFoundError(id);
    return this.table.localAddr(id);
  }

  proxyInfo(id: number): ProxyInfo | undefined {
    const remote = this.remote.get(id);
    if (remote !== undefined) return remote.proxyInfo;
    // No PROXY header to tell: another Worker's open connection has none.
    if (!this.proxied && this.#isRemote(id)) return undefined;
    return this.table?.proxyInfo(id);
  }

  connectionIds(): number[] {
    const ids = this.table?.connectionIds() ?? [];
    // Read from the owners' shared sets, not from messages: a connection
    // another Worker reported to its handler is listed here at once.
    for (let i = 0; i < this.sets.length; i++) {
      if (i !== this.index) this.sets[i]!.appendTo(ids);
    }
    // Ids grow with the shared sequence: numeric order is accept order.
    return ids.sort((a, b) => a - b);
  }

  has(id: number): boolean {
    return this.#isRemote(id) || (this.table?.has(id) ?? false);
  }

  get connectionCount(): number {
    return this.#counts.open;
  }

  getData(id: number): T | undefined {
    return this.table?.getData(id);
  }

  setData(id: number, value: T): void {
    if (this.#isRemote(id)) {
      throw new TypeError(
        `Cannot set data of connection as another Worker owns it: id '${id}'`,
      );
    }
    if (this.table === undefined) throw new ConnectionNotFoundError(id);
    this.table.setData(id, value);
  }
}
