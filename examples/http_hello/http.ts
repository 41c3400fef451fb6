// A small incremental HTTP/1.1 request parser and the responses of
// examples/http_hello/main.ts. Private to the example (the library has no HTTP
// layer); strict where leniency invites request smuggling.
//
// Bytes are pushed as they arrive; every complete request (head and body) is
// handed to a callback in order, so pipelined requests are answered in order.
// A malformed request yields an error with the status to answer, after which
// the parser accepts nothing more (the connection is to be closed).

import { withCapacity } from "../_bytes.ts";

/** Limits of {@linkcode HttpRequestParser}. */
export interface HttpLimits {
  /** Bytes of the request line (CRLF excluded); beyond it: 414. @default {8192} */
  maxRequestLine?: number;
  /** Bytes of the header section (after the request line); beyond it: 431. @default {16384} */
  maxHeaderBytes?: number;
  /** Number of header fields; beyond it: 431. @default {100} */
  maxHeaders?: number;
  /** Bytes of a request body; beyond it: 413. @default {1048576} */
  maxBodyBytes?: number;
}

/** A parsed request head (the body is read and dropped). */
export interface HttpRequest {
  method: string;
  target: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  /** Header fields in order, names lower-cased. */
  headers: [string, string][];
  /** Whether the connection stays open after the response. */
  keepAlive: boolean;
  /** Body bytes received (and dropped). */
  bodyLength: number;
}

/** Why a request was rejected: the status to answer, then close. */
export interface HttpParseError {
  status: 400 | 408 | 413 | 414 | 431 | 501 | 505;
  message: string;
}

const HEAD = 0,
  BODY = 1,
  CHUNK_SIZE = 2,
  CHUNK_DATA = 3,
  CHUNK_CRLF = 4,
  TRAILERS = 5,
  DONE = 6;

const CR = 13, LF = 10, SP = 32, HTAB = 9, COLON = 58;

// tchar per RFC 9110 §5.6.2
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

// Strings the hot path hands out without building them byte by byte.
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"];
const NAMES = [
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "user-agent",
  "accept",
];

/** `b[start..end]` as one of `known` (ASCII case-insensitively when `fold`), else undefined. */
function interned(
  b: Uint8Array,
  start: number,
  end: number,
  known: readonly string[],
  fold: boolean,
): string | undefined {
  const len = end - start;
  next: for (const s of known) {
    if (s.length !== len) continue;
    for (let i = 0; i < len; i++) {
      const c = b[start + i]!;
      if (c !== s.charCodeAt(i) && !(fold && (c | 32) === s.charCodeAt(i))) {
        continue next;
      }
    }
    return s;
  }
  return undefined;
}

/** Whether `b[start..end]` is `HTTP/1.` followed by digit `minor`. */
function isHttp1(
  b: Uint8Array,
  start: number,
  end: number,
  minor: number,
): boolean {
  if (end - start !== 8 || b[start + 7] !== 48 + minor || b[start + 6] !== 46) {
    return false;
  }
  for (let k = 0; k < 5; k++) if (b[start + k] !== HTTP_SLASH[k]) return false;
  return b[start + 5] === 49;
}

/** Index of CRLF CRLF at or after `from` in `b[..end]`, else -1. */
function findHeadEnd(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (
      b[i] === CR && b[i + 1] === LF && b[i + 2] === CR && b[i + 3] === LF
    ) return i;
  }
  return -1;
}

function findCrlf(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (b[i] === CR && b[i + 1] === LF) return i;
  }
  return -1;
}

const HTTP_SLASH = [72, 84, 84, 80, 47]; // "HTTP/"

/**
 * Why b[start..end] cannot be (the start of) a request line
 * `method SP target SP HTTP/d.d`, else undefined; `complete` when it is the
 * whole line. The messages are those of the full parse.
 */
function notRequestLine(
  b: Uint8Array,
  start: number,
  end: number,
  complete: boolean,
): string | undefined {
  // A CR at the end may be the start of the line's CRLF.
  if (!complete && end > start && b[end - 1] === CR) end--;
  if (start === end) return undefined;
  let i = start;
  while (i < end && TCHAR[b[i]!]) i++;
  if (i === end && !complete) return undefined;
  if (i === start || b[i] !== SP) return "malformed method";
  const t0 = ++i;
  while (i < end && b[i]! > SP && b[i]! < 127) i++;
  if (i === end && !complete) return undefined;
  if (i === t0 || b[i] !== SP) return "malformed request target";
  let k = 0;
  for (i++; i < end; i++, k++) {
    const c = b[i]!;
    const bad = k < 5
      ? c !== HTTP_SLASH[k]
      : k === 6
      ? c !== 46
      : k > 7 || c < 48 || c > 57;
    if (bad) return "malformed HTTP version";
  }
  return complete && k !== 8 ? "malformed HTTP version" : undefined;
}

