// Hostile peers against examples/chat_server.ts run as a subprocess: invalid
// UTF-8, NUL bytes, overlong lines, command abuse, lines after /quit, and a
// member that never reads while the room is busy. The server must answer
// with an error line or cut only the offender, keep everyone else chatting,
// stay alive, and keep its RSS bounded.
import {
  assert,
  assertEquals,
  assertLess,
  assertStringIncludes,
} from "@std/assert";
import {
  closeQuietly,
  connect,
  encoder,
  type Example,
  LineReader,
  readToEnd,
  startExample,
  within,
  writeAll,
} from "./_helpers.ts";

/** A chat member reading line by line. */
class Member {
  readonly conn: Deno.Conn;
  #lines: LineReader;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#lines = new LineReader(conn);
  }

  static async join(ex: Example): Promise<Member> {
    const m = new Member(await connect(ex.port));
    const welcome = await m.line();
    assert(welcome.startsWith("* welcome "), welcome);
    return m;
  }

  /** The next line (without "\n"); throws at EOF. */
  async line(ms = 10_000): Promise<string> {
    const line = await within(this.#lines.next(), ms, "a chat line");
    if (line === null) {
      throw new Error(`EOF; pending ${JSON.stringify(this.#lines.pending)}`);
    }
    return line;
  }

  /** Skips lines until one satisfies `match`; returns it. */
  async until(
    match: (line: string) => boolean,
    limit = 100_000,
  ): Promise<string> {
    for (let i = 0; i < limit; i++) {
      const line = await this.line();
      if (match(line)) return line;
    }
    throw new Error("no matching line");
  }

  async say(bytes: string | Uint8Array): Promise<void> {
    await writeAll(
      this.conn,
      typeof bytes === "string" ? encoder.encode(bytes) : bytes,
    );
  }

  close(): void {
    closeQuietly(this.conn);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Starts examples/chat_server.ts (see {@linkcode startExample}). */
function startChat(): Promise<Example> {
  return startExample("chat_server.ts", { permissions: ["-A"] });
}

Deno.test("hostile chat: invalid UTF-8, NUL bytes and overlong lines are contained", async () => {
  await using ex = await startChat();
  using a = await Member.join(ex);
  using b = await Member.join(ex);
  await a.until((l) => l.endsWith(" joined"));
  await a.say("/nick alice\n");
  await b.until((l) => l === "* guest1 is now alice");
  await a.until((l) => l === "* guest1 is now alice");
  // Invalid UTF-8 (lone continuation, truncated sequence, overlong NUL,
  // surrogate half) and a NUL: relayed, decoded with U+FFFD, no crash.
  await a.say(new Uint8Array([0x80, 0x41, 0xe2, 0x82, 0x0a]));
  assertEquals(await b.line(), "alice: \uFFFDA\uFFFD");
  await a.say(
    new Uint8Array([0xc0, 0x80, 0xed, 0xa0, 0x80, 0x00, 0x42, 0x0d, 0x0a]),
  );
  const odd = await b.line();
  assert(
    odd.startsWith("alice: ") && odd.endsWith("\u0000B"),
    JSON.stringify(odd),
  );
  // A 1 MiB line without a newline, then its newline: one error to the
  // sender, nothing to the others, and the sender can go on chatting.
  await a.say(new Uint8Array(1024 * 1024).fill(0x61));
  await a.say("\nafter the flood\n");
  assertEquals(
    await a.line(),
    "error: line too long (max 4096 bytes), dropped",
  );
  assertEquals(await b.line(), "alice: after the flood");
  // Exactly at the limit passes; one byte more does not.
  await a.say("y".repeat(4096) + "\n");
  assertEquals(await b.line(), "alice: " + "y".repeat(4096));
  await a.say("z".repeat(4097) + "\nok\n");
  assertEquals(
    await a.line(),
    "error: line too long (max 4096 bytes), dropped",
  );
  assertEquals(await b.line(), "alice: ok");
  assert(ex.alive());
});

Deno.test("hostile chat: command abuse gets error lines; lines after /quit are ignored", async () => {
  await using ex = await startChat();
  using a = await Member.join(ex);
  using b = await Member.join(ex);
  await a.until((l) => l.endsWith(" joined"));
  const errors: [string, string][] = [
    ["/nick\n", "error: a nick is 1-32 letters, digits, '_' or '-'"],
    [
      "/nick " + "n".repeat(33) + "\n",
      "error: a nick is 1-32 letters, digits, '_' or '-'",
    ],
    [
      "/nick bad name!\n",
      "error: a nick is 1-32 letters, digits, '_' or '-'",
    ],
    ["/nick guest2\n", "error: nick 'guest2' is taken"],
    ["/\n", "error: unknown command '/'"],
    [
      "/" + "x".repeat(4000) + "\n",
      `error: unknown command '/${"x".repeat(4000)}'`,
    ],
    ["/nick \u00e9\n", "error: a nick is 1-32 letters, digits, '_' or '-'"],
  ];
  for (const [input, want] of errors) {
    await a.say(input);
    assertEquals(await a.line(), want);
  }
  // Empty lines and bare CRs are not relayed.
  await a.say("\n\r\n\n");
  await a.say("/who\n");
  assertStringIncludes(await a.line(), "* online: ");
  // /quit and more lines in the same write: bye, close, nothing relayed.
  await a.say("/quit\nghost line\n/nick ghost\n");
  assertEquals(await a.line(), "* bye");
  const { bytes } = await within(readToEnd(a.conn), 5000, "close after quit");
  assertEquals(bytes.length, 0);
  assertEquals(
    await b.until((l) => !l.startsWith("* ") || l.endsWith(" left")),
    "* guest1 left",
  );
  // b is alone and fine.
  await b.say("/who\n");
  assertEquals(await b.line(), "* online: guest2");
});

Deno.test("hostile chat: a member who never reads is cut as a slow consumer; the room goes on; RSS bounded", async () => {
  await using ex = await startChat();
  using _stuck = await Member.join(ex); // guest1: never reads again
  using talker = await Member.join(ex);
  using listener = await Member.join(ex);
  const rss0 = ex.rssKiB();
  await talker.until((l) => l === "* guest3 joined");
  const text = "m".repeat(4000);
  const batch = encoder.encode(`${text}\n`.repeat(64)); // 256 KiB per batch
  let cut = false;
  let maxRss = rss0;
  // Up to 64 MiB through the room: far beyond 1 MiB plus any socket buffers.
  for (let round = 0; round < 256 && !cut; round++) {
    await talker.say(batch);
    for (let i = 0; i < 64; i++) {
      const line = await listener.until((l) =>
        l.startsWith("guest2: ") || l === "* guest1 left"
      );
      if (line === "* guest1 left") {
        cut = true;
        i--; // this was not one of the talker's lines
        continue;
      }
      assertEquals(line, `guest2: ${text}`);
    }
    if (round % 8 === 7) maxRss = Math.max(maxRss, ex.rssKiB());
  }
  assert(cut, "the non-reading member was never cut");
  await talker.say("still here\n");
  assertEquals(
    await listener.until((l) => l.startsWith("guest2: s")),
    "guest2: still here",
  );
  if (!Number.isNaN(rss0)) {
    assertLess(maxRss - rss0, 150 * 1024, `RSS ${rss0} -> ${maxRss} KiB`);
  }
});
