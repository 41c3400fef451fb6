import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { bytes } from "../../tests/_helpers.ts";
import { Canceller } from "./canceller.ts";
import { CancelledError } from "../errors.ts";
import { TcpListener } from "./tcp_listener.ts";
import { TcpStream } from "./tcp_stream.ts";

Deno.test("Canceller.cancel() aborts its signal once, with the given reason", () => {
  const canceller = new Canceller();
  assertFalse(canceller.cancelled);
  canceller.throwIfCancelled();
  const reason = new Error("first");
  canceller.cancel(reason);
  canceller.cancel(new Error("second"));
  assert(canceller.cancelled);
  assertStrictEquals(canceller.signal.reason, reason);
  const error = assertThrows(
    () => canceller.throwIfCancelled(),
    CancelledError,
  );
  assertStrictEquals(error.cause, reason);
});

Deno.test("Canceller default reason is a CancelledError; dispose cancels", () => {
  const canceller = new Canceller();
  canceller[Symbol.dispose]();
  assert(canceller.cancelled);
  assertInstanceOf(canceller.signal.reason, CancelledError);
});

Deno.test("Canceller signal works for any call that takes a signal", async () => {
  using canceller = new Canceller();
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  using client = await TcpStream.connect(listener.addr);
  using _server = await listener.accept();
  const pending = client.read(new Uint8Array(4), { signal: canceller.signal });
  const accepting = listener.accept({ signal: canceller.signal });
  canceller.cancel();
  await assertRejects(() => pending, CancelledError);
  await assertRejects(() => accepting, CancelledError);
});

Deno.test("Canceller.fromSignals() cancels on a real signal and removes its listeners", async () => {
  const seen: Deno.Signal[] = [];
  using canceller = Canceller.fromSignals(["SIGUSR1"], {
    onSignal: (signal) => seen.push(signal),
  });
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const pending = listener.accept({ signal: canceller.signal });
  Deno.kill(Deno.pid, "SIGUSR1");
  const error = await assertRejects(() => pending, CancelledError);
  assertEquals(
    (error.cause as Error).message,
    "Cannot continue as the process received SIGUSR1",
  );
  assertEquals(seen, ["SIGUSR1"]);
  // The listeners are gone (the ops sanitizer would report them otherwise).
});

Deno.test("Canceller.fromSignals() rejects bad input and leaves nothing registered", () => {
  assertThrows(
    () => Canceller.fromSignals([]),
    TypeError,
    "Cannot create canceller as 'signals' must be a non-empty array: received an empty array",
  );
  assertThrows(() =>
    Canceller.fromSignals(["SIGUSR1", "SIGNOPE" as Deno.Signal])
  );
  // Disposing without a signal removes the listeners too.
  const canceller = Canceller.fromSignals(["SIGUSR2"]);
  canceller[Symbol.dispose]();
});

Deno.test("Canceller cancels every pending operation of its scope at once", async () => {
  using canceller = new Canceller();
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 }, {
    canceller,
  });
  using client = await TcpStream.connect(listener.addr, { canceller });
  using server = await listener.accept();
  using other = await TcpStream.connect(listener.addr, { canceller });
  using _otherServer = await listener.accept();
  const pending = [
    client.read(new Uint8Array(8)),
    other.readUntil(bytes("\n")),
    server.readExact(4),
    listener.accept(),
  ];
  setTimeout(() => canceller.cancel(new Error("shutting down")), 20);
  for (const operation of pending) {
    const error = await assertRejects(() => operation, CancelledError);
    assertEquals((error.cause as Error).message, "shutting down");
  }
  // Started after cancel(): fail fast.
  await assertRejects(() => client.writeAll(bytes("x")), CancelledError);
  await assertRejects(() => listener.accept(), CancelledError);
  await assertRejects(
    () => TcpStream.connect(listener.addr, { canceller }),
    CancelledError,
  );
});