/**
 * Incremental HTTP/1.1 request parser. `push()` bytes as they arrive; each
 * complete request goes to `onRequest`, which returns `false` to stop (the
 * connection will close, e.g. after `Connection: close`).
 */
export class HttpRequestParser {
  readonly #maxRequestLine: number;
  readonly #maxHeaderBytes: number;
  readonly #maxHeaders: number;
  readonly #maxBodyBytes: number;
  // Unconsumed bytes when a request spans reads; empty on the fast path.
  #buf = new Uint8Array(0);
  #len = 0;
  #scanFrom = 0;
  #state = HEAD;
  #remaining = 0; // body or chunk bytes still to skip
  #request: HttpRequest | undefined;
  #error: HttpParseError | undefined;
  // The value strings of the previous head's first fields and their bytes:
  // a keep-alive client repeats them (Host, User-Agent ...), so the next
  // head compares bytes instead of building the same strings again.
  readonly #seen: { bytes: Uint8Array; value: string }[] = [];

  constructor(limits: HttpLimits = {}) {
    this.#maxRequestLine = limits.maxRequestLine ?? 8192;
    this.#maxHeaderBytes = limits.maxHeaderBytes ?? 16384;
    this.#maxHeaders = limits.maxHeaders ?? 100;
    this.#maxBodyBytes = limits.maxBodyBytes ?? 1048576;
  }

  /** Bytes held for an incomplete request. */
  get bufferedBytes(): number {
    return this.#len;
  }

  /** Whether part of a request head is held (the head is unfinished). */
  get headPending(): boolean {
    return this.#state === HEAD && this.#len > 0;
  }

