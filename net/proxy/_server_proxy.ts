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
import type { ProxyProtocolMode } from "./proxy_header.ts";
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
 * One connection's PROXY handshake. Untrusted peers: in mode `"optional"`
 * they are served as direct clients, and one that sends a header anyway is
 * refused (it would be spoofing); in the other modes they are refused at
 * once.
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

  /**
   * Starts a handshake for a peer, or returns the error refusing it (an
   * untrusted peer where a header is required).
   */
  static begin(
    settings: ProxySettings,
    remoteAddr: Deno.Addr,
  ): ProxyHandshake | ProxyHeaderError {
    const trusted = settings.trusted === undefined ||
      remoteAddr.transport === "unix" ||
      ((remoteAddr.transport === "tcp" || remoteAddr.transport === "udp") &&
        matchesCidr(remoteAddr.hostname, settings.trusted));
    if (!trusted && settings.mode !== "optional") {
      return untrusted(remoteAddr, false);
    }
    return new ProxyHandshake(settings, trusted);
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
      return { kind: "fail", error: untrusted(conn.remoteAddr, true) };
    }
    const header = result.header;
    return {
      kind: "open",
      info: { header, addressesFromHeader: header.source !== null },
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

function untrusted(remoteAddr: Deno.Addr, sent: boolean): ProxyHeaderError {
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
 * The header deadlines of a server's pending handshakes. Every handshake
 * gets the same timeout, so deadlines come in accept order: a FIFO with one
 * loop timer for the oldest replaces a timer per connection (creating and
 * cancelling one per connection was measurable in connection churn).
 * Handshakes that finished are dropped lazily from the front.
 */
export class HandshakeDeadlines<R> {
  readonly #timeoutMs: number;
  readonly #addTimer: (delayMs: number, callback: () => void) => void;
  readonly #pending: (record: R) => boolean;
  readonly #expire: (record: R) => void;
  #records: (R | undefined)[] = [];
  #deadlines: number[] = [];
  #head = 0;
  #armed = false;

  constructor(
    timeoutMs: number,
    addTimer: (delayMs: number, callback: () => void) => void,
    pending: (record: R) => boolean,
    expire: (record: R) => void,
  ) {
    this.#timeoutMs = timeoutMs;
    this.#addTimer = addTimer;
    this.#pending = pending;
    this.#expire = expire;
  }

  /** Starts the clock of a new handshake. */
  add(record: R): void {
    this.#records.push(record);
    this.#deadlines.push(performance.now() + this.#timeoutMs);
    if (!this.#armed) this.#arm(this.#timeoutMs);
  }

  /** Drops finished handshakes from the front (call after one finishes). */
  trim(): void {
    const records = this.#records;
    while (this.#head < records.length) {
      const record = records[this.#head]!;
      if (this.#pending(record)) break;
      records[this.#head++] = undefined;
    }
    if (this.#head === records.length) {
      this.#records = [];
      this.#deadlines = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > records.length) {
      this.#records = records.slice(this.#head);
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(delayMs: number): void {
    this.#armed = true;
    this.#addTimer(Math.max(1, delayMs), this.#fire);
  }

  #fire = (): void => {
    this.#armed = false;
    const now = performance.now();
    while (true) {
      this.trim(); // finished handshakes leave the front
      if (this.#head >= this.#records.length) return;
      const deadline = this.#deadlines[this.#head]!;
      if (deadline > now) {
        this.#arm(deadline - now);
        return;
      }
      const record = this.#records[this.#head]!;
      this.#expire(record); // closes it, so the next trim() drops it
      if (this.#records[this.#head] === record && this.#pending(record)) {
        this.#records[this.#head++] = undefined; // never loop on one record
      }
    }
  };
}
