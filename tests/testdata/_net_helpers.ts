// Helpers for the net/ tests: raw Deno clients that no server code touches.

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** Rejects after `ms` unless `promise` settles first; clears its timer. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads exactly `n` bytes (or fewer if the peer closes). */
export async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) return out.subarray(0, got);
    got += r;
  }
  return out;
}

/** Reads until end of stream. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  while (true) {
    let r: number | null;
    try {
      r = await conn.read(buf);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (r === null) break;
    chunks.push(buf.slice(0, r));
    total += r;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads until `text` appears in what was read (decoded as UTF-8). */
export async function readUntilText(
  conn: Deno.Conn,
  text: string,
): Promise<string> {
  let seen = "";
  const buf = new Uint8Array(4096);
  while (!seen.includes(text)) {
    const r = await conn.read(buf);
    if (r === null) throw new Error(`EOF before "${text}": got "${seen}"`);
    seen += decoder.decode(buf.subarray(0, r));
  }
  return seen;
}

/** Connects a plain TCP client to a server address. */
export function connectTo(addr: Deno.Addr): Promise<Deno.TcpConn> {
  const { hostname, port } = addr as Deno.NetAddr;
  return Deno.connect({ hostname, port });
}

/** Polls `predicate` every few ms until it holds, or throws after `ms`. */
export async function waitFor(
  predicate: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > ms) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
