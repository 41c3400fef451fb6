// UDP sockets for the loop. Deno keeps `Deno.listenDatagram` behind the
// `--unstable-net` flag and, without it, does not define it at all: this
// module checks up front and says which flag is missing, rather than letting
// a program fail with "Deno.listenDatagram is not a function".

/**
 * Options of {@linkcode listenDatagram}.
 *
 * @example Usage
 * ```ts
 * import type { ListenDatagramOptions } from "@millrace/io/reactor";
 *
 * const options: ListenDatagramOptions = { hostname: "127.0.0.1", port: 0 };
 * ```
 */
export interface ListenDatagramOptions {
  /**
   * The address to bind.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /** The port to bind; `0` picks a free one. */
  port: number;
  /**
   * Let several sockets bind the same port (Linux spreads datagrams).
   *
   * @default {false}
   */
  reuseAddress?: boolean;
}

/**
 * Whether this Deno process can open UDP sockets (it runs with
 * `--unstable-net`, or `"unstable": ["net"]` in its config).
 *
 * @example Usage
 * ```ts
 * import { isDatagramAvailable } from "@millrace/io/reactor";
 *
 * if (!isDatagramAvailable()) console.log("run with --unstable-net for UDP");
 * ```
 *
 * @returns `true` when `Deno.listenDatagram` exists.
 */
export function isDatagramAvailable(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram ===
    "function";
}

/**
 * Binds a UDP socket to register on an `EventLoop` (events carry one
 * datagram and its sender; `loop.sendTo` answers). Needs `--unstable-net`.
 *
 * On the loop, one send is in flight per socket and at most 1,024 datagrams
 * wait behind it. UDP may drop datagrams anyway, and so does a full queue:
 * `sendTo` returns `false` then (and at or above the high-water mark, with
 * the datagram queued); register with WRITABLE to learn when the queue
 * drained. A send that fails (e.g. larger than the network allows) goes to
 * `onError` and costs that datagram only.
 *
 * @example A UDP socket on the loop
 * ```ts
 * // deno run --unstable-net --allow-net udp.ts
 * import { EventLoop, Interest, isDatagramAvailable, listenDatagram } from "@millrace/io/reactor";
 * import { assertEquals } from "@std/assert";
 *
 * if (isDatagramAvailable()) {
 *   await using loop = new EventLoop();
 *   const socket = listenDatagram({ hostname: "127.0.0.1", port: 0 });
 *   loop.register(socket, 1, Interest.READABLE, (event, loop) => {
 *     assertEquals(new TextDecoder().decode(event.data), "ping");
 *     loop.stop();
 *   });
 *   const peer = listenDatagram({ hostname: "127.0.0.1", port: 0 });
 *   await peer.send(new TextEncoder().encode("ping"), socket.addr);
 *   peer.close();
 *   await loop.run();
 * }
 * ```
 *
 * @param options Address and port.
 * @returns The socket (close it, or let the loop close it).
 * @throws {Deno.errors.NotSupported} Without `--unstable-net`.
 * @throws What `Deno.listenDatagram` throws (e.g. `AddrInUse`).
 */
export function listenDatagram(
  options: ListenDatagramOptions,
): Deno.DatagramConn {
  if (!isDatagramAvailable()) {
    throw new Deno.errors.NotSupported(
      "Cannot listen for datagrams as UDP needs the '--unstable-net' flag: run with 'deno run --unstable-net' (or add \"unstable\": [\"net\"] to deno.json)",
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot listen for datagrams as 'options' must be an object: received ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  return Deno.listenDatagram({
    transport: "udp",
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port,
    ...(options.reuseAddress === undefined
      ? {}
      : { reuseAddress: options.reuseAddress }),
  });
}
