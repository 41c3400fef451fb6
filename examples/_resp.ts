// RESP2 for examples/mini_redis.ts: an incremental request parser (multibulk
// frames and inline commands, pipelining) and a reply writer. Private to the
// example. Error texts follow redis-server's, so real clients behave the same.

/** Limits of {@linkcode RespParser}. */
export interface RespLimits {
  /** Largest bulk string (`$N`) accepted. @default {1048576} */
  maxBulkLength?: number;
  /** Most arguments in one multibulk frame (`*N`). @default {65536} */
  maxArgs?: number;
  /** Longest inline command line. @default {65536} */
  maxInlineLength?: number;
}

const CR = 13, LF = 10;

/** A protocol error: reply `-ERR Protocol error: ...`, then close. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`Protocol error: ${message}`);
    this.name = "RespProtocolError";
  }
}

function findCrlf(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (b[i] === CR && b[i + 1] === LF) return i;
  }
  return -1;
}

function findLf(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (b[i] === LF) return i;
  return -1;
}

// Parses a signed decimal integer in b[start..end]; NaN when not one.
function parseInteger(b: Uint8Array, start: number, end: number): number {
  if (start >= end || end - start > 18) return NaN;
  let i = start, neg = false;
  if (b[i] === 45 /* - */) {
    neg = true;
    i++;
    if (i === end) return NaN;
  }
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

const HEX: Record<string, number> = {};
for (let i = 0; i < 16; i++) {
  HEX[i.toString(16)] = i;
  HEX[i.toString(16).toUpperCase()] = i;
}

/**
 * Splits an inline command line the way redis's `sdssplitargs` does:
 * whitespace-separated, `"..."` with `\n \r \t \b \a \\ \" \xHH` escapes,
 * `'...'` with `\'`. Returns undefined on unbalanced quotes.
 */
export function splitInline(line: Uint8Array): Uint8Array[] | undefined {
  const args: Uint8Array[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: number | undefined) =>
    c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
  if (!line.includes(34) && !line.includes(39)) {
    // No quotes (the common case): views, no copies.
    while (i < n) {
      while (i < n && isSpace(line[i])) i++;
      const start = i;
      while (i < n && !isSpace(line[i])) i++;
      if (i > start) args.push(line.subarray(start, i));
    }
    return args;
  }
  while (true) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return args;
    const cur: number[] = [];
    let inDq = false, inSq = false, done = false;
    while (!done) {
      const c = line[i];
      if (inDq) {
        if (c === undefined) return undefined;
        if (
          c === 92 && line[i + 1] === 120 /* x */ && i + 3 < n &&
          HEX[String.fromCharCode(line[i + 2]!)] !== undefined &&
          HEX[String.fromCharCode(line[i + 3]!)] !== undefined
        ) {
          cur.push(
            HEX[String.fromCharCode(line[i + 2]!)]! * 16 +
              HEX[String.fromCharCode(line[i + 3]!)]!,
          );
          i += 3;
        } else if (c === 92 && i + 1 < n) {
          i++;
          const e = line[i]!;
          cur.push(
            e === 110
              ? 10
              : e === 114
              ? 13
              : e === 116
              ? 9
              : e === 98
              ? 8
              : e === 97
              ? 7
              : e,
          );
        } else if (c === 34) {
          // a closing quote must be followed by a space or the end
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          done = true;
        } else cur.push(c);
      } else if (inSq) {
        if (c === undefined) return undefined;
        if (c === 92 && line[i + 1] === 39) {
          i++;
          cur.push(39);
        } else if (c === 39) {
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          done = true;
        } else cur.push(c);
      } else {
        if (c === undefined || isSpace(c)) done = true;
        else if (c === 34) inDq = true;
        else if (c === 39) inSq = true;
        else cur.push(c);
      }
      if (i < n) i++;
    }
    args.push(Uint8Array.from(cur));
  }
}

/**
 * Incremental RESP2 request parser. `push()` bytes as they arrive; every
 * complete command goes to `onCommand` as its arguments (views valid only
 * during the call). Returns a {@linkcode RespProtocolError} when the input
 * is malformed; the parser then accepts nothing more.
 */
export class RespParser {
  readonly #maxBulk: number;
  readonly #maxArgs: number;
  readonly #maxInline: number;
  #buf = new Uint8Array(0);
  #len = 0;
  #error: RespProtocolError | undefined;
  #stopped = false;
  #args: Uint8Array[] = [];

  constructor(limits: RespLimits = {}) {
    this.#maxBulk = limits.maxBulkLength ?? 1048576;
    this.#maxArgs = limits.maxArgs ?? 65536;
    this.#maxInline = limits.maxInlineLength ?? 65536;
  }

  /** Bytes held for an incomplete command. */
  get bufferedBytes(): number {
    return this.#len;
  }

