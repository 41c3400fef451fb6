// Handler module for tests/multicore_test.ts: a line protocol to drive a
// multi-worker TcpServer from a client.
//   id            -> "id <this connection's id> <worker index>"
//   to ID TEXT    -> sends "TEXT\n" to connection ID (any Worker), "ok true|false"
//   route ID TEXT -> as `to`, answers "route taken" or "route refused" (an
//                    error went to onError: the outbox is full)
//   all TEXT      -> broadcasts "TEXT\n" to every connection, "sent N"
//   close ID      -> closes connection ID, "closed true|false"
//   ids           -> "ids A B C" (server-wide)
//   count         -> "count N"
//   thread        -> "thread main" (in-process) or "thread worker"
//   addr ID       -> "addr JSON": connection ID's remoteAddr and what its
//                    proxyInfo holds (any Worker's connection)
//   crash         -> kills this Worker with an uncaught error
//   hold          -> never answers (stays open through a graceful shutdown)
//   stall [ids|addrs] -> blocks this Worker's thread (a Worker that does not
//                    keep up) until a `flood` or `release` on another Worker
//                    releases it (or 10 s), then "resumed" (or, with `ids`,
//                    the `ids` answer computed before the loop runs again;
//                    with `addrs`, "addrs ID=HOST:PORT>LOCALPORT/none|some
//                    ..." (none|some: proxyInfo) for every connection, or
//                    ID=ErrorName)
//   release       -> releases a stalled Worker, "released"
//   gate          -> "gate 1" while a Worker stalls, else "gate 0"
//   has ID        -> "has true|false"
//   big N         -> sends N bytes "x" to this connection (no line end)
//   flood ID N S  -> once a Worker stalls: N routed sendTo of "fI <S x's>" to
//                    connection ID, then one broadcast "during stall <S x's>", then
//                    releases the stall; answers "flood JSON" with the I
//                    accepted (no error reported for them), the broadcast's
//                    count and the errors onError got, counted by text
// A connection that was on a crashed Worker is announced to all as
// "gone ID worker crashed".
import type {
  NetworkHandler,
  ServerContext,
  WorkerInitInfo,
} from "../../net/mod.ts";

let index = -1;
const buffers = new Map<number, string>();
const decoder = new TextDecoder();
// Shared by every Worker (workerData.gate): 1 while a Worker stalls.
let gate: Int32Array | undefined;
// What onError got, as "Name id message".
const errors: string[] = [];

export function init(info: WorkerInitInfo): void {
  index = info.index;
  const shared = (info.workerData as { gate?: SharedArrayBuffer } | undefined)
    ?.gate;
  if (shared !== undefined) gate = new Int32Array(shared);
  // Tests may pass a heartbeat word to see the handler's thread run; the
  // beat stops when the server shuts down.
  const beat = (info.workerData as { beat?: SharedArrayBuffer } | undefined)
    ?.beat;
  if (beat !== undefined) {
    const word = new Int32Array(beat);
    const timer = setInterval(() => Atomics.add(word, index, 1), 1);
    info.signal.addEventListener("abort", () => clearInterval(timer));
  }
}

