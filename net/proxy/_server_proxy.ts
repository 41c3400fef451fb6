// The server side of the PROXY protocol: option validation for
// `TcpServerConfig`, and the per-connection handshake the connection table
// runs before `onConnect`. Kept here so the table only holds hooks.

import {
  invalidOption,
  validateEnum,
  validateMilliseconds,
  validatePort,
} from "../../_internal/validate.ts";
import { type Cidr, matchesCidr, parseCidr } from "./_ip.ts";
import type { ProxyHeader, ProxyProtocolMode } from "./proxy_header.ts";
import { ProxyHeaderError } from "./proxy_header_error.ts";
import {
  ProxyHeaderParser,
  type ProxyParseResult,
} from "./proxy_header_parser.ts";
import type { ProxyInfo } from "./proxy_info.ts";

/** The PROXY options of `TcpServerConfigOptions`, as given. */
export interface ProxyOptionsInput {
  proxyProtocol?: ProxyProtocolMode | undefined;
  proxyHeaderTimeoutMs?: number | undefined;
  trustedProxies?: readonly string[] | undefined;
  healthPort?: number | undefined;
}

/** The PROXY options, validated. */
export interface ProxyOptions {
  proxyProtocol: ProxyProtocolMode | undefined;
  proxyHeaderTimeoutMs: number;
  trustedProxies: readonly string[] | undefined;
  healthPort: number | undefined;
}

/** What the connection table needs to run handshakes. */
export interface ProxySettings {
  mode: ProxyProtocolMode;
  timeoutMs: number;
  trusted: readonly Cidr[] | undefined;
}

const DEFAULT_TIMEOUT_MS = 3000;
const MODES: readonly ProxyProtocolMode[] = ["v1", "v2", "any", "optional"];

const ACTION = "create server config";

/** Validates the PROXY options of a server config. */
export function validateProxyOptions(
  input: ProxyOptionsInput,
  transport: string,
): ProxyOptions {
  const mode = input.proxyProtocol === undefined
    ? undefined
    : validateEnum(ACTION, "proxyProtocol", input.proxyProtocol, MODES);
  if (mode !== undefined && transport === "tls") {
    // A proxy sends the header in clear before the TLS handshake, which
    // Deno's TLS listener performs before any byte reaches us.
    throw new TypeError(
      `Cannot create server config as 'proxyProtocol' needs transport 'tcp' or 'unix': received 'tls' (the header comes before the TLS handshake: terminate TLS at the proxy)`,
    );
  }
  const timeout = validateMilliseconds(
    ACTION,
    "proxyHeaderTimeoutMs",
    input.proxyHeaderTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    { min: 1 },
  );
  let trusted: readonly string[] | undefined;
  if (input.trustedProxies !== undefined) {
    const list: unknown = input.trustedProxies;
    const rule = `an array of IP addresses or CIDR ranges such as "10.0.0.0/8"`;
    if (!Array.isArray(list)) {
      throw invalidOption(TypeError, ACTION, "trustedProxies", rule, list);
    }
    for (const entry of list) {
      if (typeof entry !== "string" || parseCidr(entry) === undefined) {
        throw invalidOption(
          typeof entry === "string" ? RangeError : TypeError,
          ACTION,
          "trustedProxies",
          rule,
          entry,
        );
      }
    }
    trusted = Object.freeze([...list]);
  }
  const health = input.healthPort === undefined
    ? undefined
    : validatePort(ACTION, "healthPort", input.healthPort);
  return {
    proxyProtocol: mode,
    proxyHeaderTimeoutMs: timeout,
    trustedProxies: trusted,
    healthPort: health,
  };
}

/** The table's settings from validated options; undefined when PROXY is off. */
export function proxySettings(
  options: ProxyOptions,
): ProxySettings | undefined {
  if (options.proxyProtocol === undefined) return undefined;
  return {
    mode: options.proxyProtocol,
    timeoutMs: options.proxyHeaderTimeoutMs,
    trusted: options.trustedProxies?.map((entry) => parseCidr(entry)!),
  };
}

/** A connection served without a header. */
export const DIRECT: ProxyInfo = Object.freeze({
  header: undefined,
  addressesFromHeader: false,
});

/** What a server knows of a connection that sent `header`. */
export function proxyInfoOf(header: ProxyHeader): ProxyInfo {
  return { header, addressesFromHeader: header.source !== null };
}

