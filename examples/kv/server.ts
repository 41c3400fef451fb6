// A key-value server speaking a length-prefixed binary protocol (see
// protocol.ts): GET, SET, DEL. Framing is the library's
// LengthPrefixedCodec: requests arrive whole in `onFrame`, replies go out with
// `ctx.sendFrame`, and a frame announcing more than 1 MiB closes that
// connection (reason "frame too large") before any of it is buffered. The
// store is bounded (`--max-bytes`, default 64 MiB of keys and values).
//
//   deno run --allow-net examples/kv/server.ts --port 7100
//   deno run --allow-net examples/kv/client.ts --port 7100 set greeting hello
//
// Behind HAProxy (send-proxy-v2) add `--proxy-protocol v2`, and
// `--health-port N` for its agent-check (examples/haproxy/).
//
// Prints `listening on HOST:PORT` first; SIGINT/SIGTERM shut it down
// gracefully and it exits 0.

import {
  type NetworkHandler,
  shutdownOnSignals,
  TcpServer,
  type TcpServerConfig,
} from "@millrace/io/net";
import {
  kvCodec,
  OP_DEL,
  OP_GET,
  parseRequest,
  response,
  STATUS_ERROR,
  STATUS_NOT_FOUND,
  STATUS_OK,
} from "./protocol.ts";
import {
  integerFlag,
  printError,
  printListening,
  serverConfig,
} from "../_args.ts";

const encoder = new TextEncoder();
const OK = response(STATUS_OK);
const NOT_FOUND = response(STATUS_NOT_FOUND);

/** The store: keys as latin1 strings (one char per byte), values copied. */
export class KvStore {
  readonly maxBytes: number;
  #map = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): Uint8Array | undefined {
    return this.#map.get(key);
  }

  /** Stores a copy of `value`; false when the store would pass its bound. */
  set(key: string, value: Uint8Array): boolean {
    const old = this.#map.get(key);
    const delta = value.length -
      (old === undefined ? -key.length : old.length);
    if (this.#bytes + delta > this.maxBytes) return false;
    this.#map.set(key, value.slice());
    this.#bytes += delta;
    return true;
  }

  delete(key: string): boolean {
    const old = this.#map.get(key);
    if (old === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= key.length + old.length;
    return true;
  }
}

function keyString(key: Uint8Array): string {
  return String.fromCharCode.apply(null, key as unknown as number[]);
}

/** The protocol's handler over `store`. */
export function createKvHandler(
  store: KvStore,
  options: { log?: (line: string) => void } = {},
): NetworkHandler<unknown, Uint8Array> {
  const log = options.log ?? (() => {});
  return {
    onFrame(ctx, id, frame) {
      const req = parseRequest(frame);
      if (typeof req === "string") {
        ctx.sendFrame(id, response(STATUS_ERROR, encoder.encode(req)));
        return;
      }
      const key = keyString(req.key);
      if (req.op === OP_GET) {
        const value = store.get(key);
        ctx.sendFrame(
          id,
          value === undefined ? NOT_FOUND : response(STATUS_OK, value),
        );
      } else if (req.op === OP_DEL) {
        ctx.sendFrame(id, store.delete(key) ? OK : NOT_FOUND);
      } else if (store.set(key, req.value)) {
        ctx.sendFrame(id, OK);
      } else {
        ctx.sendFrame(
          id,
          response(STATUS_ERROR, encoder.encode("store full")),
        );
      }
    },
    onError(_ctx, error, id) {
      log(`connection ${id ?? "-"}: ${error.message}`);
    },
  };
}

/** The KV server on `config`. */
export function createKvServer(
  config: TcpServerConfig,
  options: { maxBytes?: number; log?: (line: string) => void } = {},
): TcpServer<unknown, Uint8Array> {
  const store = new KvStore(options.maxBytes ?? 64 * 1024 * 1024);
  return new TcpServer(config, createKvHandler(store, options), {
    codec: kvCodec(),
  });
}

if (import.meta.main) {
  // Behind a load balancer: --proxy-protocol v1|v2|any|optional,
  // --trusted-proxies, --health-port (see examples/haproxy/).
  const config = serverConfig(Deno.args);
  const maxBytes = integerFlag(
    Deno.args,
    "max-bytes",
    String(64 * 1024 * 1024),
    { min: 0 },
  );
  const server = createKvServer(config, { maxBytes, log: printError });
  const serving = server.run();
  printListening(server.addr);
  using _signals = shutdownOnSignals(server);
  await serving;
}