  /** Stops parsing (after QUIT): later bytes are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#len = 0;
  }

  /**
   * Parses `data` (the caller may reuse it after this returns); `onCommand`
   * may return `false` to stop.
   */
  push(
    data: Uint8Array,
    onCommand: (args: Uint8Array[]) => boolean | void,
  ): RespProtocolError | undefined {
    if (this.#error) return this.#error;
    if (this.#stopped) return undefined;
    let b: Uint8Array, end: number;
    if (this.#len === 0) {
      b = data;
      end = data.length;
    } else {
      this.#append(data);
      b = this.#buf;
      end = this.#len;
    }
    let pos = 0;
    const args = this.#args;
    while (pos < end) {
      args.length = 0;
      const next = b[pos] === 42 /* * */
        ? this.#multibulk(b, pos, end, args)
        : this.#inline(b, pos, end, args);
      if (next === -1) break; // incomplete
      if (next === -2) return this.#error;
      pos = next;
      if (args.length > 0 && onCommand(args) === false) {
        this.stop();
        return undefined;
      }
      if (this.#stopped) return undefined;
    }
    args.length = 0;
    if (pos === end) this.#len = 0;
    else if (b === this.#buf) {
      this.#buf.copyWithin(0, pos, end);
      this.#len = end - pos;
    } else {
      this.#len = 0;
      this.#append(b.subarray(pos, end));
    }
    return undefined;
  }

  #fail(message: string): number {
    this.#error = new RespProtocolError(message);
    this.#len = 0;
    this.#buf = new Uint8Array(0);
    return -2;
  }

  // Returns the position after the frame, -1 if incomplete, -2 on error.
  #multibulk(
    b: Uint8Array,
    pos: number,
    end: number,
    args: Uint8Array[],
  ): number {
    let eol = findCrlf(b, pos, end);
    if (eol < 0) {
      return end - pos > 1024 ? this.#fail("too big mbulk count string") : -1;
    }
    const count = parseInteger(b, pos + 1, eol);
    if (Number.isNaN(count) || count > this.#maxArgs) {
      return this.#fail("invalid multibulk length");
    }
    let p = eol + 2;
    for (let i = 0; i < count; i++) {
      if (p >= end) return -1;
      if (b[p] !== 36 /* $ */) {
        return this.#fail(`expected '$', got '${String.fromCharCode(b[p]!)}'`);
      }
      eol = findCrlf(b, p, end);
      if (eol < 0) {
        return end - p > 1024 ? this.#fail("too big bulk count string") : -1;
      }
      const len = parseInteger(b, p + 1, eol);
      if (Number.isNaN(len) || len < 0 || len > this.#maxBulk) {
        return this.#fail("invalid bulk length");
      }
      p = eol + 2;
      if (end - p < len + 2) return -1;
      if (b[p + len] !== CR || b[p + len + 1] !== LF) {
        return this.#fail("expected CRLF after bulk string");
      }
      args.push(b.subarray(p, p + len));
      p += len + 2;
    }
    return p;
  }

  #inline(b: Uint8Array, pos: number, end: number, args: Uint8Array[]): number {
    const eol = findLf(b, pos, end);
    if (eol < 0) {
      return end - pos > this.#maxInline
        ? this.#fail("too big inline request")
        : -1;
    }
    if (eol - pos > this.#maxInline) {
      return this.#fail("too big inline request");
    }
    const lineEnd = eol > pos && b[eol - 1] === CR ? eol - 1 : eol;
    const split = splitInline(b.subarray(pos, lineEnd));
    if (!split) return this.#fail("unbalanced quotes in request");
    for (const a of split) args.push(a);
    return eol + 1;
  }

  #append(data: Uint8Array): void {
    const need = this.#len + data.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 1024));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(data, this.#len);
    this.#len = need;
  }
}

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const OK = encoder.encode("+OK\r\n");
const PONG = encoder.encode("+PONG\r\n");
const NIL = encoder.encode("$-1\r\n");
const ZERO = encoder.encode(":0\r\n");
const ONE = encoder.encode(":1\r\n");

/** Accumulates RESP2 replies into one growable buffer. */
export class RespWriter {
  #buf = new Uint8Array(16384);
  #len = 0;

  /** The replies written since the last `reset()` (a view, valid until then). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Forgets the replies (keeps the buffer). */
  reset(): void {
    this.#len = 0;
  }

  /** Raw bytes. */
  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #ascii(s: string): void {
    this.#ensure(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#len++] = s.charCodeAt(i);
  }

  /** `+OK`. */
  ok(): void {
    this.raw(OK);
  }
  /** `+PONG`. */
  pong(): void {
    this.raw(PONG);
  }
  /** A simple string (no CR/LF inside). */
  simple(s: string): void {
    this.#ascii(`+${s}\r\n`);
  }
  /** An error reply, e.g. `ERR syntax error` (CR/LF replaced by spaces). */
  error(s: string): void {
    this.raw(encoder.encode(`-${s.replace(/[\r\n]/g, " ")}\r\n`));
  }
  /** An integer reply. */
  integer(n: number | bigint): void {
    if (n === 0) this.raw(ZERO);
    else if (n === 1) this.raw(ONE);
    else if (typeof n === "number" && Number.isSafeInteger(n)) {
      // Digits written in place: no string per reply.
      this.#ensure(20);
      const b = this.#buf;
      b[this.#len++] = 58; // :
      if (n < 0) {
        b[this.#len++] = 45; // -
        n = -n;
      }
      let digits = 1;
      for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
      for (let i = this.#len + digits - 1; i >= this.#len; i--) {
        b[i] = 48 + (n % 10);
        n = Math.floor(n / 10);
      }
      this.#len += digits;
      b[this.#len++] = 13;
      b[this.#len++] = 10;
    } else this.#ascii(`:${n}\r\n`);
  }
  /** A bulk string, or the null bulk for null. */
  bulk(bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.raw(NIL);
      return;
    }
    this.#ascii(`$${bytes.length}\r\n`);
    this.raw(bytes);
    this.raw(CRLF);
  }
  /** The header of an array of `n` elements. */
  array(n: number): void {
    this.#ascii(`*${n}\r\n`);
  }

  #ensure(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return;
    const grown = new Uint8Array(
      Math.max(this.#buf.length * 2, this.#len + extra),
    );
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}