function answer(ctx: ServerContext, id: number, line: string): void {
  const [verb, arg, ...rest] = line.split(" ");
  switch (verb) {
    case "id":
      ctx.sendTo(id, `id ${id} ${index}\n`);
      break;
    case "to":
      ctx.sendTo(id, `ok ${ctx.sendTo(Number(arg), rest.join(" ") + "\n")}\n`);
      break;
    case "route": {
      const before = errors.length;
      ctx.sendTo(Number(arg), rest.join(" ") + "\n");
      ctx.sendTo(
        id,
        `route ${errors.length === before ? "taken" : "refused"}\n`,
      );
      break;
    }
    case "all":
      ctx.sendTo(
        id,
        `sent ${ctx.broadcast([arg, ...rest].join(" ") + "\n")}\n`,
      );
      break;
    case "close":
      ctx.sendTo(id, `closed ${ctx.closeConnection(Number(arg))}\n`);
      break;
    case "ids":
      ctx.sendTo(id, `ids ${ctx.connectionIds().join(" ")}\n`);
      break;
    case "count":
      ctx.sendTo(id, `count ${ctx.connectionCount}\n`);
      break;
    case "addr": {
      const info = ctx.proxyInfo(Number(arg));
      const header = info?.header;
      const unique = header?.uniqueId;
      ctx.sendTo(
        id,
        `addr ${
          JSON.stringify({
            remote: ctx.remoteAddr(Number(arg)),
            fromHeader: info?.addressesFromHeader,
            source: header?.source,
            authority: header?.authority,
            uniqueId: unique instanceof Uint8Array
              ? decoder.decode(unique)
              : `not bytes: ${JSON.stringify(unique)}`,
            tlvBytes: header?.tlvs.every((t) => t.value instanceof Uint8Array),
          })
        }\n`,
      );
      break;
    }
    case "thread":
      // Deno's main thread has `Window`; a Worker's scope does not.
      ctx.sendTo(id, `thread ${"Window" in globalThis ? "main" : "worker"}\n`);
      break;
    case "stall":
      Atomics.store(gate!, 0, 1);
      Atomics.notify(gate!, 0);
      Atomics.wait(gate!, 0, 1, 10_000);
      ctx.sendTo(
        id,
        arg === "ids"
          ? `ids ${ctx.connectionIds().join(" ")}\n`
          : arg === "addrs"
          ? `addrs ${addresses(ctx)}\n`
          : "resumed\n",
      );
      break;
    case "release":
      Atomics.store(gate!, 0, 0);
      Atomics.notify(gate!, 0);
      ctx.sendTo(id, "released\n");
      break;
    case "gate":
      ctx.sendTo(id, `gate ${Atomics.load(gate!, 0)}\n`);
      break;
    case "has":
      ctx.sendTo(id, `has ${ctx.has(Number(arg))}\n`);
      break;
    case "big":
      ctx.sendTo(id, new Uint8Array(Number(arg)).fill(120));
      break;
    case "flood":
      ctx.sendTo(id, `flood ${JSON.stringify(flood(ctx, line))}\n`);
      break;
    case "crash":
      setTimeout(() => {
        throw new Error("crash requested");
      }, 0);
      break;
  }
}

function addresses(ctx: ServerContext): string {
  return ctx.connectionIds().map((id) => {
    try {
      const remote = ctx.remoteAddr(id) as Deno.NetAddr;
      const local = ctx.localAddr(id) as Deno.NetAddr;
      const proxy = ctx.proxyInfo(id) === undefined ? "none" : "some";
      return `${id}=${remote.hostname}:${remote.port}>${local.port}/${proxy}`;
    } catch (error) {
      return `${id}=${(error as Error).name}`;
    }
  }).join(" ");
}

function flood(ctx: ServerContext, line: string): unknown {
  const [, target, count, size] = line.split(" ").map(Number);
  // Wait for the target's Worker to stall.
  Atomics.wait(gate!, 0, 0, 10_000);
  errors.length = 0;
  const accepted: number[] = [];
  let sent: number;
  try {
    const filler = "x".repeat(size!);
    for (let i = 0; i < count!; i++) {
      const before = errors.length;
      ctx.sendTo(target!, `f${i} ${filler}\n`);
      if (errors.length === before) accepted.push(i);
    }
    sent = ctx.broadcast(`during stall ${filler}\n`);
  } finally {
    Atomics.store(gate!, 0, 0);
    Atomics.notify(gate!, 0);
  }
  const reported: Record<string, number> = {};
  for (const error of errors) reported[error] = (reported[error] ?? 0) + 1;
  return { accepted, sent, errors: reported };
}

const handler: NetworkHandler = {
  onData(ctx, id, data) {
    let text = (buffers.get(id) ?? "") + decoder.decode(data);
    let at: number;
    while ((at = text.indexOf("\n")) >= 0) {
      answer(ctx, id, text.slice(0, at));
      text = text.slice(at + 1);
    }
    buffers.set(id, text);
  },
  onError(_ctx, error, id) {
    errors.push(`${error.name} ${id} ${error.message}`);
  },
  onDisconnect(ctx, id, reason) {
    buffers.delete(id);
    if (reason === "worker crashed") ctx.broadcast(`gone ${id} ${reason}\n`);
  },
};
export default handler;