  /**
   * Parses `data` (which may be reused by the caller after this returns).
   * Returns the error to answer when the input is malformed, else undefined.
   */
  push(
    data: Uint8Array,
    onRequest: (request: HttpRequest) => boolean | void,
  ): HttpParseError | undefined {
    if (this.#error) return this.#error;
    if (this.#state === DONE) return undefined;
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
    const scanStart = this.#len === 0 ? 0 : this.#scanFrom;
    let scanFrom = scanStart;
    while (pos < end && this.#state !== DONE) {
      switch (this.#state) {
        case HEAD: {
          // Tolerate empty lines before a request (RFC 9112 §2.2).
          while (pos + 1 < end && b[pos] === CR && b[pos + 1] === LF) pos += 2;
          const at = findHeadEnd(b, Math.max(pos, scanFrom), end);
          if (at < 0) {
            const lineEnd = findCrlf(b, pos, end);
            if (
              (lineEnd < 0 ? end - pos : lineEnd - pos) > this.#maxRequestLine
            ) {
              return this.#fail(414, "request line too long");
            }
            if (
              lineEnd >= 0 && end - (lineEnd + 2) > this.#maxHeaderBytes + 2
            ) {
              return this.#fail(431, "request header fields too large");
            }
            // Junk gets its 400 now, not after a blank line that never comes.
            const bad = notRequestLine(
              b,
              pos,
              lineEnd < 0 ? end : lineEnd,
              lineEnd >= 0,
            );
            if (bad !== undefined) return this.#fail(400, bad);
            this.#keep(b, pos, end, Math.max(pos, end - 3));
            return undefined;
          }
          const err = this.#parseHead(b, pos, at);
          if (err) return this.#fail(err.status, err.message);
          pos = at + 4;
          scanFrom = 0;
          if (this.#state === HEAD && !this.#emit(onRequest)) return undefined;
          break;
        }
        case BODY: {
          const n = Math.min(this.#remaining, end - pos);
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#state = HEAD;
            if (!this.#emit(onRequest)) return undefined;
          }
          break;
        }
        case CHUNK_SIZE: {
          const at = findCrlf(b, pos, end);
          if (at < 0) {
            if (end - pos > 1024) {
              return this.#fail(400, "chunk size line too long");
            }
            this.#keep(b, pos, end, 0);
            return undefined;
          }
          let i = pos, size = 0, digits = 0;
          for (; i < at; i++) {
            const c = b[i]!;
            const v = c >= 48 && c <= 57
              ? c - 48
              : c >= 97 && c <= 102
              ? c - 87
              : c >= 65 && c <= 70
              ? c - 55
              : -1;
            if (v < 0) break;
            size = size * 16 + v;
            if (++digits > 8) return this.#fail(413, "chunk too large");
          }
          if (digits === 0 || (i < at && b[i] !== 59 /* ; */)) {
            return this.#fail(400, "malformed chunk size");
          }
          const req = this.#request!;
          req.bodyLength += size;
          if (req.bodyLength > this.#maxBodyBytes) {
            return this.#fail(413, "request body too large");
          }
          pos = at + 2;
          if (size === 0) this.#state = TRAILERS;
          else {
            this.#remaining = size;
            this.#state = CHUNK_DATA;
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - pos);
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = CHUNK_CRLF;
          break;
        }
        case CHUNK_CRLF: {
          if (end - pos < 2) {
            this.#keep(b, pos, end, 0);
            return undefined;
          }
          if (b[pos] !== CR || b[pos + 1] !== LF) {
            return this.#fail(400, "missing CRLF after chunk data");
          }
          pos += 2;
          this.#state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          const at = findCrlf(b, pos, end);
          if (at < 0) {
            if (end - pos > this.#maxHeaderBytes) {
              return this.#fail(431, "trailer section too large");
            }
            this.#keep(b, pos, end, 0);
            return undefined;
          }
          const empty = at === pos;
          pos = at + 2;
          if (empty) {
            this.#state = HEAD;
            if (!this.#emit(onRequest)) return undefined;
          }
          break;
        }
      }
    }
    this.#len = 0;
    this.#scanFrom = 0;
    if (pos < end && this.#state !== DONE) this.#keep(b, pos, end, 0);
    return undefined;
  }

  #emit(onRequest: (r: HttpRequest) => boolean | void): boolean {
    const req = this.#request!;
    this.#request = undefined;
    if (onRequest(req) === false || !req.keepAlive) {
      this.#state = DONE;
      this.#len = 0;
      return false;
    }
    return true;
  }

  #fail(status: HttpParseError["status"], message: string): HttpParseError {
    this.#error = { status, message };
    this.#len = 0;
    this.#buf = new Uint8Array(0);
    return this.#error;
  }

  #append(data: Uint8Array): void {
    const need = this.#len + data.length;
    this.#buf = withCapacity(this.#buf, this.#len, need);
    this.#buf.set(data, this.#len);
    this.#len = need;
  }

  // Keeps b[from..end] for the next push; scanning resumes at `scanAt`.
  #keep(b: Uint8Array, from: number, end: number, scanAt: number): void {
    if (b === this.#buf) {
      this.#buf.copyWithin(0, from, end);
      this.#len = end - from;
    } else {
      this.#len = 0;
      this.#append(b.subarray(from, end));
    }
    this.#scanFrom = Math.max(0, scanAt - from);
  }

  // b[start..end] as a string, reused from the previous head's field `i`
  // when the bytes are the same.
  #value(b: Uint8Array, start: number, end: number, i: number): string {
    const len = end - start;
    const seen = this.#seen[i];
    if (seen !== undefined && seen.bytes.length === len) {
      const bytes = seen.bytes;
      let k = 0;
      while (k < len && bytes[k] === b[start + k]) k++;
      if (k === len) return seen.value;
    }
    const value = latin1(b, start, end);
    if (i < 4 && len <= 256) {
      this.#seen[i] = { bytes: b.slice(start, end), value };
    }
    return value;
  }

  #parseHead(
    b: Uint8Array,
    start: number,
    end: number, // index of the CRLFCRLF
  ): HttpParseError | undefined {
    // Request line: method SP target SP version
    let lineEnd = findCrlf(b, start, end + 2);
    if (lineEnd - start > this.#maxRequestLine) {
      return { status: 414, message: "request line too long" };
    }
    if (end - lineEnd > this.#maxHeaderBytes) {
      return { status: 431, message: "request header fields too large" };
    }
    let i = start;
    while (i < lineEnd && TCHAR[b[i]!]) i++;
    if (i === start || b[i] !== SP) {
      return { status: 400, message: "malformed method" };
    }
    const method = interned(b, start, i, METHODS, false) ?? latin1(b, start, i);
    const t0 = ++i;
    while (i < lineEnd && b[i]! > SP && b[i]! < 127) i++;
    if (i === t0 || b[i] !== SP) {
      return { status: 400, message: "malformed request target" };
    }
    const target = i === t0 + 1 && b[t0] === 47 ? "/" : latin1(b, t0, i);
    let version: HttpRequest["version"];
    const v = i + 1;
    if (isHttp1(b, v, lineEnd, 1)) version = "HTTP/1.1";
    else if (isHttp1(b, v, lineEnd, 0)) version = "HTTP/1.0";
    else if (/^HTTP\/\d\.\d$/.test(latin1(b, v, lineEnd))) {
      return {
        status: 505,
        message: `unsupported version ${latin1(b, v, lineEnd)}`,
      };
    } else return { status: 400, message: "malformed HTTP version" };

    const headers: [string, string][] = [];
    let host = 0, contentLength = -1, chunked = false, te = false;
    let conn = "";
    let p = lineEnd + 2;
    while (p < end + 2) {
      lineEnd = findCrlf(b, p, end + 2);
      if (lineEnd === p) break; // the empty line
      if (headers.length >= this.#maxHeaders) {
        return { status: 431, message: "too many header fields" };
      }
      if (b[p] === SP || b[p] === HTAB) {
        return { status: 400, message: "obsolete line folding" };
      }
      let k = p;
      while (k < lineEnd && TCHAR[b[k]!]) k++;
      if (k === p || b[k] !== COLON) {
        return { status: 400, message: "malformed header field name" };
      }
      const name = interned(b, p, k, NAMES, true) ??
        latin1(b, p, k).toLowerCase();
      let vs = k + 1, ve = lineEnd;
      while (vs < ve && (b[vs] === SP || b[vs] === HTAB)) vs++;
      while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
      for (let j = vs; j < ve; j++) {
        const c = b[j]!;
        if ((c < SP && c !== HTAB) || c === 127) {
          return { status: 400, message: "invalid character in header value" };
        }
      }
      const value = this.#value(b, vs, ve, headers.length);
      headers.push([name, value]);
      if (name === "host") host++;
      else if (name === "content-length") {
        if (!/^\d{1,15}$/.test(value)) {
          return { status: 400, message: "invalid content-length" };
        }
        const n = Number(value);
        if (contentLength >= 0 && contentLength !== n) {
          return { status: 400, message: "conflicting content-length" };
        }
        contentLength = n;
      } else if (name === "transfer-encoding") {
        te = true;
        const codings = value.toLowerCase().split(",").map((s) => s.trim());
        chunked = codings.at(-1) === "chunked" &&
          codings.indexOf("chunked") === codings.length - 1;
        if (codings.some((c) => c !== "chunked")) {
          return {
            status: 501,
            message: `unsupported transfer coding ${value}`,
          };
        }
      } else if (name === "connection") conn += "," + value.toLowerCase();
      p = lineEnd + 2;
    }
    if (version === "HTTP/1.1" && host !== 1) {
      return { status: 400, message: host ? "duplicate host" : "missing host" };
    }
    if (te && contentLength >= 0) {
      return {
        status: 400,
        message: "both transfer-encoding and content-length",
      };
    }
    if (te && (!chunked || version === "HTTP/1.0")) {
      return { status: 400, message: "invalid transfer-encoding" };
    }
    if (contentLength > this.#maxBodyBytes) {
      return { status: 413, message: "request body too large" };
    }
    let keepAlive = version === "HTTP/1.1";
    if (conn !== "") {
      const tokens = conn.split(",").map((s) => s.trim());
      keepAlive = keepAlive
        ? !tokens.includes("close")
        : tokens.includes("keep-alive");
    }
    this.#request = {
      method,
      target,
      version,
      headers,
      keepAlive,
      bodyLength: contentLength > 0 ? contentLength : 0,
    };
    if (chunked) this.#state = CHUNK_SIZE;
    else if (contentLength > 0) {
      this.#remaining = contentLength;
      this.#state = BODY;
    } else this.#state = HEAD;
    return undefined;
  }
}

