import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { bytes, ChunkConn, sleep, text } from "../../tests/_helpers.ts";
import { CancelledError, NetError, TimedOutError } from "../errors.ts";
import { TcpListener } from "./tcp_listener.ts";
import { TcpStream } from "./tcp_stream.ts";

/**
 * A fake `Deno.Listener` whose accept() follows a script: an Error rejects, a
 * ChunkConn resolves, "hang" stays pending until close().
 */
class ScriptedListener {
  calls = 0;
  closed = false;
  #script: (Error | ChunkConn | "hang")[];
  #hanging: ((error: Error) => void)[] = [];
  readonly addr: Deno.Addr = {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 1,
  };

  constructor(
    script: (Error | ChunkConn | "hang")[],
    readonly repeatLast = false,
  ) {
    this.#script = script;
  }

  accept(): Promise<Deno.Conn> {
    this.calls++;
    const step = this.repeatLast && this.#script.length === 1
      ? this.#script[0]!
      : this.#script.shift() ?? "hang";
    if (step === "hang") {
      return new Promise((_, reject) => this.#hanging.push(reject));
    }
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve(step.asConn());
  }

  close(): void {
    this.closed = true;
    for (const reject of this.#hanging.splice(0)) {
      reject(new Deno.errors.BadResource("Listener has been closed"));
    }
  }

  asListener(): Deno.Listener {
    return this as unknown as Deno.Listener;
  }
}

function withCode(code: string): Error {
  return Object.assign(new Error(`accept failed: ${code}`), { code });
}

Deno.test("TcpListener.accept() times out, and the next accept adopts the pending one", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  await assertRejects(
    () => listener.accept({ timeoutMs: 20 }),
    TimedOutError,
    "Cannot accept as the deadline passed: 'timeoutMs' was 20",
  );
  // The accept from the timed-out call is still in flight. Had a second
  // accept been started, the first would take this connection and lose it.
  using client = await TcpStream.connect(listener.addr, { timeoutMs: 5_000 });
  using server = await listener.accept({ timeoutMs: 5_000 });
  await client.writeAll(bytes("hi"));
  assertEquals(text(await server.readExact(2, { timeoutMs: 5_000 })), "hi");
});

Deno.test("TcpListener closes a connection that a timed-out accept produced after close()", async () => {
  {
    // Deterministic: a fake listener whose pending accept resolves late.
    const conn = new ChunkConn([]);
    let resolveAccept: (conn: Deno.Conn) => void = () => {};
    const fake = {
      addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
      accept: () =>
        new Promise<Deno.Conn>((resolve) => resolveAccept = resolve),
      close() {},
    } as unknown as Deno.Listener;
    const listener = new TcpListener(fake);
    await assertRejects(
      () => listener.accept({ timeoutMs: 10 }),
      TimedOutError,
    );
    listener.close();
    resolveAccept(conn.asConn());
    await sleep(0);
    assert(conn.closed, "the late connection must be closed");
  }
  {
    // Real sockets: the connection lands in the adopted accept, then close().
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    await assertRejects(
      () => listener.accept({ timeoutMs: 10 }),
      TimedOutError,
    );
    using client = await TcpStream.connect(listener.addr, { timeoutMs: 5_000 });
    await sleep(50); // let the pending accept take it
    listener.close();
    // The server side was closed, not leaked (the sanitizer checks too).
    const n = await client.read(new Uint8Array(1), { timeoutMs: 5_000 }).catch(
      (error) => {
        assertInstanceOf(error, Deno.errors.ConnectionReset);
        return null;
      },
    );
    assertEquals(n, null);
  }
});

Deno.test("TcpListener retries at once after reset, aborted and refused", async () => {
  const conn = new ChunkConn([bytes("x")]);
  const fake = new ScriptedListener([
    new Deno.errors.ConnectionReset("reset"),
    new Deno.errors.ConnectionAborted("aborted"),
    new Deno.errors.ConnectionRefused("refused"),
    withCode("ECONNABORTED"),
    conn,
  ]);
  const reported: unknown[] = [];
  // A back-off of 10 s inside a 5 s deadline: any sleep would time out.
  using listener = new TcpListener(fake.asListener(), {
    acceptErrorDelayMs: 10_000,
    onError: (error) => reported.push(error),
  });
  using stream = await listener.accept({ timeoutMs: 5_000 });
  assertEquals(text(await stream.readExact(1)), "x");
  assertEquals(fake.calls, 5);
  assertEquals(reported, []);
});

Deno.test("TcpListener reports EMFILE and backs off before accepting again", async () => {
  {
    // Within a pause of 10 s, a 300 ms accept makes no second attempt.
    const emfile = withCode("EMFILE");
    const fake = new ScriptedListener([emfile, new ChunkConn([])]);
    const reported: unknown[] = [];
    using listener = new TcpListener(fake.asListener(), {
      acceptErrorDelayMs: 10_000,
      onError: (error) => reported.push(error),
    });
    await assertRejects(
      () => listener.accept({ timeoutMs: 300 }),
      TimedOutError,
    );
    assertEquals(reported, [emfile]);
    assertEquals(fake.calls, 1);
  }
  {
    // After the pause it accepts again.
    const emfile = withCode("EMFILE");
    const fake = new ScriptedListener([emfile, new ChunkConn([bytes("y")])]);
    const reported: unknown[] = [];
    using listener = new TcpListener(fake.asListener(), {
      acceptErrorDelayMs: 50,
      onError: (error) => reported.push(error),
    });
    using stream = await listener.accept({ timeoutMs: 5_000 });
    assertEquals(reported, [emfile]);
    assertEquals(fake.calls, 2);
    assertEquals(text(await stream.readExact(1)), "y");
  }
});

