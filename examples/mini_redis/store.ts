// The keyspace and command table of examples/mini_redis/main.ts: PING, ECHO, SET
// (EX/PX/NX/XX/KEEPTTL), GET, DEL, EXISTS, INCR, EXPIRE, TTL, PTTL, plus
// CONFIG GET / COMMAND stubs that redis-benchmark and redis-cli ask for.
// Replies and error texts follow redis-server 7.

import { parseInteger, type RespWriter } from "./resp.ts";

interface Entry {
  /** The bytes; undefined while the value is integer-encoded in `num`. */
  value: Uint8Array | undefined;
  /** The value of an integer-encoded entry (a safe integer), as redis's OBJ_ENCODING_INT. */
  num: number;
  /** Expiry time in ms since the epoch; 0 = none. */
  expiresAt: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// Keys are binary-safe: each byte maps to one UTF-16 code unit. One
// fromCharCode call builds a flat string; concatenating char by char builds
// a cons string that Map's hashing then has to flatten (measured ~1.5×).
function keyOf(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 16) {
    // Sixteen explicit arguments beat apply() (measured ~1.5×); a read past
    // the end is undefined, which becomes "\0" and is sliced off.
    const b = bytes;
    const s = String.fromCharCode(
      b[0]!,
      b[1]!,
      b[2]!,
      b[3]!,
      b[4]!,
      b[5]!,
      b[6]!,
      b[7]!,
      b[8]!,
      b[9]!,
      b[10]!,
      b[11]!,
      b[12]!,
      b[13]!,
      b[14]!,
      b[15]!,
    );
    return n === 16 ? s : s.slice(0, n);
  }
  if (n <= 4096) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + 4096) as unknown as number[],
    );
  }
  return s;
}

function lower(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length && i < 32; i++) {
    const c = bytes[i]!;
    s += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return bytes.length > 32 ? s + "\u0000" : s; // never a command name
}

const COMMANDS = [
  "ping",
  "echo",
  "get",
  "set",
  "del",
  "unlink",
  "exists",
  "incr",
  "decr",
  "incrby",
  "decrby",
  "expire",
  "pexpire",
  "ttl",
  "pttl",
  "config",
  "command",
  "quit",
];

// The lower-case name of a known command without building a string per
// call (the hot path); anything else goes through lower(). GET, SET and
// INCR are matched first by length and bytes.
function commandName(b: Uint8Array): string {
  const n = b.length;
  if (n === 3) {
    const c0 = b[0]! | 0x20, c1 = b[1]! | 0x20, c2 = b[2]! | 0x20;
    if (c1 === 101 /* e */ && c2 === 116 /* t */) {
      if (c0 === 103 /* g */) return "get";
      if (c0 === 115 /* s */) return "set";
    }
  } else if (
    n === 4 && (b[0]! | 0x20) === 105 /* i */ &&
    (b[1]! | 0x20) === 110 /* n */ && (b[2]! | 0x20) === 99 /* c */ &&
    (b[3]! | 0x20) === 114 /* r */
  ) return "incr";
  outer: for (const name of COMMANDS) {
    if (name.length !== n) continue;
    for (let i = 0; i < n; i++) {
      if ((b[i]! | 0x20) !== name.charCodeAt(i)) continue outer;
    }
    return name;
  }
  return lower(b);
}

const INT_RE = /^(0|-?[1-9][0-9]*)$/;
const MAX = 9223372036854775807n, MIN = -9223372036854775808n;

// A 64-bit signed integer as redis's string2ll accepts it, else undefined.
function parseInt64(bytes: Uint8Array): bigint | undefined {
  if (bytes.length === 0 || bytes.length > 20) return undefined;
  const s = decoder.decode(bytes);
  if (!INT_RE.test(s)) return undefined;
  const n = BigInt(s);
  return n > MAX || n < MIN ? undefined : n;
}

const NOT_INT = "ERR value is not an integer or out of range";
const SYNTAX = "ERR syntax error";

// CONFIG GET answers: a Map, so `constructor` or `__proto__` is unknown.
const CONFIG = new Map([["save", ""], ["appendonly", "no"]]);

// An expiry of `n` seconds (or ms) from `now` in ms since the epoch, or
// undefined when it is out of range as redis-server sees it (the product
// overflows, or the time would not fit a signed 64-bit integer).
function expiryTime(
  n: bigint,
  seconds: boolean,
  now: number,
): number | undefined {
  if (seconds && (n > MAX / 1000n || n < MIN / 1000n)) return undefined;
  const ms = seconds ? n * 1000n : n;
  const base = BigInt(Math.floor(now));
  if (ms > MAX - base) return undefined;
  return Number(ms + base);
}

