// A client of server.ts on TcpStream: one request, one reply, each a frame
// read with `readFrame` and a deadline.
//
//   deno run --allow-net examples/kv/client.ts --port 7100 set greeting hello
//   deno run --allow-net examples/kv/client.ts --port 7100 get greeting
//   deno run --allow-net examples/kv/client.ts --port 7100 del greeting
//
// Prints the value (get), `OK`, or `(nil)`; an error reply goes to stderr and
// the exit code is 1.

import { IncompleteError, TcpStream } from "@millrace/io/net";
import {
  kvCodec,
  OP_DEL,
  OP_GET,
  OP_SET,
  request,
  STATUS_ERROR,
  STATUS_NOT_FOUND,
} from "./protocol.ts";
import { flag, portFlag, print, printError } from "../_args.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Raised for an ERROR reply. */
export class KvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KvError";
  }
}

/** One connection to a KV server. */
export class KvClient implements Disposable {
  readonly #stream: TcpStream;
  readonly #codec = kvCodec();
  readonly #timeoutMs: number;

  private constructor(stream: TcpStream, timeoutMs: number) {
    this.#stream = stream;
    this.#timeoutMs = timeoutMs;
  }

  static async connect(
    address: { hostname?: string; port: number },
    options: { timeoutMs?: number } = {},
  ): Promise<KvClient> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const stream = await TcpStream.connect(
      { hostname: address.hostname ?? "127.0.0.1", port: address.port },
      { timeoutMs },
    );
    return new KvClient(stream, timeoutMs);
  }

  /** The value, or `undefined` when the key is not set. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const reply = await this.#call(request(OP_GET, encoder.encode(key)));
    return reply.status === STATUS_NOT_FOUND ? undefined : reply.body;
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    const bytes = typeof value === "string" ? encoder.encode(value) : value;
    await this.#call(request(OP_SET, encoder.encode(key), bytes));
  }

  /** Whether the key was there. */
  async delete(key: string): Promise<boolean> {
    const reply = await this.#call(request(OP_DEL, encoder.encode(key)));
    return reply.status !== STATUS_NOT_FOUND;
  }

  /** Sends one raw request payload and reads the reply (also for tests). */
  async call(
    payload: Uint8Array,
  ): Promise<{ status: number; body: Uint8Array }> {
    const timeoutMs = this.#timeoutMs;
    await this.#stream.writeAll(this.#codec.encode(payload), { timeoutMs });
    const frame = await this.#stream.readFrame(this.#codec, { timeoutMs });
    if (frame === null || frame.length === 0) {
      throw new IncompleteError(
        "Cannot read reply as the server closed the connection",
        new Uint8Array(0),
      );
    }
    return { status: frame[0]!, body: frame.subarray(1) };
  }

  async #call(
    payload: Uint8Array,
  ): Promise<{ status: number; body: Uint8Array }> {
    const reply = await this.call(payload);
    if (reply.status === STATUS_ERROR) {
      throw new KvError(decoder.decode(reply.body));
    }
    return reply;
  }

  [Symbol.dispose](): void {
    this.#stream.close();
  }
}

if (import.meta.main) {
  const args = Deno.args.filter((_, i, all) =>
    !all[i]!.startsWith("--") && !all[i - 1]?.startsWith("--")
  );
  const [command, key, value] = args;
  using client = await KvClient.connect({
    hostname: flag(Deno.args, "hostname", "127.0.0.1"),
    port: portFlag(Deno.args, "7100"),
  });
  try {
    if (command === "get" && key !== undefined) {
      const found = await client.get(key);
      print(found === undefined ? "(nil)" : decoder.decode(found));
    } else if (command === "set" && key !== undefined && value !== undefined) {
      await client.set(key, value);
      print("OK");
    } else if (command === "del" && key !== undefined) {
      print((await client.delete(key)) ? "OK" : "(nil)");
    } else {
      printError(
        "usage: kv/client.ts [--port P] get KEY | set KEY VALUE | del KEY",
      );
      Deno.exitCode = 2;
    }
  } catch (error) {
    printError(`error: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
}
