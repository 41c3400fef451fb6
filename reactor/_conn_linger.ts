// `close(token, options)`; at length, the graceful close of a connection,
// `close(token, { flush: true })`: write the
// queue out, then a lingering close (nginx's `lingering_close`, Apache's
// lingering close). Closing a socket whose receive buffer still holds
// unread bytes makes Linux send RST instead of FIN, and a RST makes the
// peer drop what it received but has not read yet: bytes the loop had
// "written" never arrive. So after the flush the write side is half-closed
// (the peer reads end of stream after the last byte) and the peer's input
// is read and discarded until its end of stream, an error, the linger time
// or an abort; only then is the socket closed. The source is deregistered
// at once: its handler sees no more events and its token is free.

import type { Token } from "./token.ts";
import type { CloseOptions } from "./event_loop_options.ts";
import { validateMilliseconds, validateSignal } from "../_internal/validate.ts";
import { type Entry, KIND_CONN } from "./_entry.ts";
import { closeEntry, detach, entryOf, type LoopCore } from "./_core.ts";
import { RESOLVED } from "../_internal/resolved.ts";
import { flushEntry, startWrite } from "./_conn_writer.ts";

// Lingering reads only discard: every lingering connection reads into this
// one buffer (the bytes are never looked at).
const DISCARD = new Uint8Array(16 * 1024);

/**
 * `close()`: closes the source of `token` at once, or for a connection with
 * `flush: true` gracefully; resolves once it is closed.
 *
 * Not `async`: a close with nothing left to settle (the churn path) returns
 * one shared resolved promise, without an async function's promise and the
 * microtask turns of its awaits. Bad arguments still reject, never throw.
 */
export function closeSource(
  core: LoopCore,
  token: Token,
  options: CloseOptions,
): Promise<void> {
  try {
    const e = entryOf(core, token, "close source");
    if (options.flush && e.kind === KIND_CONN) {
      const lingerMs = options.lingerMs === undefined
        ? core.lingerMs
        : validateMilliseconds("close source", "lingerMs", options.lingerMs);
      const signal = validateSignal("close source", "signal", options.signal);
      return closeGracefully(core, e, lingerMs, signal);
    }
    return closeEntry(core, e) ?? RESOLVED;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Deregisters connection `e` now, writes its queue out, lingers up to
 * `lingerMs` (none when 0), then closes it. `signal` (or disposing of the
 * loop) cuts the flush and the linger short. Never rejects.
 */
function closeGracefully(
  core: LoopCore,
  e: Entry,
  lingerMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (
    e.queuedBytes === 0 && !e.writing && !e.kickPending &&
    (lingerMs === 0 || e.eofSeen || e.readEof)
  ) {
    // Nothing to write and nothing to linger for (the common close after
    // the peer's end of stream): close now, without the controller, the
    // listeners and the async chain below (the churn path).
    return closeEntry(core, e) ?? RESOLVED;
  }
  return flushAndLinger(core, e, lingerMs, signal);
}

/**
 * `closeGracefully` with something to write or to linger for. (Apart, so
 * that the common close allocates no context for these closures.)
 */
function flushAndLinger(
  core: LoopCore,
  e: Entry,
  lingerMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  detach(core, e);
  // Writes queued by the handler now running start after it returns, but
  // only for a registered source: start them here.
  if (e.kickPending) {
    e.kickPending = false;
    if (!e.writing && e.wHead !== undefined) startWrite(core, e);
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  core.closers.add(stop);
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) controller.abort();
  const done = flushThenLinger(core, e, lingerMs, controller.signal).finally(
    () => {
      core.closers.delete(stop);
      signal?.removeEventListener("abort", onAbort);
      core.lingering.delete(done);
    },
  );
  core.lingering.add(done);
  return done;
}

async function flushThenLinger(
  core: LoopCore,
  e: Entry,
  lingerMs: number,
  signal: AbortSignal,
): Promise<void> {
  try {
    if ((e.queuedBytes > 0 || e.writing) && !signal.aborted) {
      try {
        await flushEntry(e, signal);
      } catch {
        // The write failed or the wait was cut short: close now.
      }
    }
    // After the peer's end of stream nothing more can arrive, so nothing
    // can be left unread: no linger needed (the common close after EOF).
    const peerDone = e.eofSeen || e.readEof;
    if (
      lingerMs > 0 && !peerDone && !signal.aborted && !e.writeFailed &&
      !e.closing
    ) {
      await linger(e, lingerMs, signal);
    }
  } finally {
    const settled = closeEntry(core, e);
    if (settled !== undefined) await settled;
  }
}

/** Half-closes `e`, then discards its input until EOF, error or time-out. */
async function linger(
  e: Entry,
  lingerMs: number,
  signal: AbortSignal,
): Promise<void> {
  const conn = e.conn;
  if (!e.writeShut) {
    e.writeShut = true;
    try {
      await conn.closeWrite();
    } catch {
      return; // Already reset or closed: nothing left to protect.
    }
  }
  // Closing the conn makes a pending read reject (Interrupted): that is how
  // the linger time and an abort end the wait.
  const cut = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const timer = setTimeout(cut, lingerMs);
  signal.addEventListener("abort", cut, { once: true });
  try {
    // A read the loop left in flight comes first (its bytes are dropped:
    // the source is deregistered); Deno answers EOF again after EOF.
    if (e.reading && e.readPromise !== undefined) await e.readPromise;
    while (!signal.aborted && (await conn.read(DISCARD)) !== null) {
      // Discard.
    }
  } catch {
    // Reset by the peer, or closed by the timer or an abort.
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", cut);
  }
}
