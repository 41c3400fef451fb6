// How a `Channel` message travels as a ring record: bytes as they are, a
// string as UTF-8, any other value structured-cloned with V8's serializer.

/** Record kinds: the message's type on the receiving side. */
export const KIND_BYTES = 0;
export const KIND_STRING = 1;
export const KIND_CLONE = 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// node:v8's serializer is V8's ValueSerializer, the structured clone wire
// format. Loaded on first use only: it costs ~10 ms and ~4 MB at start-up.
interface CloneCodec {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}
let cloneCodec: CloneCodec | undefined;
let cloneLoading: Promise<CloneCodec> | undefined;

/** Loads structured clone support in this thread (once). */
export function loadCloneCodec(): Promise<CloneCodec> {
  // A computed specifier keeps Node's type declarations (which retype
  // setTimeout and friends) out of every program that imports the reactor.
  const specifier = ["node", "v8"].join(":");
  cloneLoading ??= (import(specifier) as Promise<CloneCodec>).then((v8) => {
    cloneCodec = {
      serialize: (value) => v8.serialize(value),
      deserialize: (bytes) => v8.deserialize(bytes),
    };
    return cloneCodec;
  });
  return cloneLoading;
}

/** Whether `message` needs clone support and it is not loaded yet. */
export function needsCloneCodec(message: unknown): boolean {
  return !(message instanceof Uint8Array) && typeof message !== "string" &&
    cloneCodec === undefined;
}

/**
 * Whether a record of `kind` cannot be decoded yet (a clone before clone
 * support loaded); starts loading it, then calls `loaded`.
 */
export function awaitsCloneCodec(kind: number, loaded: () => void): boolean {
  if (kind !== KIND_CLONE || cloneCodec !== undefined) return false;
  void loadCloneCodec().then(loaded);
  return true;
}

/** The record kind of `message`. */
export function messageKind(message: unknown): number {
  return message instanceof Uint8Array
    ? KIND_BYTES
    : typeof message === "string"
    ? KIND_STRING
    : KIND_CLONE;
}

/** The payload of `message` as a record of `kind` (from `messageKind`). */
export function encodeMessage(message: unknown, kind: number): Uint8Array {
  if (kind === KIND_BYTES) return message as Uint8Array;
  if (kind === KIND_STRING) return encoder.encode(message as string);
  if (cloneCodec === undefined) {
    throw new TypeError(
      "Cannot send message as structured clone support is not loaded: use 'send()' once, or 'await Channel.loadStructuredClone()'",
    );
  }
  return cloneCodec.serialize(message);
}

/** The message a record of `kind` carries. */
export function decodeMessage(kind: number, payload: Uint8Array): unknown {
  return kind === KIND_BYTES
    ? payload
    : kind === KIND_STRING
    ? decoder.decode(payload)
    : cloneCodec!.deserialize(payload);
}