/** What a handshake step decided. */
export type HandshakeStep =
  /** Keep waiting for header bytes. */
  | { kind: "wait" }
  /** Open the connection: deliver `held`, then `rest` of the current chunk. */
  | {
    kind: "open";
    info: ProxyInfo;
    held: Uint8Array | undefined;
    rest: Uint8Array | undefined;
  }
  /** Close the connection as `"bad proxy header"`. */
  | { kind: "fail"; error: ProxyHeaderError }
  /** The peer left without sending a byte (a proxy's TCP check): close quietly. */
  | { kind: "quiet" };

const WAIT: HandshakeStep = Object.freeze({ kind: "wait" });

/**
 * Whether a peer may send a header: any peer without `trustedProxies`, a
 * Unix socket peer, or an IP peer in the list.
 */
export function isTrustedPeer(
  settings: ProxySettings,
  remoteAddr: Deno.Addr,
): boolean {
  return settings.trusted === undefined ||
    remoteAddr.transport === "unix" ||
    ((remoteAddr.transport === "tcp" || remoteAddr.transport === "udp") &&
      matchesCidr(remoteAddr.hostname, settings.trusted));
}

/**
 * One connection's PROXY handshake, for the connections whose header does
 * not come whole in their first chunk (the server parses those in place,
 * without one) and for untrusted peers. Untrusted peers: in mode
 * `"optional"` they are served as direct clients, and one that sends a
 * header anyway is refused (it would be spoofing); in the other modes they
 * are refused at once (see {@linkcode untrustedPeer}).
 */
export class ProxyHandshake {
  readonly #parser: ProxyHeaderParser;
  readonly #timeoutMs: number;
  readonly #trusted: boolean;

  constructor(settings: ProxySettings, trusted: boolean) {
    this.#parser = new ProxyHeaderParser({ mode: settings.mode });
    this.#timeoutMs = settings.timeoutMs;
    this.#trusted = trusted;
  }

  /** Bytes arrived. */
  data(chunk: Uint8Array, conn: Deno.Conn): HandshakeStep {
    let result: ProxyParseResult;
    try {
      result = this.#parser.push(chunk);
    } catch (error) {
      return { kind: "fail", error: error as ProxyHeaderError };
    }
    if (result.status === "need-more") return WAIT;
    if (result.status === "absent") {
      return {
        kind: "open",
        info: DIRECT,
        held: result.held.length > 0 ? result.held : undefined,
        rest: chunk,
      };
    }
    if (!this.#trusted) {
      return { kind: "fail", error: untrustedPeer(conn.remoteAddr, true) };
    }
    return {
      kind: "open",
      info: proxyInfoOf(result.header),
      held: undefined,
      rest: result.consumed < chunk.length
        ? chunk.subarray(result.consumed)
        : undefined,
    };
  }

  /** The peer closed (or reset) before the header completed. */
  ended(): HandshakeStep {
    if (this.#parser.bufferedBytes === 0 && this.#parser.mode !== "optional") {
      return { kind: "quiet" };
    }
    return this.#giveUp();
  }

  /** `proxyHeaderTimeoutMs` passed. */
  timedOut(): HandshakeStep {
    const timeoutMs = this.#timeoutMs;
    const step = this.#giveUp();
    if (step.kind === "fail" && step.error.code === "truncated") {
      return {
        kind: "fail",
        error: new ProxyHeaderError(
          "timed-out",
          `Cannot read PROXY header as it did not complete within ${timeoutMs} ms: received ${this.#parser.bufferedBytes} bytes`,
        ),
      };
    }
    return step;
  }

  #giveUp(): HandshakeStep {
    try {
      const result = this.#parser.end();
      // Only "absent" comes back (mode "optional", a signature prefix at most).
      const held = (result as { held: Uint8Array }).held;
      return {
        kind: "open",
        info: DIRECT,
        held: held.length > 0 ? held : undefined,
        rest: undefined,
      };
    } catch (error) {
      return { kind: "fail", error: error as ProxyHeaderError };
    }
  }
}

