// The read side of a TcpStream: the stream's own buffer and its one read in
// flight. Deno cannot cancel a pending `conn.read()` without closing the
// connection, so a read is never abandoned: it lands in the buffer whenever
// it completes, and the next call finds the bytes there (or waits for the same
// read). A timed-out or cancelled call therefore loses no byte.
//
// The methods take the call's deadline (already checked for cancellation by
// TcpStream, which also holds the read lock: one call at a time).
import { nextReadSize } from "../../_internal/adaptive_read_size.ts";
import type { InflightOutcome } from "../../_internal/inflight.ts";
import type { Deadline } from "../_deadline.ts";
import type { Decoder } from "../codec/codec.ts";
import { IncompleteError, TooBigError } from "../errors.ts";

/** The smallest read chunk (and buffer) of a stream. */
export const MIN_CHUNK = 4096;
/** The largest read chunk of a stream. */
export const MAX_CHUNK = 65536;

/** The buffer and the read in flight of one stream. */
export class StreamReader {
  readonly #conn: Deno.Conn;
  // Unread bytes are #buffer[#start, #end).
  #buffer: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  // The read in flight (at most one), into #chunk; it appends to #buffer when
  // it lands and never rejects (errors go to #error).
  #inflight: Promise<void> | undefined;
  #chunk: Uint8Array | undefined;
  #chunkSize = MIN_CHUNK;
  #eof = false;
  #error: unknown;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Takes over a read another owner left in flight (the reactor's, through
   * `_internal/inflight.ts`): its outcome becomes this reader's.
   */
  adopt(inherited: Promise<InflightOutcome>): void {
    this.#inflight = inherited.then((outcome) => {
      this.#inflight = undefined;
      if (outcome.data !== undefined) this.#append(outcome.data);
      else if (outcome.eof) this.#eof = true;
      else this.#error = outcome.error ?? new Error("Read failed");
    });
  }

  /**
   * What the next owner of the connection must get first (buffered bytes,
   * end of stream, an error, or the read in flight), or `undefined` if none.
   */
  handOver(): Promise<InflightOutcome> | undefined {
    const inflight = this.#inflight;
    if (inflight || this.#end > this.#start || this.#eof) {
      return (inflight ?? Promise.resolve()).then((): InflightOutcome => {
        if (this.#end > this.#start) {
          return { data: this.#take(this.#end - this.#start), eof: false };
        }
        if (this.#eof) return { eof: true };
        return { eof: false, error: this.#error };
      });
    }
    if (this.#error !== undefined) {
      return Promise.resolve({ eof: false, error: this.#error });
    }
    return undefined;
  }

  /** Puts `bytes` back in front of the unread bytes (a look-ahead undone). */
  unshift(bytes: Uint8Array): void {
    const length = this.#end - this.#start;
    if (bytes.length <= this.#start) {
      this.#start -= bytes.length;
      this.#buffer.set(bytes, this.#start);
      return;
    }
    const grown = new Uint8Array(Math.max(length + bytes.length, MIN_CHUNK));
    grown.set(bytes);
    grown.set(this.#buffer.subarray(this.#start, this.#end), bytes.length);
    this.#buffer = grown;
    this.#start = 0;
    this.#end = length + bytes.length;
  }

  /** Reads up to `buffer.length` bytes; `null` at end of stream. */
  async read(
    buffer: Uint8Array,
    deadline: Deadline | undefined,
  ): Promise<number | null> {
    if (buffer.length === 0) return 0;
    while (true) {
      const available = this.#end - this.#start;
      if (available > 0) {
        const n = Math.min(available, buffer.length);
        buffer.set(this.#buffer.subarray(this.#start, this.#start + n));
        this.#consume(n);
        return n;
      }
      this.#throwIfFailed();
      if (this.#eof) return null;
      if (
        deadline === undefined && this.#inflight === undefined &&
        buffer.length >= MIN_CHUNK
      ) {
        // Nothing can interrupt this call: read straight into the caller's
        // buffer, saving a copy.
        return await this.#directRead(buffer);
      }
      await this.#fill(deadline);
    }
  }

  /** Reads exactly `length` bytes, or throws `IncompleteError` at the end. */
  async readExact(
    length: number,
    deadline: Deadline | undefined,
  ): Promise<Uint8Array> {
    while (this.#end - this.#start < length) {
      this.#throwIfFailed();
      if (this.#eof) {
        const partial = this.#take(this.#end - this.#start);
        throw new IncompleteError(
          `Cannot read ${length} bytes as the peer closed the stream: received ${partial.length}`,
          partial,
        );
      }
      await this.#fill(deadline, length - (this.#end - this.#start));
    }
    return this.#take(length);
  }

  /** Reads up to `needle` (at most `maxLength` bytes before it). */
  async readUntil(
    action: string,
    needle: Uint8Array,
    keep: boolean,
    maxLength: number,
    deadline: Deadline | undefined,
  ): Promise<Uint8Array | null> {
    let searched = 0; // bytes of the buffer already searched, from #start
    while (true) {
      const available = this.#end - this.#start;
      const from = Math.max(0, searched - needle.length + 1);
      const index = indexOf(
        this.#buffer.subarray(this.#start, this.#end),
        needle,
        from,
      );
      if (index !== -1 && index <= maxLength) {
        const line = this.#take(keep ? index + needle.length : index);
        if (!keep) this.#consume(needle.length);
        return line;
      }
      if (index > maxLength || available >= maxLength + needle.length) {
        throw new TooBigError(
          `Cannot ${action} as it exceeds 'maxLength': ${maxLength}`,
        );
      }
      searched = available;
      this.#throwIfFailed();
      if (this.#eof) {
        if (available === 0) return null;
        const partial = this.#take(available);
        throw new IncompleteError(
          `Cannot ${action} as the peer closed the stream: received ${partial.length} bytes without it`,
          partial,
        );
      }
      await this.#fill(deadline);
    }
  }

  /**
   * Reads one frame with a fresh `decoder`, fed the buffered bytes without
   * consuming them until a frame completes: a call that ends without one
   * leaves the buffer as it was. The frame is copied out.
   */
  async readFrame<F>(
    action: string,
    decoder: Decoder<F>,
    deadline: Deadline | undefined,
  ): Promise<F | null> {
    let fed = 0;
    let frame: F | undefined;
    let found = false;
    const onFrame = (value: F): boolean => {
      frame = value instanceof Uint8Array ? value.slice() as F : value;
      found = true;
      return false;
    };
    while (true) {
      if (this.#end - this.#start > fed) {
        fed += decoder.decode(
          this.#buffer.subarray(this.#start + fed, this.#end),
          onFrame,
        );
        if (found) {
          this.#consume(fed);
          return frame as F;
        }
      }
      this.#throwIfFailed();
      if (this.#eof) {
        const available = this.#end - this.#start;
        if (available === 0) return null;
        const partial = this.#take(available);
        throw new IncompleteError(
          `Cannot ${action} as the peer closed the stream: received ${available} bytes of a partial frame`,
          partial,
        );
      }
      await this.#fill(deadline);
    }
  }

  /** Reads to end of stream (at most `maxLength` bytes). */
  async readAll(
    action: string,
    maxLength: number,
    deadline: Deadline | undefined,
  ): Promise<Uint8Array> {
    while (true) {
      const available = this.#end - this.#start;
      if (available > maxLength) {
        throw new TooBigError(
          `Cannot ${action} as it exceeds 'maxLength': ${maxLength}`,
        );
      }
      this.#throwIfFailed();
      if (this.#eof) return this.#take(available);
      await this.#fill(deadline, maxLength + 1 - available);
    }
  }

  /** Waits until the read in flight (started if none) lands, or the deadline. */
  async #fill(deadline: Deadline | undefined, wanted = 0): Promise<void> {
    if (!this.#inflight) this.#startRead(wanted);
    await (deadline ? deadline.race(this.#inflight!) : this.#inflight);
  }

  #startRead(wanted: number): void {
    const size = Math.min(MAX_CHUNK, Math.max(this.#chunkSize, wanted));
    if (!this.#chunk || this.#chunk.length !== size) {
      this.#chunk = new Uint8Array(size);
    }
    const chunk = this.#chunk;
    this.#inflight = this.#conn.read(chunk).then(
      (n) => {
        this.#inflight = undefined;
        if (n === null) {
          this.#eof = true;
          return;
        }
        this.#append(chunk.subarray(0, n));
        // Adaptive chunk: grow while reads come back full, shrink when small,
        // so that an idle stream pins little memory.
        this.#chunkSize = nextReadSize(chunk.length, n, MIN_CHUNK, MAX_CHUNK);
      },
      (error) => {
        this.#inflight = undefined;
        this.#error = error;
      },
    );
  }

  async #directRead(buffer: Uint8Array): Promise<number | null> {
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      this.#error = error;
      throw error;
    }
    if (n === null) this.#eof = true;
    return n;
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  #append(bytes: Uint8Array): void {
    const length = this.#end - this.#start;
    if (this.#end + bytes.length > this.#buffer.length) {
      if (length + bytes.length <= this.#buffer.length) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(
          Math.max(length + bytes.length, this.#buffer.length * 2, MIN_CHUNK),
        );
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // Do not keep a large buffer around for an idle stream.
      if (this.#buffer.length > MAX_CHUNK * 2) this.#buffer = new Uint8Array(0);
    }
  }

  #take(n: number): Uint8Array {
    const bytes = this.#buffer.slice(this.#start, this.#start + n);
    this.#consume(n);
    return bytes;
  }
}

/** Index of `needle` in `haystack` at or after `from`, or -1. */
function indexOf(
  haystack: Uint8Array,
  needle: Uint8Array,
  from: number,
): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  for (
    let i = haystack.indexOf(first, from);
    i !== -1 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