// Writes the arity error unless `ok` (a function, not a closure per command).
function arity(w: RespWriter, name: string, ok: boolean): boolean {
  if (!ok) w.error(`ERR wrong number of arguments for '${name}' command`);
  return ok;
}

/** What the connection should do after a command. */
export type After = "continue" | "close";

/** Options of {@linkcode MiniRedisStore}. */
export interface MiniRedisStoreOptions {
  /** The clock (ms since the epoch). @default {Date.now} */
  now?: () => number;
}

/** An in-memory keyspace answering RESP commands into a {@linkcode RespWriter}. */
export class MiniRedisStore {
  readonly #data = new Map<string, Entry>();
  readonly #now: () => number;
  #sweep: IterableIterator<[string, Entry]> | undefined;

  constructor(options: MiniRedisStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Number of keys (expired ones not yet swept included). */
  get size(): number {
    return this.#data.size;
  }

  #get(key: string): Entry | undefined {
    const e = this.#data.get(key);
    if (e && e.expiresAt !== 0 && e.expiresAt <= this.#now()) {
      this.#data.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Active expiry: checks up to `budget` keys (resuming where the last call
   * stopped) and deletes the expired ones. Returns how many were deleted.
   */
  sweep(budget = 200): number {
    const now = this.#now();
    let deleted = 0;
    for (let i = 0; i < budget; i++) {
      this.#sweep ??= this.#data.entries();
      const r = this.#sweep.next();
      if (r.done) {
        this.#sweep = undefined;
        break;
      }
      const [k, e] = r.value;
      if (e.expiresAt !== 0 && e.expiresAt <= now) {
        this.#data.delete(k);
        deleted++;
      }
    }
    return deleted;
  }

  /** Runs one command, writing its reply. */
  execute(args: Uint8Array[], w: RespWriter): After {
    const name = commandName(args[0]!);
    const argc = args.length;
    switch (name) {
      case "ping":
        if (!arity(w, name, argc <= 2)) break;
        if (argc === 1) w.pong();
        else w.bulk(args[1]!);
        break;
      case "echo":
        if (arity(w, name, argc === 2)) w.bulk(args[1]!);
        break;
      case "get": {
        if (!arity(w, name, argc === 2)) break;
        const e = this.#get(keyOf(args[1]!));
        w.bulk(e ? valueOf(e) : null);
        break;
      }
      case "set":
        if (arity(w, name, argc >= 3)) this.#set(args, w);
        break;
      case "del":
      case "unlink": {
        if (!arity(w, name, argc >= 2)) break;
        let n = 0;
        for (let i = 1; i < argc; i++) {
          const k = keyOf(args[i]!);
          if (this.#get(k)) {
            this.#data.delete(k);
            n++;
          }
        }
        w.integer(n);
        break;
      }
      case "exists": {
        if (!arity(w, name, argc >= 2)) break;
        let n = 0;
        for (let i = 1; i < argc; i++) if (this.#get(keyOf(args[i]!))) n++;
        w.integer(n);
        break;
      }
      case "incr":
      case "decr":
        if (arity(w, name, argc === 2)) {
          this.#incrBy(args[1]!, name === "incr" ? 1 : -1, w);
        }
        break;
      case "incrby":
      case "decrby": {
        if (!arity(w, name, argc === 3)) break;
        const by = parseInt64(args[2]!);
        if (by === undefined) w.error(NOT_INT);
        else this.#incrBy(args[1]!, name === "incrby" ? by : -by, w);
        break;
      }
      case "expire":
      case "pexpire": {
        if (!arity(w, name, argc === 3)) break;
        const t = parseInt64(args[2]!);
        if (t === undefined) {
          w.error(NOT_INT);
          break;
        }
        const key = keyOf(args[1]!);
        const e = this.#get(key);
        if (!e) {
          w.integer(0);
          break;
        }
        const now = this.#now();
        const at = expiryTime(t, name === "expire", now);
        if (at === undefined) {
          w.error(`ERR invalid expire time in '${name}' command`);
          break;
        }
        if (at <= now) this.#data.delete(key); // an expiry in the past deletes
        else e.expiresAt = at;
        w.integer(1);
        break;
      }
      case "ttl":
      case "pttl": {
        if (!arity(w, name, argc === 2)) break;
        const e = this.#get(keyOf(args[1]!));
        if (!e) w.integer(-2);
        else if (e.expiresAt === 0) w.integer(-1);
        else {
          const ms = Math.max(0, e.expiresAt - this.#now());
          w.integer(name === "pttl" ? ms : Math.floor((ms + 500) / 1000));
        }
        break;
      }
      case "config": {
        // redis-benchmark asks `CONFIG GET save` and `CONFIG GET appendonly`.
        if (!arity(w, name, argc >= 2)) break;
        const sub = lower(args[1]!);
        if (sub !== "get" || argc !== 3) {
          w.error(
            `ERR unknown subcommand or wrong number of arguments for 'config|${sub}'`,
          );
          break;
        }
        const param = lower(args[2]!);
        const value = CONFIG.get(param);
        if (value !== undefined) {
          w.array(2);
          w.bulk(encoder.encode(param));
          w.bulk(encoder.encode(value));
        } else w.array(0);
        break;
      }
      case "command":
        w.array(0);
        break;
      case "quit":
        w.ok();
        return "close";
      default:
        w.error(unknownCommand(args));
    }
    return "continue";
  }

  #set(args: Uint8Array[], w: RespWriter): void {
    let nx = false, xx = false, keepTtl = false, expireAt = 0;
    for (let i = 3; i < args.length; i++) {
      const opt = lower(args[i]!);
      if (opt === "nx" && !xx) nx = true;
      else if (opt === "xx" && !nx) xx = true;
      else if (opt === "keepttl" && expireAt === 0) keepTtl = true;
      else if ((opt === "ex" || opt === "px") && expireAt === 0 && !keepTtl) {
        const v = args[++i];
        if (v === undefined) {
          w.error(SYNTAX);
          return;
        }
        const n = parseInt64(v);
        if (n === undefined) {
          w.error(NOT_INT);
          return;
        }
        const t = n > 0n ? expiryTime(n, opt === "ex", this.#now()) : undefined;
        if (t === undefined) {
          w.error("ERR invalid expire time in 'set' command");
          return;
        }
        expireAt = t;
      } else {
        w.error(SYNTAX);
        return;
      }
    }
    const key = keyOf(args[1]!);
    const old = this.#get(key);
    if ((nx && old) || (xx && !old)) {
      w.bulk(null);
      return;
    }
    const expiresAt = expireAt > 0
      ? expireAt
      : keepTtl && old
      ? old.expiresAt
      : 0;
    // The argument is a view into the read buffer: keep a copy.
    const arg = args[2]!;
    if (old) {
      // Same size: overwrite in place, no allocation (replies are copied
      // out when written, so no earlier reply still refers to these bytes).
      const cur = old.value;
      if (cur !== undefined && cur.length === arg.length) cur.set(arg);
      else old.value = arg.slice();
      old.num = 0;
      old.expiresAt = expiresAt;
    } else this.#data.set(key, { value: arg.slice(), num: 0, expiresAt });
    w.ok();
  }

  #incrBy(keyBytes: Uint8Array, by: number | bigint, w: RespWriter): void {
    const key = keyOf(keyBytes);
    const e = this.#get(key);
    // The hot path: a stored value of up to 15 characters fits a double.
    const cur = !e
      ? 0
      : e.value === undefined
      ? e.num
      : parseInteger(e.value, 0, e.value.length);
    if (!Number.isNaN(cur) && typeof by === "number") {
      const next = cur + by;
      if (Number.isSafeInteger(next)) {
        // Integer-encoded: no string or byte array per INCR.
        if (e) {
          e.value = undefined;
          e.num = next;
        } else {this.#data.set(key, {
            value: undefined,
            num: next,
            expiresAt: 0,
          });}
        w.integer(next);
        return;
      }
    }
    const big = Number.isNaN(cur) ? parseInt64(e!.value!) : BigInt(cur);
    if (big === undefined) {
      w.error(NOT_INT);
      return;
    }
    const next = big + BigInt(by);
    if (next > MAX || next < MIN) {
      w.error("ERR increment or decrement would overflow");
      return;
    }
    const value = ascii(String(next));
    if (e) e.value = value;
    else this.#data.set(key, { value, num: 0, expiresAt: 0 });
    w.integer(next);
  }
}

function ascii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// The bytes of an entry, materialising an integer-encoded one.
function valueOf(e: Entry): Uint8Array {
  return e.value ??= ascii(String(e.num));
}

// redis 7: "unknown command 'foo', with args beginning with: 'a' 'b' "
function unknownCommand(args: Uint8Array[]): string {
  const clean = (b: Uint8Array, max: number) =>
    decoder.decode(b.subarray(0, max)).replace(/[\r\n]/g, " ");
  let rest = "";
  for (let i = 1; i < args.length && rest.length < 128; i++) {
    rest += `'${clean(args[i]!, 128 - rest.length)}' `;
  }
  return `ERR unknown command '${
    clean(args[0]!, 128)
  }', with args beginning with: ${rest}`;
}