Deno.test("TcpListener never spins on a persistent accept error", async () => {
  for (const acceptErrorDelayMs of [100, 0]) {
    const fake = new ScriptedListener([withCode("ENFILE")], true);
    let reported = 0;
    using listener = new TcpListener(fake.asListener(), {
      acceptErrorDelayMs,
      onError: () => reported++,
    });
    await assertRejects(
      () => listener.accept({ timeoutMs: 300 }),
      TimedOutError,
    );
    // With 100 ms pauses at most ~4 attempts fit in 300 ms; a hot loop makes
    // thousands (or, on a rejecting fake, starves the timers so the deadline
    // never fires). With a pause of 0 every retry still goes through a timer.
    const limit = acceptErrorDelayMs === 100 ? 5 : 1_000;
    assertLessOrEqual(fake.calls, limit);
    // Every attempt's error was reported, but the last attempt's may still be
    // in flight when the deadline passed (the next accept adopts it).
    assert(
      fake.calls - reported <= 1 && reported <= fake.calls,
      `${fake.calls} attempts, ${reported} reported`,
    );
  }
});

Deno.test("TcpListener.accept() is cancelled by a signal and by close()", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("enough")), 20);
  const error = await assertRejects(
    () => listener.accept({ signal: controller.signal }),
    CancelledError,
    "Cannot accept as the operation was cancelled",
  );
  assertEquals((error.cause as Error).message, "enough");
  const pending = listener.accept();
  setTimeout(() => listener.close(), 20);
  const closed = await assertRejects(
    () => pending,
    NetError,
    "Cannot accept as the listener is closed",
  );
  assertEquals(closed.kind, "closed");
  assert(listener.closed);
});

Deno.test("TcpListener iterates until closed and passes stream defaults on", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
    readTimeoutMs: 15,
  });
  const clients = await Promise.all(
    [0, 1, 2].map(() => TcpStream.connect(listener.addr)),
  );
  const streams: TcpStream[] = [];
  for await (const stream of listener) {
    streams.push(stream);
    assertEquals(stream.readTimeoutMs, 15);
    if (streams.length === 3) listener.close();
  }
  assertEquals(streams.length, 3);
  await assertRejects(() => streams[0]!.read(new Uint8Array(1)), TimedOutError);
  for (const stream of [...streams, ...clients]) stream.close();
});

Deno.test("TcpListener rejects bad input with std-style messages", async () => {
  assertThrows(
    () => TcpListener.bind({ hostname: "127.0.0.1", port: -1 }),
    RangeError,
    "Cannot bind listener as 'port' must be an integer from 0 to 65535: received -1",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
        acceptErrorDelayMs: -1,
      }),
    RangeError,
    "Cannot bind listener as 'acceptErrorDelayMs' must be an integer from 0 to 2147483647: received -1",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, { tcpBacklog: 1.5 }),
    RangeError,
    "Cannot bind listener as 'tcpBacklog' must be an integer from 1 to 65535: received 1.5",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
        tcpBacklog: 2 ** 40,
      }),
    RangeError,
    "Cannot bind listener as 'tcpBacklog' must be an integer from 1 to 65535: received 1099511627776",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
        acceptErrorDelayMs: 0.5,
      }),
    RangeError,
    "Cannot bind listener as 'acceptErrorDelayMs' must be an integer from 0 to 2147483647: received 0.5",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
        readTimeoutMs: -3,
      }),
    RangeError,
    "Cannot bind listener as 'readTimeoutMs' must be a number from 0 to 2147483647 or Infinity: received -3",
  );
  assertThrows(
    () =>
      TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
        onError: 5 as never,
      }),
    TypeError,
    "Cannot bind listener as 'onError' must be a function: received 5",
  );
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  await assertRejects(
    () => listener.accept({ timeoutMs: -1 }),
    RangeError,
    "Cannot accept as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received -1",
  );
  await assertRejects(
    () => listener.accept(null as never),
    TypeError,
    "Cannot accept as 'options' must be an object: received null",
  );
});

Deno.test("TcpListener logs accept errors with console.error when no onError is given", async () => {
  const logged: unknown[][] = [];
  const output = globalThis.console;
  const original = output.error;
  output.error = (...args: unknown[]) => logged.push(args);
  try {
    const emfile = withCode("EMFILE");
    const fake = new ScriptedListener([emfile, new ChunkConn([])]);
    using listener = new TcpListener(fake.asListener(), {
      acceptErrorDelayMs: 10,
    });
    using _stream = await listener.accept({ timeoutMs: 5_000 });
  } finally {
    output.error = original;
  }
  assertEquals(logged.length, 1);
  assertEquals(
    logged[0]![0],
    "TcpListener: accept failed, accepting again in 10 ms:",
  );
  assertEquals(logged[0]![1], withCode("EMFILE"));
});
