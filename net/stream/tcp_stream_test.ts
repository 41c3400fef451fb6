// TcpStream reads and writes: deadlines, cancellation, maxLength, call order,
// close and half-close, bad input.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { FakeTime } from "@std/testing/time";
import { bytes, ChunkConn, pair, sleep, text } from "../../tests/_helpers.ts";
import {
  CancelledError,
  IncompleteError,
  NetError,
  TimedOutError,
  TooBigError,
} from "../errors.ts";
import { TcpListener } from "./tcp_listener.ts";
import { TcpStream } from "./tcp_stream.ts";

Deno.test("TcpStream.read() times out and the next read gets the bytes sent after", async () => {
  using p = await pair();
  const buffer = new Uint8Array(64);
  const error = await assertRejects(
    () => p.client.read(buffer, { timeoutMs: 20 }),
    TimedOutError,
    "Cannot read as the deadline passed: 'timeoutMs' was 20",
  );
  assertEquals(error.kind, "timed-out");
  await p.server.writeAll(bytes("after the timeout"));
  const n = await p.client.read(buffer, { timeoutMs: 5_000 });
  assertEquals(text(buffer.subarray(0, n!)), "after the timeout");
});

Deno.test("TcpStream reads with tiny deadlines lose no byte over many timeouts", async () => {
  using p = await pair();
  p.server.setNoDelay();
  const sent: number[] = [];
  const writer = (async () => {
    for (let i = 0; i < 300; i++) {
      const piece = Array.from(
        { length: 1 + (i % 7) },
        (_, j) => (i + j) % 256,
      );
      sent.push(...piece);
      await p.server.writeAll(new Uint8Array(piece));
      if (i % 10 === 0) await sleep(3);
    }
    await p.server.closeWrite();
  })();
  const received: number[] = [];
  let timeouts = 0;
  const buffer = new Uint8Array(5);
  while (true) {
    try {
      const n = await p.client.read(buffer, { timeoutMs: 1 });
      if (n === null) break;
      received.push(...buffer.subarray(0, n));
    } catch (error) {
      assertInstanceOf(error, TimedOutError);
      timeouts++;
    }
  }
  await writer;
  assert(timeouts > 0, "the test needs at least one timed-out read");
  assertEquals(received.length, sent.length);
  assertEquals(received, sent);
});

Deno.test("TcpStream.readExact() shares one deadline over many reads and keeps partial bytes", async () => {
  using p = await pair();
  p.server.setNoDelay();
  const writer = (async () => {
    for (let i = 0; i < 10; i++) {
      await p.server.writeAll(new Uint8Array([i]));
      await sleep(30);
    }
  })();
  // Every single read completes within ~30 ms, but the 10 bytes need ~300 ms.
  await assertRejects(
    () => p.client.readExact(10, { timeoutMs: 120 }),
    TimedOutError,
    "Cannot read exactly as the deadline passed",
  );
  // The bytes that did arrive were kept: the next call reads all 10 in order.
  assertEquals(
    await p.client.readExact(10, { timeoutMs: 5_000 }),
    new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
  );
  await writer;
});

Deno.test("TcpStream.readExact() rejects with IncompleteError holding the partial bytes at EOF", async () => {
  using p = await pair();
  await p.server.writeAll(bytes("abc"));
  await p.server.closeWrite();
  const error = await assertRejects(
    () => p.client.readExact(8, { timeoutMs: 5_000 }),
    IncompleteError,
    "Cannot read 8 bytes as the peer closed the stream: received 3",
  );
  assertEquals(text(error.partial), "abc");
  assertEquals(error.kind, "incomplete");
  // A clean end of stream: an empty partial.
  const again = await assertRejects(
    () => p.client.readExact(1),
    IncompleteError,
  );
  assertEquals(again.partial.length, 0);
  assertEquals(await p.client.read(new Uint8Array(1)), null);
});

