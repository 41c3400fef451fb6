// Splits a byte stream into lines for the chat example, with a hard cap on the
// line length: an overlong line is reported once and skipped up to its end, so
// a peer that never sends "\n" cannot make the server buffer forever.

const LF = 0x0a;
const CR = 0x0d;

/** Receives the results of {@linkcode LineSplitter.push}. */
export interface LineSink {
  /** A complete line, without its "\n" (or "\r\n"). */
  line(text: string): void;
  /** A line passed `maxLength` bytes; its bytes up to the next "\n" are dropped. */
  tooLong(): void;
}

/** Line framing with a maximum line length, for one connection. */
export class LineSplitter {
  readonly maxLength: number;
  #buf: Uint8Array;
  #len = 0;
  #discarding = false;
  #decoder = new TextDecoder();

  constructor(maxLength = 4096) {
    this.maxLength = maxLength;
    this.#buf = new Uint8Array(Math.min(256, maxLength + 1));
  }

  /** Bytes held from an unfinished line. */
  get buffered(): number {
    return this.#len;
  }

  /** Feeds bytes (valid only during the call: they are copied if kept). */
  push(data: Uint8Array, sink: LineSink): void {
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(LF, start);
      const end = nl === -1 ? data.length : nl;
      if (this.#discarding) {
        if (nl === -1) return;
        this.#discarding = false;
        start = nl + 1;
        continue;
      }
      const pieceLength = end - start;
      // One spare byte for a "\r" that a "\n" may follow.
      const limit = this.maxLength + 1;
      if (this.#len + pieceLength > limit) {
        this.#len = 0;
        sink.tooLong();
        if (nl === -1) {
          this.#discarding = true;
          return;
        }
        start = nl + 1;
        continue;
      }
      if (nl === -1) {
        this.#append(data.subarray(start, end));
        return;
      }
      let line: Uint8Array;
      if (this.#len === 0) {
        line = data.subarray(start, end);
      } else {
        this.#append(data.subarray(start, end));
        line = this.#buf.subarray(0, this.#len);
        this.#len = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) {
        line = line.subarray(0, line.length - 1);
      }
      if (line.length > this.maxLength) {
        sink.tooLong();
      } else {
        sink.line(this.#decoder.decode(line));
      }
      start = nl + 1;
    }
  }

  #append(bytes: Uint8Array): void {
    const need = this.#len + bytes.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(need, this.#buf.length * 2), this.maxLength + 1),
      );
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#len);
    this.#len = need;
  }
}