const encoder = new TextEncoder();

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};

/**
 * Builds the hello-world responses, caching them per second of the `Date`
 * header (so the hot path is one lookup, no formatting).
 */
export class HelloResponses {
  readonly #body: Uint8Array;
  readonly #now: () => number;
  #second = -1;
  #cache: Uint8Array[] = [];

  constructor(body = "Hello, World!", now: () => number = Date.now) {
    this.#body = encoder.encode(body);
    this.#now = now;
  }

  /**
   * The response to `request` (HEAD gets the head only). The array is
   * cached and never modified: it may be queued without a copy.
   */
  for(request: HttpRequest): Uint8Array {
    const second = Math.floor(this.#now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#cache = [];
    }
    const http10 = request.version === "HTTP/1.0";
    const head = request.method === "HEAD";
    const idx = (request.keepAlive ? 1 : 0) + (http10 ? 2 : 0) +
      (head ? 4 : 0);
    let res = this.#cache[idx];
    if (!res) {
      const date = new Date(second * 1000).toUTCString();
      const conn = !request.keepAlive
        ? "connection: close\r\n"
        : http10
        ? "connection: keep-alive\r\n"
        : "";
      const h = encoder.encode(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: ${this.#body.length}\r\ndate: ${date}\r\n${conn}\r\n`,
      );
      res = new Uint8Array(h.length + (head ? 0 : this.#body.length));
      res.set(h);
      if (!head) res.set(this.#body, h.length);
      this.#cache[idx] = res;
    }
    return res;
  }
}

/** The response to a rejected request; the connection closes after it. */
export function errorResponse(error: HttpParseError): Uint8Array {
  const reason = REASONS[error.status] ?? "Error";
  const body = `${reason}: ${error.message}\n`;
  return encoder.encode(
    `HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
}
