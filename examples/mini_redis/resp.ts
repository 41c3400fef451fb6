// RESP2 for examples/mini_redis/main.ts: an incremental request parser (multibulk
// frames and inline commands, pipelining) and a reply writer. Private to the
// example. Error texts follow redis-server's, so real clients behave the same.

import { withCapacity } from "../_bytes.ts";

/** Limits of {@linkcode RespParser}. */
export interface RespLimits {
  /** Largest bulk string (`$N`) accepted. @default {1048576} */
  maxBulkLength?: number;
  /** Most arguments in one multibulk frame (`*N`). @default {65536} */
  maxArgs?: number;
  /** Longest inline command line. @default {65536} */
  maxInlineLength?: number;
  /**
   * Most bytes held for one unfinished command (redis's
   * client-query-buffer-limit). @default {maxBulkLength + 4 MiB}
   */
  maxQueryBuffer?: number;
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

// The separators of an inline command (isspace() in redis's sdssplitargs).
function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

function findLf(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (b[i] === LF) return i;
  return -1;
}

/**
 * The integer in `b[start..end)` as redis's `string2ll` accepts it (`0`, or
 * an optional `-`, a digit 1-9, then digits: no `+`, leading zero or `-0`),
 * when it has at most 15 characters, which a double holds exactly; else NaN.
 * The protocol's counts and INCR's stored values both parse with it.
 */
export function parseInteger(
  b: Uint8Array,
  start: number,
  end: number,
): number {
  const len = end - start;
  if (len <= 0 || len > 15) return NaN;
  let i = start, neg = false;
  if (b[i] === 45 /* - */) {
    neg = true;
    i++;
  }
  // A digit 1-9 first, unless the whole number is "0".
  if (i === end || (b[i] === 48 /* 0 */ && (neg || len > 1))) return NaN;
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

// Where the last successful simpleCount() stopped (after its CRLF).
let scanned = 0;

// The common form of a count, 1 to 9 digits and CRLF at b[from..]: its
// value (and `scanned` set past the CRLF), else -1 for the general path
// (sign, more digits, junk, an error or an incomplete line). One pass, where
// the general path scans for CRLF and then parses.
function simpleCount(b: Uint8Array, from: number, end: number): number {
  let i = from, n = 0;
  const stop = from + 9 < end ? from + 9 : end;
  for (; i < stop; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  if (i === from || i + 1 >= end || b[i] !== CR || b[i + 1] !== LF) return -1;
  // A leading zero is an error, found by the general path.
  if (b[from] === 48 /* 0 */ && i > from + 1) return -1;
  scanned = i + 2;
  return n;
}

// The value of a hex digit's char code, or -1.
function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
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
          hexDigit(line[i + 2]) >= 0 && hexDigit(line[i + 3]) >= 0
        ) {
          cur.push(hexDigit(line[i + 2]) * 16 + hexDigit(line[i + 3]));
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

const EMPTY = new Uint8Array(0);
// A held buffer larger than this is dropped once it is empty again, so a
// connection that once sent a big command does not keep its buffer.
const KEEP_BUFFER = 65536;

/**
 * Incremental RESP2 request parser. `push()` bytes as they arrive; every
 * complete command goes to `onCommand` as its arguments (views valid only
 * during the call). Returns a {@linkcode RespProtocolError} when the input
 * is malformed; the parser then accepts nothing more.
 *
 * Each byte is parsed once: a multibulk frame split across reads keeps the
 * offsets of its parsed arguments and resumes at the next element.
 */
export class RespParser {
  readonly #maxBulk: number;
  readonly #maxArgs: number;
  readonly #maxInline: number;
  readonly #maxQuery: number;
  // Held bytes are #buf[#start..#len]; #len === 0 when none.
  #buf = EMPTY;
  #start = 0;
  #len = 0;
  #error: RespProtocolError | undefined;
  #stopped = false;
  // The arguments of the command being parsed, filled by index: `length = 0`
  // per command would drop the array's backing store (V8 trims it), so each
  // command would allocate a new one. #argc counts them.
  #args: Uint8Array[] = [];
  #argc = 0;
  // A multibulk frame split across reads (it starts at #buf[#start]):
  // arguments still expected (0 = none in progress), the offset of the next
  // element, and [offset, length] of each argument parsed so far.
  #mbLeft = 0;
  #mbNext = 0;
  #mbOffsets: number[] = [];
  // Where the search for an inline command's LF resumes (offset).
  #inlineScan = 0;

  constructor(limits: RespLimits = {}) {
    this.#maxBulk = limits.maxBulkLength ?? 1048576;
    this.#maxArgs = limits.maxArgs ?? 65536;
    this.#maxInline = limits.maxInlineLength ?? 65536;
    this.#maxQuery = limits.maxQueryBuffer ?? this.#maxBulk + 4 * 1048576;
  }

  /** Bytes held: an incomplete command, or commands not yet parsed. */
  get bufferedBytes(): number {
    return this.#len - this.#start;
  }

  /** Stops parsing (after QUIT): later bytes are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#release();
  }

  /**
   * Parses `data` (the caller may reuse it after this returns). `onCommand`
   * may return `false` to pause: the rest is held, and a later `push()` (of
   * more bytes, or of none) goes on from there.
   */
  push(
    data: Uint8Array,
    onCommand: (args: Uint8Array[]) => boolean | void,
  ): RespProtocolError | undefined {
    if (this.#error) return this.#error;
    if (this.#stopped) return undefined;
    let b: Uint8Array, pos: number, end: number;
    if (this.#len === 0) {
      b = data;
      pos = 0;
      end = data.length;
    } else {
      if (data.length > 0) this.#append(data);
      b = this.#buf;
      pos = this.#start;
      end = this.#len;
    }
    const args = this.#args;
    while (pos < end) {
      this.#argc = 0;
      const next = b[pos] === 42 /* * */
        ? this.#multibulk(b, pos, end, args)
        : this.#inline(b, pos, end, args);
      if (next === -1) break; // incomplete
      if (next === -2) return this.#error;
      pos = next;
      const argc = this.#argc;
      if (argc > 0) {
        if (args.length !== argc) args.length = argc;
        if (onCommand(args) === false) {
          this.#dropArgs();
          if (this.#stopped) return undefined;
          this.#keep(b, pos, end);
          return undefined;
        }
      }
      if (this.#stopped) return undefined;
    }
    // No view into the read or held buffer outlives this call.
    this.#dropArgs();
    this.#keep(b, pos, end);
    if (this.#len - this.#start > this.#maxQuery) {
      this.#fail("too big query buffer");
      return this.#error;
    }
    return undefined;
  }

  // Lets go of the views in #args, keeping a small array's backing store.
  #dropArgs(): void {
    const args = this.#args;
    if (args.length > 16) args.length = 0;
    else if (args.length > 0) args.fill(EMPTY);
  }

  // Holds b[pos..end] for the next push (offsets into it stay valid).
  #keep(b: Uint8Array, pos: number, end: number): void {
    if (pos === end) this.#release();
    else if (b === this.#buf) this.#start = pos;
    else {
      this.#start = this.#len = 0;
      this.#append(b.subarray(pos, end));
    }
  }

  #release(): void {
    this.#start = this.#len = 0;
    this.#mbLeft = 0;
    this.#inlineScan = 0;
    if (this.#buf.length > KEEP_BUFFER) this.#buf = EMPTY;
  }

  #fail(message: string): number {
    this.#error = new RespProtocolError(message);
    this.#release();
    this.#buf = EMPTY;
    return -2;
  }

  // Returns the position after the frame, -1 if incomplete, -2 on error.
  #multibulk(
    b: Uint8Array,
    pos: number,
    end: number,
    args: Uint8Array[],
  ): number {
    let p: number, left: number;
    const resuming = this.#mbLeft > 0;
    if (resuming) {
      p = pos + this.#mbNext;
      left = this.#mbLeft;
    } else {
      left = this.#count(b, pos, end, this.#maxArgs);
      if (left < 0) return left; // incomplete, or failed
      p = scanned;
    }
    for (; left > 0; left--) {
      if (p >= end) return this.#suspend(b, pos, p, left, args, resuming);
      if (b[p] !== 36 /* $ */) {
        return this.#fail(`expected '$', got '${String.fromCharCode(b[p]!)}'`);
      }
      const len = this.#count(b, p, end, this.#maxBulk);
      if (len === -1) return this.#suspend(b, pos, p, left, args, resuming);
      if (len < 0) return len;
      const at = scanned;
      if (end - at < len + 2) {
        return this.#suspend(b, pos, p, left, args, resuming);
      }
      if (b[at + len] !== CR || b[at + len + 1] !== LF) {
        return this.#fail("expected CRLF after bulk string");
      }
      if (resuming) this.#mbOffsets.push(at - pos, len);
      else args[this.#argc++] = b.subarray(at, at + len);
      p = at + len + 2;
    }
    if (resuming) {
      const offsets = this.#mbOffsets;
      for (let i = 0; i < offsets.length; i += 2) {
        const at = pos + offsets[i]!;
        args[this.#argc++] = b.subarray(at, at + offsets[i + 1]!);
      }
      offsets.length = 0;
      this.#mbLeft = 0;
    }
    return p;
  }

  // The count after the `*` or `$` at b[at], from 0 to `max`, with `scanned`
  // set past its line (a negative `*` count is an empty frame, 0, as in
  // redis; a negative `$` count is an error); -1 while its line is
  // incomplete, -2 after #fail().
  #count(b: Uint8Array, at: number, end: number, max: number): number {
    let n = simpleCount(b, at + 1, end);
    if (n >= 0 && n <= max) return n;
    const bulk = b[at] === 36 /* $ */;
    const eol = findCrlf(b, at, end);
    if (eol < 0) {
      if (end - at <= 1024) return -1;
      return this.#fail(`too big ${bulk ? "bulk" : "mbulk"} count string`);
    }
    n = parseInteger(b, at + 1, eol);
    if (n < 0 && !bulk) n = 0;
    if (!(n >= 0 && n <= max)) {
      return this.#fail(`invalid ${bulk ? "bulk" : "multibulk"} length`);
    }
    scanned = eol + 2;
    return n;
  }

  // Saves how far an incomplete frame got (offsets from its start, which
  // #keep moves to #buf[#start]); returns -1 (incomplete).
  #suspend(
    b: Uint8Array,
    pos: number,
    p: number,
    left: number,
    args: Uint8Array[],
    resuming: boolean,
  ): number {
    if (!resuming) {
      const offsets = this.#mbOffsets;
      offsets.length = 0;
      for (let i = 0; i < this.#argc; i++) {
        const a = args[i]!;
        offsets.push(a.byteOffset - b.byteOffset - pos, a.length);
      }
    }
    this.#mbLeft = left;
    this.#mbNext = p - pos;
    return -1;
  }

  #inline(b: Uint8Array, pos: number, end: number, args: Uint8Array[]): number {
    const eol = findLf(b, pos + this.#inlineScan, end);
    if (eol < 0) {
      if (end - pos > this.#maxInline) {
        return this.#fail("too big inline request");
      }
      this.#inlineScan = end - pos;
      return -1;
    }
    this.#inlineScan = 0;
    if (eol - pos > this.#maxInline) {
      return this.#fail("too big inline request");
    }
    const lineEnd = eol > pos && b[eol - 1] === CR ? eol - 1 : eol;
    let i = pos;
    while (i < lineEnd && b[i] !== 34 && b[i] !== 39) i++;
    if (i === lineEnd) {
      // No quotes (the common case): views straight into args, as
      // splitInline would give, without its line view and array.
      i = pos;
      while (i < lineEnd) {
        while (i < lineEnd && isSpace(b[i]!)) i++;
        const start = i;
        while (i < lineEnd && !isSpace(b[i]!)) i++;
        if (i > start) args[this.#argc++] = b.subarray(start, i);
      }
      return eol + 1;
    }
    const split = splitInline(b.subarray(pos, lineEnd));
    if (!split) return this.#fail("unbalanced quotes in request");
    for (const a of split) args[this.#argc++] = a;
    return eol + 1;
  }

  #append(data: Uint8Array): void {
    if (this.#start > 0) {
      // Offsets are from #start: moving the held bytes keeps them valid.
      this.#buf.copyWithin(0, this.#start, this.#len);
      this.#len -= this.#start;
      this.#start = 0;
    }
    const need = this.#len + data.length;
    this.#buf = withCapacity(this.#buf, this.#len, need);
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

const INT64_MAX = 9223372036854775807n, INT64_MIN = -9223372036854775808n;

/** Where {@linkcode RespWriter} hands bytes it does not copy (large bulks). */
export type RespSink = (bytes: Uint8Array) => void;

/**
 * Accumulates RESP2 replies into one growable buffer. With a `sink`, a bulk
 * of `largeBulk` bytes or more is not copied in: the replies before it (and
 * its header) go to the sink, then its bytes on their own.
 */
export class RespWriter {
  #buf = new Uint8Array(16384);
  #len = 0;
  // The shared constant that is all there is since the last reset(), if so.
  #only: Uint8Array | undefined;
  readonly #sink: RespSink | undefined;
  readonly #largeBulk: number;

  constructor(sink?: RespSink, largeBulk = 16384) {
    this.#sink = sink;
    this.#largeBulk = largeBulk;
  }

  /** Bytes written since the last `reset()`. */
  get length(): number {
    return this.#len;
  }

  /** The replies written since the last `reset()` (a view, valid until then). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /**
   * When the replies since the last `reset()` are one constant reply (such
   * as `+PONG` or `+OK`): that reply, a shared array that is never modified
   * (it may be sent without a copy). Else undefined.
   */
  get constant(): Uint8Array | undefined {
    return this.#only !== undefined && this.#len === this.#only.length
      ? this.#only
      : undefined;
  }

  /** Forgets the replies (keeps the buffer). */
  reset(): void {
    this.#len = 0;
    this.#only = undefined;
  }

  /** Raw bytes. */
  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  // One of the constant replies below.
  #constant(bytes: Uint8Array): void {
    if (this.#len === 0) this.#only = bytes;
    this.raw(bytes);
  }

  #ascii(s: string): void {
    this.#ensure(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#len++] = s.charCodeAt(i);
  }

  /** `+OK`. */
  ok(): void {
    this.#constant(OK);
  }
  /** `+PONG`. */
  pong(): void {
    this.#constant(PONG);
  }
  /** A simple string (no CR/LF inside). */
  simple(s: string): void {
    this.#ascii(`+${s}\r\n`);
  }
  /** An error reply, e.g. `ERR syntax error` (CR/LF replaced by spaces). */
  error(s: string): void {
    this.raw(encoder.encode(`-${s.replace(/[\r\n]/g, " ")}\r\n`));
  }
  /** An integer reply (a non-integer is truncated, clamped to 64 bits). */
  integer(n: number | bigint): void {
    if (n === 0) this.#constant(ZERO);
    else if (n === 1) this.#constant(ONE);
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
    } else {
      // Never a float (`9.2e+21`) in an integer reply: clients reject it.
      let big = typeof n === "bigint"
        ? n
        : Number.isNaN(n)
        ? 0n
        : n === Infinity
        ? INT64_MAX
        : n === -Infinity
        ? INT64_MIN
        : BigInt(Math.trunc(n));
      if (big > INT64_MAX) big = INT64_MAX;
      else if (big < INT64_MIN) big = INT64_MIN;
      this.#ascii(`:${big}\r\n`);
    }
  }
  /** A bulk string, or the null bulk for null. */
  bulk(bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.#constant(NIL);
      return;
    }
    this.#header(36, /* $ */ bytes.length);
    const sink = this.#sink;
    if (bytes.length >= this.#largeBulk && sink !== undefined) {
      sink(this.view());
      this.#len = 0;
      this.#only = undefined;
      sink(bytes);
    } else this.raw(bytes);
    this.raw(CRLF);
  }
  /** The header of an array of `n` elements. */
  array(n: number): void {
    this.#header(42, /* * */ n);
  }

  // `$N\r\n` or `*N\r\n` for a length N >= 0: digits in place, no string.
  #header(type: number, n: number): void {
    this.#ensure(24);
    const b = this.#buf;
    let at = this.#len;
    b[at++] = type;
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    for (let i = at + digits - 1; i >= at; i--) {
      b[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    at += digits;
    b[at++] = 13;
    b[at++] = 10;
    this.#len = at;
  }

  #ensure(extra: number): void {
    this.#buf = withCapacity(this.#buf, this.#len, this.#len + extra);
  }
}
