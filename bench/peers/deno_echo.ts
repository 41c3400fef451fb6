// The hand-written Deno echo loop the millrace servers are measured against:
// one async read/write loop per connection over `conn.read`/`conn.write`.
// Usage: deno run --allow-net bench/peers/deno_echo.ts
//          [--hostname 127.0.0.1] [--port 0] [--buffer 16384]
// `--buffer 4096` is the idle-RSS variant (a smaller buffer pinned by each
// pending read).

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1]! : fallback;
}

const hostname = option("--hostname", "127.0.0.1");
const port = Number(option("--port", "0"));
const bufferSize = Number(option("--buffer", "16384"));

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

async function serve(conn: Deno.Conn): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay(true);
  const buf = new Uint8Array(bufferSize);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
    }
  } catch {
    // reset or broken pipe: drop this connection only
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({ hostname, port });
const addr = listener.addr as Deno.NetAddr;
await Deno.stdout.write(
  new TextEncoder().encode(`listening on ${addr.hostname}:${addr.port}\n`),
);
const stop = (): void => Deno.exit(0);
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
for (;;) {
  try {
    for await (const conn of listener) serve(conn);
    break;
  } catch {
    // EMFILE and friends: back off, keep accepting
    await new Promise((r) => setTimeout(r, 100));
  }
}
