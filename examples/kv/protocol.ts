// The wire format of server.ts and client.ts. Every message is one
// frame of LengthPrefixedCodec (4-byte big-endian length, then the payload):
//
//   request:  op (1 byte: 1 GET, 2 SET, 3 DEL) | key length (2 bytes BE) | key | value (SET only)
//   response: status (1 byte: 0 OK, 1 NOT FOUND, 2 ERROR) | value (GET) or message (ERROR, UTF-8)

import { LengthPrefixedCodec } from "@millrace/io/net";

export const OP_GET = 1;
export const OP_SET = 2;
export const OP_DEL = 3;

export const STATUS_OK = 0;
export const STATUS_NOT_FOUND = 1;
export const STATUS_ERROR = 2;

/** Largest frame either side accepts: 1 MiB. */
export const MAX_FRAME = 1024 * 1024;
/** Longest key in bytes. */
export const MAX_KEY = 1024;

/** One framing for both sides. */
export function kvCodec(): LengthPrefixedCodec {
  return new LengthPrefixedCodec({ maxFrameSize: MAX_FRAME });
}

/** A decoded request (views into the frame: valid while it is). */
export interface KvRequest {
  op: number;
  key: Uint8Array;
  value: Uint8Array;
}

/** Parses a request frame; a string is the error to answer with. */
export function parseRequest(frame: Uint8Array): KvRequest | string {
  if (frame.length < 3) return "request shorter than its 3-byte header";
  const op = frame[0]!;
  if (op !== OP_GET && op !== OP_SET && op !== OP_DEL) {
    return `unknown op ${op}`;
  }
  const keyLength = (frame[1]! << 8) | frame[2]!;
  if (keyLength === 0 || keyLength > MAX_KEY) {
    return `key length must be 1 to ${MAX_KEY}: received ${keyLength}`;
  }
  if (3 + keyLength > frame.length) return "key runs past the frame";
  if (op !== OP_SET && 3 + keyLength !== frame.length) {
    return "only SET carries a value";
  }
  return {
    op,
    key: frame.subarray(3, 3 + keyLength),
    value: frame.subarray(3 + keyLength),
  };
}

/** Builds a request payload (to be framed by the codec). */
export function request(
  op: number,
  key: Uint8Array,
  value: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(3 + key.length + value.length);
  out[0] = op;
  out[1] = key.length >> 8;
  out[2] = key.length & 0xff;
  out.set(key, 3);
  out.set(value, 3 + key.length);
  return out;
}

/** Builds a response payload. */
export function response(
  status: number,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(1 + body.length);
  out[0] = status;
  out.set(body, 1);
  return out;
}
