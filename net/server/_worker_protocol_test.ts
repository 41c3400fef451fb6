import { assert, assertEquals } from "@std/assert";
import { Channel } from "../../reactor/channel.ts";
import {
  decodeMessage,
  encodeMessage,
  Gossip,
  OP_BROADCAST,
  OP_GONE,
  OP_OPEN,
  OP_SEND,
  Outbox,
  unpackMessages,
} from "./_worker_protocol.ts";

Deno.test("worker messages round-trip op, flag, id, except ids and payload bytes", () => {
  const payload = new Uint8Array(300).map((_, i) => (i * 13) & 255);
  const message = decodeMessage(
    encodeMessage(OP_BROADCAST, 0, payload, 0, [2 ** 40 + 1, 513]),
  );
  assertEquals(message.op, OP_BROADCAST);
  assertEquals(message.ids, [2 ** 40 + 1, 513]);
  assertEquals(message.payload, payload);
  const send = decodeMessage(encodeMessage(OP_SEND, 1537, "héllo", 1));
  assertEquals([send.op, send.flag, send.id], [OP_SEND, 1, 1537]);
  assertEquals(new TextDecoder().decode(send.payload), "héllo");
});

Deno.test("Outbox keeps order and loses nothing while the peer's channel is full", async () => {
  const channel = new Channel({ capacity: 256 });
  const outbox = new Outbox(channel.buffer);
  const sent: number[] = [];
  let direct = 0;
  for (let i = 0; i < 200; i++) {
    if (outbox.send(encodeMessage(OP_SEND, i, "x".repeat(i % 50)))) direct++;
    sent.push(i);
  }
  assert(direct < 200 && outbox.backlog > 0, "the ring filled up");
  const received: number[] = [];
  while (received.length < sent.length) {
    for (const raw of channel.receive()) {
      received.push(decodeMessage(raw as Uint8Array).id);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  assertEquals(received, sent);
  assertEquals(outbox.backlog, 0);
  await outbox.close();
});

Deno.test("Outbox.sendBounded refuses a user message past maxBytes and keeps what it took in order", async () => {
  const channel = new Channel({ capacity: 256 });
  const outbox = new Outbox(channel.buffer, 200);
  const outcomes: string[] = [];
  const taken: number[] = [];
  for (let i = 0; i < 20; i++) {
    const outcome = outbox.sendBounded(
      encodeMessage(OP_SEND, i, "x".repeat(40)),
    );
    outcomes.push(outcome);
    if (outcome !== "full") taken.push(i);
  }
  assert(outcomes.includes("sent") && outcomes.includes("queued"));
  assert(outcomes.includes("full"), "the backlog reached its bound");
  // Once full, every later user message is refused (none jumps the queue).
  assertEquals(
    outcomes.slice(outcomes.indexOf("full")).every((o) => o === "full"),
    true,
  );
  // Control messages still wait: dropping gossip would corrupt the views.
  assertEquals(outbox.send(encodeMessage(OP_SEND, 99)), false);
  const received: number[] = [];
  while (received.length < taken.length + 1) {
    for (const raw of channel.receive()) {
      received.push(decodeMessage(raw as Uint8Array).id);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  assertEquals(received, [...taken, 99]);
  // Room again once the backlog drained.
  assertEquals(outbox.sendBounded(encodeMessage(OP_SEND, 100, "x")), "sent");
  await outbox.close();
});

Deno.test("Gossip sends a turn's arrivals and departures as one message per peer, in order", async () => {
  const channels = [
    new Channel({ capacity: 4096 }),
    new Channel({ capacity: 4096 }),
  ];
  const outboxes = [undefined, ...channels.map((c) => new Outbox(c.buffer))];
  const gossip = new Gossip(outboxes);
  for (let i = 0; i < 50; i++) {
    gossip.post(encodeMessage(OP_OPEN, i, `{"n":${i}}`));
  }
  gossip.post(encodeMessage(OP_GONE, 7));
  await Promise.resolve(); // the turn ends
  for (const channel of channels) {
    const raws = [...channel.receive()];
    assertEquals(raws.length, 1, "one message per peer for the whole turn");
    const messages = unpackMessages(raws[0] as Uint8Array);
    assertEquals(messages.map((m) => m.id), [...Array(50).keys(), 7]);
    assertEquals(messages.at(-1)!.op, OP_GONE);
    assertEquals(new TextDecoder().decode(messages[3]!.payload), '{"n":3}');
  }
  // A lone message goes as itself.
  gossip.post(encodeMessage(OP_GONE, 9));
  await Promise.resolve();
  const lone = [...channels[0]!.receive()];
  assertEquals(unpackMessages(lone[0] as Uint8Array).map((m) => m.id), [9]);
  for (const outbox of outboxes) await outbox?.close();
});
