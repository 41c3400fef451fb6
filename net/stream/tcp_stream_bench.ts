// Cost of deadlines: 64-byte ping-pong over loopback against a raw echo
// server, raw Deno.Conn vs TcpStream (no deadline, with a deadline, with a
// Canceller). Each iteration runs ROUND_TRIPS round trips on a fresh pair.
import { Canceller } from "./canceller.ts";
import { TcpStream } from "./tcp_stream.ts";

const ROUND_TRIPS = 200;
const SIZE = 64;

async function withEcho(
  body: (port: number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    const conn = await listener.accept();
    conn.setNoDelay(true);
    const buffer = new Uint8Array(SIZE * 4);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let offset = 0;
        while (offset < n) {
          offset += await conn.write(buffer.subarray(offset, n));
        }
      }
    } finally {
      conn.close();
    }
  })();
  try {
    await body((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    await echo;
  }
}

const payload = new Uint8Array(SIZE).fill(42);

Deno.bench({
  name: "raw Deno.Conn ping-pong",
  group: "ping-pong 64 B x200",
  baseline: true,
  async fn(b) {
    await withEcho(async (port) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.setNoDelay(true);
      const buffer = new Uint8Array(SIZE);
      b.start();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        await conn.write(payload);
        let got = 0;
        while (got < SIZE) got += (await conn.read(buffer.subarray(got)))!;
      }
      b.end();
      conn.close();
    });
  },
});

for (
  const [name, options] of [
    ["TcpStream, no deadline", {}],
    ["TcpStream, timeoutMs on every call", { timeoutMs: 5_000 }],
  ] as const
) {
  Deno.bench({
    name,
    group: "ping-pong 64 B x200",
    async fn(b) {
      await withEcho(async (port) => {
        using stream = await TcpStream.connect({ hostname: "127.0.0.1", port });
        stream.setNoDelay();
        b.start();
        for (let i = 0; i < ROUND_TRIPS; i++) {
          await stream.writeAll(payload, options);
          await stream.readExact(SIZE, options);
        }
        b.end();
      });
    },
  });
}

Deno.bench({
  name: "TcpStream with a Canceller",
  group: "ping-pong 64 B x200",
  async fn(b) {
    await withEcho(async (port) => {
      using canceller = new Canceller();
      using stream = await TcpStream.connect({ hostname: "127.0.0.1", port }, {
        canceller,
      });
      stream.setNoDelay();
      b.start();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        await stream.writeAll(payload);
        await stream.readExact(SIZE);
      }
      b.end();
    });
  },
});