Deno.test("TcpStream.readUntil() finds delimiters split across reads and keeps leftovers", async () => {
  const delimiter = bytes("--END--");
  const conn = new ChunkConn([
    bytes("hello--E"), // multi-byte delimiter split in the middle
    bytes("ND--wor"),
    bytes("ld-"),
    bytes("-"), // split again, one byte at a time
    bytes("END-"),
    bytes("-tail--END"),
    bytes("--rest"),
  ]);
  using stream = new TcpStream(conn.asConn());
  assertEquals(text(await stream.readUntil(delimiter)), "hello");
  assertEquals(text(await stream.readUntil(delimiter)), "world");
  assertEquals(
    text(await stream.readUntil(delimiter, { includeDelimiter: true })),
    "tail--END--",
  );
  // Bytes past the last delimiter are kept for other reads.
  assertEquals(text(await stream.readExact(2)), "re");
  const error = await assertRejects(
    () => stream.readUntil(delimiter),
    IncompleteError,
    "Cannot read until delimiter as the peer closed the stream: received 2 bytes without it",
  );
  assertEquals(text(error.partial), "st");
  assertEquals(await stream.readUntil(delimiter), null);
});

Deno.test("TcpStream.readUntil() handles a delimiter that overlaps a false start", async () => {
  // "aab" searched in "aa" + "aab": a naive resume after the first chunk misses it.
  const conn = new ChunkConn([bytes("xaa"), bytes("aab"), bytes("y")]);
  using stream = new TcpStream(conn.asConn());
  assertEquals(text(await stream.readUntil(bytes("aab"))), "xaa");
  assertEquals(text(await stream.readExact(1)), "y");
});

Deno.test("TcpStream.readUntil() over real packets, CRLF split between writes", async () => {
  using p = await pair();
  p.server.setNoDelay();
  const crlf = bytes("\r\n");
  const pieces = ["GET / HTTP/1.1\r", "\nHost: a\r\n", "\r", "\n", "body"];
  const writer = (async () => {
    for (const piece of pieces) {
      await p.server.writeAll(bytes(piece));
      await sleep(10);
    }
    await p.server.closeWrite();
  })();
  const lines: string[] = [];
  for (let i = 0; i < 3; i++) {
    lines.push(text(await p.client.readUntil(crlf, { timeoutMs: 5_000 })));
  }
  assertEquals(lines, ["GET / HTTP/1.1", "Host: a", ""]);
  assertEquals(text(await p.client.readAll({ timeoutMs: 5_000 })), "body");
  await writer;
});

Deno.test("TcpStream.readUntil() enforces maxLength", async () => {
  const nl = bytes("\n");
  {
    // Exactly maxLength bytes before the delimiter: allowed.
    using stream = new TcpStream(
      new ChunkConn([bytes("12345\n123456\n")]).asConn(),
    );
    assertEquals(text(await stream.readUntil(nl, { maxLength: 5 })), "12345");
    await assertRejects(
      () => stream.readUntil(nl, { maxLength: 5 }),
      TooBigError,
      "Cannot read until delimiter as it exceeds 'maxLength': 5",
    );
    // The bytes stay buffered: a larger limit reads the line.
    assertEquals(text(await stream.readUntil(nl, { maxLength: 6 })), "123456");
  }
  {
    // No delimiter at all: stops reading once past the limit, without EOF.
    using p = await pair();
    await p.server.writeAll(new Uint8Array(5_000).fill(65));
    const error = await assertRejects(
      () => p.client.readUntil(nl, { maxLength: 1_000, timeoutMs: 5_000 }),
      TooBigError,
    );
    assertEquals(error.kind, "too-big");
  }
});

Deno.test("TcpStream.readAll() enforces maxLength", async () => {
  for (const [maxLength, ok] of [[99, false], [100, true]] as const) {
    using p = await pair();
    await p.server.writeAll(new Uint8Array(100).fill(7));
    await p.server.closeWrite();
    if (ok) {
      const all = await p.client.readAll({ maxLength, timeoutMs: 5_000 });
      assertEquals(all, new Uint8Array(100).fill(7));
    } else {
      await assertRejects(
        () => p.client.readAll({ maxLength, timeoutMs: 5_000 }),
        TooBigError,
        "Cannot read all as it exceeds 'maxLength': 99",
      );
    }
  }
});