/** The error refusing an untrusted peer (`sent`: it sent a header). */
export function untrustedPeer(
  remoteAddr: Deno.Addr,
  sent: boolean,
): ProxyHeaderError {
  const peer = "hostname" in remoteAddr
    ? remoteAddr.hostname
    : remoteAddr.transport;
  return new ProxyHeaderError(
    "untrusted",
    `Cannot accept ${
      sent ? "PROXY header" : "connection"
    } as the peer is not in 'trustedProxies': received '${peer}'`,
  );
}

/**
 * The header deadlines of a server's pending handshakes, by connection id.
 * Every handshake gets the same timeout, so deadlines come in accept order:
 * a FIFO checked by one loop timer replaces a timer per connection. The
 * clock is coarse: a tick every 1/16 of the timeout while handshakes are
 * pending, counted in an integer, so starting a handshake reads no clock
 * and arms no timer, and finishing one does nothing here (all were
 * measurable in connection churn): each tick drops the finished ones from
 * the front and expires the late ones. A header therefore times out after
 * at least `timeoutMs` and at most about 1.125 times it.
 *
 * The FIFO holds ids, not connections, in a ring that grows only while more
 * handshakes are queued than ever before, so it keeps no closed connection
 * reachable. (The young-generation slowdown once blamed on this tick, 0.3-1
 * MB promoted per scavenge, came from the churned `Map`s of connections and
 * showed in plain servers too: see `_internal/int_map.ts`.)
 */
export class HandshakeDeadlines {
  readonly #tickMs: number;
  /** Ticks that span the timeout. */
  readonly #ticks: number;
  readonly #addTimer: (delayMs: number, callback: () => void) => void;
  readonly #pending: (id: number) => boolean;
  readonly #expire: (id: number) => void;
  #ids: number[] = new Array(MIN_RING).fill(0);
  /** The tick count when each id was added. */
  #stamps: number[] = new Array(MIN_RING).fill(0);
  #mask = MIN_RING - 1;
  #head = 0;
  #size = 0;
  #now = 0;
  #armed = false;

  constructor(
    timeoutMs: number,
    addTimer: (delayMs: number, callback: () => void) => void,
    pending: (id: number) => boolean,
    expire: (id: number) => void,
  ) {
    this.#tickMs = Math.max(1, Math.floor(timeoutMs / 16));
    this.#ticks = Math.ceil(timeoutMs / this.#tickMs);
    this.#addTimer = addTimer;
    this.#pending = pending;
    this.#expire = expire;
  }

  /** Ids in the FIFO, finished handshakes not yet dropped included. */
  get size(): number {
    return this.#size;
  }

  /** Starts the clock of a new handshake. */
  add(id: number): void {
    if (this.#size > this.#mask) this.#resize((this.#mask + 1) * 2);
    const at = (this.#head + this.#size++) & this.#mask;
    this.#ids[at] = id;
    this.#stamps[at] = this.#now;
    if (!this.#armed) this.#arm();
  }

  /** Copies the ring into a new one of `capacity` (a power of two). */
  #resize(capacity: number): void {
    const ids: number[] = new Array(capacity).fill(0);
    const stamps: number[] = new Array(capacity).fill(0);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) & this.#mask;
      ids[i] = this.#ids[from]!;
      stamps[i] = this.#stamps[from]!;
    }
    this.#ids = ids;
    this.#stamps = stamps;
    this.#mask = capacity - 1;
    this.#head = 0;
  }

  #arm(): void {
    this.#armed = true;
    this.#addTimer(this.#tickMs, this.#tick);
  }

  #tick = (): void => {
    this.#armed = false;
    // An id stamped s was added before tick s + 1 fired, and ticks are at
    // least #tickMs apart: at tick s + 1 + #ticks its timeout has passed.
    const last = ++this.#now - 1 - this.#ticks;
    while (this.#size > 0) {
      const id = this.#ids[this.#head]!;
      const late = this.#stamps[this.#head]! <= last;
      if (!late && this.#pending(id)) break;
      // Dropped first: expiring may start other handshakes (never this one).
      this.#head = (this.#head + 1) & this.#mask;
      this.#size--;
      if (late && this.#pending(id)) this.#expire(id);
    }
    // A ring grown by a burst (or a slow-header flood) shrinks once empty.
    if (this.#size === 0 && this.#mask >= 4 * MIN_RING) {
      this.#resize(MIN_RING);
    }
    // Nothing queued: the clock stops until the next handshake.
    if (this.#size > 0) this.#arm();
  };
}

const MIN_RING = 16;