Deno.test("TcpStream.writeAll() times out against a peer that never reads, then finishes in the background", async () => {
  using p = await pair();
  // Far more than the loopback socket buffers hold.
  const big = new Uint8Array(32 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
  await assertRejects(
    () => p.client.writeAll(big, { timeoutMs: 200 }),
    TimedOutError,
    "Cannot write all as the deadline passed",
  );
  // Queued behind the background write; its deadline passes while it waits:
  // withdrawn, nothing of it is sent.
  await assertRejects(
    () => p.client.writeAll(bytes("WITHDRAWN"), { timeoutMs: 20 }),
    TimedOutError,
  );
  const tail = p.client.writeAll(bytes("END"), { timeoutMs: 30_000 });
  // Now the peer reads: the whole first buffer arrives, then "END".
  const received = await p.server.readExact(big.length + 3, {
    timeoutMs: 30_000,
  });
  await tail;
  for (let i = 0; i < big.length; i += 4096) {
    if (received[i] !== big[i]) throw new Error(`byte ${i} differs`);
  }
  assertEquals(text(received.subarray(big.length)), "END");
  await p.client.closeWrite();
  assertEquals(await p.server.read(new Uint8Array(1)), null);
});

Deno.test("TcpStream.write() writes once and reports the count", async () => {
  using p = await pair();
  const n = await p.client.write(bytes("hello"), { timeoutMs: 5_000 });
  assertEquals(n, 5);
  assertEquals(await p.client.write(new Uint8Array(0)), 0);
  assertEquals(text(await p.server.readExact(5)), "hello");
});

Deno.test("TcpStream read cancelled from another task keeps the stream usable", async () => {
  using p = await pair();
  const controller = new AbortController();
  const reason = new Error("stop now");
  setTimeout(() => controller.abort(reason), 20);
  const error = await assertRejects(
    () => p.client.read(new Uint8Array(8), { signal: controller.signal }),
    CancelledError,
    "Cannot read as the operation was cancelled",
  );
  assertStrictEquals(error.cause, reason);
  // An already-aborted signal fails fast.
  await assertRejects(
    () => p.client.readExact(1, { signal: controller.signal }),
    CancelledError,
  );
  await p.server.writeAll(bytes("ok"));
  assertEquals(text(await p.client.readExact(2, { timeoutMs: 5_000 })), "ok");
});

Deno.test("TcpStream default timeouts come from the stream and can be overridden", async () => {
  using p = await pair({ readTimeoutMs: 20 });
  assertEquals(p.client.readTimeoutMs, 20);
  await assertRejects(() => p.client.read(new Uint8Array(1)), TimedOutError);
  p.client.readTimeoutMs = 10;
  await assertRejects(
    () => p.client.readExact(1),
    TimedOutError,
    "'timeoutMs' was 10",
  );
  // Infinity per call overrides the default.
  setTimeout(() => p.server.writeAll(bytes("z")), 60);
  assertEquals(
    text(await p.client.readExact(1, { timeoutMs: Infinity })),
    "z",
  );
  p.client.writeTimeoutMs = 5_000;
  assertEquals(p.client.writeTimeoutMs, 5_000);
});

Deno.test("TcpStream concurrent reads run in call order", async () => {
  using p = await pair();
  const first = p.client.readExact(3);
  const second = p.client.readExact(3);
  await p.server.writeAll(bytes("abc"));
  await sleep(10);
  await p.server.writeAll(bytes("def"));
  assertEquals(text(await first), "abc");
  assertEquals(text(await second), "def");
});

Deno.test("TcpStream.close() rejects pending calls with a closed NetError", async () => {
  using p = await pair();
  const pending = p.client.read(new Uint8Array(4));
  const pendingTimed = p.client.readExact(4, { timeoutMs: 5_000 });
  await sleep(5);
  p.client.close();
  p.client.close(); // idempotent
  for (const operation of [pending, pendingTimed]) {
    const error = await assertRejects(() => operation, NetError);
    assertEquals(error.kind, "closed");
  }
  const error = await assertRejects(
    () => p.client.writeAll(bytes("x")),
    NetError,
    "Cannot write all as the stream is closed",
  );
  assertEquals(error.kind, "closed");
  assert(p.client.closed);
  // The peer sees end of stream.
  assertEquals(
    await p.server.read(new Uint8Array(1), { timeoutMs: 5_000 }),
    null,
  );
});

Deno.test("TcpStream.closeWrite() waits for queued writes, then half-closes", async () => {
  using p = await pair();
  const big = new Uint8Array(4 * 1024 * 1024).fill(1);
  const write = p.client.writeAll(big);
  const halfClose = p.client.closeWrite();
  const received = await p.server.readAll({ maxLength: big.length });
  assertEquals(received.length, big.length);
  await write;
  await halfClose;
  await assertRejects(
    () => p.client.write(bytes("late")),
    NetError,
    "Cannot write as the stream was closed for writing",
  );
  // The other direction still works.
  await p.server.writeAll(bytes("back"));
  assertEquals(text(await p.client.readExact(4)), "back");
});

Deno.test("TcpStream works over a Unix socket", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/stream.sock`;
  try {
    using listener = TcpListener.bind({ transport: "unix", path });
    using client = await TcpStream.connect({ transport: "unix", path });
    using server = await listener.accept({ timeoutMs: 5_000 });
    await client.writeAll(bytes("unix\n"));
    assertEquals(text(await server.readUntil(bytes("\n"))), "unix");
    client.setNoDelay(); // a no-op on Unix sockets
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TcpStream rejects bad input with std-style messages", async () => {
  using stream = new TcpStream(new ChunkConn([bytes("abc")]).asConn());
  await assertRejects(
    () => stream.read(new Uint8Array(1), { timeoutMs: -1 }),
    RangeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received -1",
  );
  await assertRejects(
    () => stream.read(new Uint8Array(1), { timeoutMs: NaN }),
    RangeError,
    "received NaN",
  );
  await assertRejects(
    () =>
      stream.read(new Uint8Array(1), { timeoutMs: "5" as unknown as number }),
    TypeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received '5'",
  );
  await assertRejects(
    () => stream.read("abc" as unknown as Uint8Array),
    TypeError,
    "Cannot read as 'buffer' must be a Uint8Array: received 'abc'",
  );
  await assertRejects(
    () => stream.read(new Uint8Array(1), { signal: {} as AbortSignal }),
    TypeError,
    "Cannot read as 'signal' must be an AbortSignal: received an object",
  );
  await assertRejects(
    () => stream.readUntil(new Uint8Array(0)),
    RangeError,
    "Cannot read until delimiter as 'delimiter' must not be empty: received 0 bytes",
  );
  await assertRejects(
    () => stream.readUntil(bytes("\n"), { maxLength: -1 }),
    RangeError,
    "Cannot read until delimiter as 'maxLength' must be an integer from 0 to 2 ** 30 or Infinity: received -1",
  );
  await assertRejects(
    () => stream.readAll({ maxLength: 1.5 }),
    RangeError,
    "Cannot read all as 'maxLength' must be an integer from 0 to 2 ** 30 or Infinity: received 1.5",
  );
  await assertRejects(
    () => stream.readExact(-1),
    RangeError,
    "Cannot read exactly as 'length' must be an integer from 0 to 2 ** 30: received -1",
  );
  await assertRejects(
    () => stream.writeAll([1, 2] as unknown as Uint8Array),
    TypeError,
    "Cannot write all as 'bytes' must be a Uint8Array: received an array of 2 items",
  );
  assertThrows(
    () => stream.readTimeoutMs = -5,
    RangeError,
    "Cannot set timeout as 'readTimeoutMs' must be a number from 0 to 2147483647 or Infinity: received -5",
  );
  assertThrows(
    () => new TcpStream(new ChunkConn([]).asConn(), { writeTimeoutMs: -1 }),
    RangeError,
    "Cannot create stream as 'writeTimeoutMs' must be a number from 0 to 2147483647 or Infinity: received -1",
  );
  await assertRejects(
    () => TcpStream.connect({ hostname: "127.0.0.1", port: 70_000 }),
    RangeError,
    "Cannot connect as 'port' must be an integer from 1 to 65535: received 70000",
  );
  await assertRejects(
    () =>
      TcpStream.connect({ hostname: "127.0.0.1", port: 1 }, { timeoutMs: -1 }),
    RangeError,
    "Cannot connect as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received -1",
  );
  await assertRejects(
    () => stream.read(new Uint8Array(1), { timeoutMs: 2 ** 31 }),
    RangeError,
    "Cannot read as 'timeoutMs' must be a number from 0 to 2147483647 or Infinity: received 2147483648",
  );
  await assertRejects(
    () => stream.readAll({ maxLength: 2 ** 40 }),
    RangeError,
    "Cannot read all as 'maxLength' must be an integer from 0 to 2 ** 30 or Infinity: received 1099511627776",
  );
  await assertRejects(
    () => TcpStream.connect({ hostname: 5 as unknown as string, port: 1 }),
    TypeError,
    "Cannot connect as 'hostname' must be a non-empty hostname or IP address: received 5",
  );
  // Bad input consumed nothing.
  assertEquals(text(await stream.readExact(3)), "abc");
});

Deno.test("TcpStream with timeoutMs 0 polls: buffered bytes, ready bytes, else TimedOutError", async () => {
  using p = await pair();
  await p.server.writeAll(bytes("abcdef"));
  assertEquals(text(await p.client.readExact(2, { timeoutMs: 1_000 })), "ab");
  assertEquals(p.client.bufferedBytes, 4);
  // Served from the buffer even with a zero deadline.
  assertEquals(text(await p.client.readExact(4, { timeoutMs: 0 })), "cdef");
  // Nothing there: times out.
  await assertRejects(
    () => p.client.read(new Uint8Array(1), { timeoutMs: 0 }),
    TimedOutError,
  );
  // A polling loop does not starve the read it waits for (the rejection comes
  // from a timer, so the event loop turns between polls).
  setTimeout(() => p.server.writeAll(bytes("late")), 30);
  let polls = 0;
  const buffer = new Uint8Array(4);
  let n: number | null = null;
  while (n === null) {
    polls++;
    n = await p.client.read(buffer, { timeoutMs: 0 }).catch((error) => {
      assertInstanceOf(error, TimedOutError);
      return null;
    });
  }
  assertEquals(text(buffer.subarray(0, n)), "late");
  assert(polls > 1);
});

Deno.test("TcpStream.readUntil() with random tiny deadlines receives every line once, in order", async () => {
  using p = await pair();
  p.server.setNoDelay();
  const lines = Array.from(
    { length: 400 },
    (_, i) => `line ${i} ${"x".repeat(i % 37)}`,
  );
  const wire = bytes(lines.map((line) => `${line}\r\n`).join(""));
  const writer = (async () => {
    // Random chunk sizes split lines and the two-byte delimiter anywhere.
    let seed = 7;
    const random = () =>
      (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let offset = 0; offset < wire.length;) {
      const size = 1 + Math.floor(random() * 60);
      await p.server.writeAll(wire.subarray(offset, offset + size));
      offset += size;
      if (random() < 0.1) await sleep(2);
    }
    await p.server.closeWrite();
  })();
  const received: string[] = [];
  let timeouts = 0;
  while (true) {
    try {
      const line = await p.client.readUntil(bytes("\r\n"), {
        timeoutMs: received.length % 3,
      });
      if (line === null) break;
      received.push(text(line));
    } catch (error) {
      assertInstanceOf(error, TimedOutError);
      timeouts++;
    }
  }
  await writer;
  assert(timeouts > 0, "the test needs at least one timed-out call");
  assertEquals(received, lines);
});

Deno.test("TcpStream write queued behind a stuck write is withdrawn when its signal aborts", async () => {
  using p = await pair();
  const big = new Uint8Array(32 * 1024 * 1024).fill(9);
  const controller = new AbortController();
  const stuck = p.client.writeAll(big, { signal: controller.signal });
  const queued = p.client.writeAll(bytes("NEVER"), {
    signal: controller.signal,
  });
  await sleep(50);
  controller.abort(new Error("stop"));
  // The stuck write had started: it finishes in the background; the queued one
  // had not: withdrawn.
  await assertRejects(() => stuck, CancelledError);
  await assertRejects(() => queued, CancelledError);
  const after = p.client.writeAll(bytes("AFTER"));
  const received = await p.server.readExact(big.length + 5, {
    timeoutMs: 30_000,
  });
  await after;
  assertEquals(received.subarray(0, big.length).every((b) => b === 9), true);
  assertEquals(text(received.subarray(big.length)), "AFTER");
});

Deno.test("TcpStream deadlines run on the timer clock (FakeTime)", async () => {
  const silent = {
    read: () => new Promise<never>(() => {}),
    write: (data: Uint8Array) => Promise.resolve(data.length),
    close() {},
  } as unknown as Deno.Conn;
  using time = new FakeTime();
  using stream = new TcpStream(silent, { readTimeoutMs: 1_000 });
  let settled: unknown;
  stream.readExact(4).catch((error) => settled = error);
  await time.tickAsync(999);
  assertEquals(settled, undefined);
  await time.tickAsync(1);
  assertInstanceOf(settled, TimedOutError);
  // The next call has its own deadline, on the same shared timer.
  settled = undefined;
  stream.read(new Uint8Array(4), { timeoutMs: 50 }).catch((error) =>
    settled = error
  );
  await time.tickAsync(49);
  assertEquals(settled, undefined);
  await time.tickAsync(1);
  assertInstanceOf(settled, TimedOutError);
});
