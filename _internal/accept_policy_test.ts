import { assertEquals } from "@std/assert";
import {
  classifyAcceptError,
  isDescriptorExhaustion,
} from "./accept_policy.ts";

function withCode(code: string): Error {
  return Object.assign(new Error(`accept: ${code}`), { code });
}

Deno.test("classifyAcceptError() retries what a peer caused", () => {
  for (
    const error of [
      new Deno.errors.ConnectionReset("reset"),
      new Deno.errors.ConnectionAborted("aborted"),
      new Deno.errors.ConnectionRefused("refused"),
      withCode("ECONNRESET"),
      withCode("ECONNABORTED"),
      withCode("EPROTO"),
      withCode("EINTR"),
    ]
  ) {
    assertEquals(classifyAcceptError(error), "retry", String(error));
  }
});

Deno.test("classifyAcceptError() backs off on exhaustion and anything unknown", () => {
  for (
    const error of [
      withCode("EMFILE"),
      withCode("ENFILE"),
      withCode("ENOMEM"),
      withCode("ENOBUFS"),
      new Error("no code"),
      new Deno.errors.PermissionDenied("denied"),
      "a string",
      undefined,
      null,
    ]
  ) {
    assertEquals(classifyAcceptError(error), "backoff", String(error));
  }
});

Deno.test("classifyAcceptError() reports a closed listener", async () => {
  assertEquals(
    classifyAcceptError(new Deno.errors.BadResource("closed")),
    "closed",
  );
  assertEquals(
    classifyAcceptError(new Deno.errors.Interrupted("interrupted")),
    "closed",
  );
  // What Deno really throws when a pending accept's listener is closed.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pending = listener.accept();
  listener.close();
  const error = await pending.then(() => undefined, (error) => error);
  assertEquals(classifyAcceptError(error), "closed");
});

Deno.test("isDescriptorExhaustion() matches EMFILE and ENFILE only", () => {
  assertEquals(isDescriptorExhaustion(withCode("EMFILE")), true);
  assertEquals(isDescriptorExhaustion(withCode("ENFILE")), true);
  assertEquals(isDescriptorExhaustion(withCode("ENOMEM")), false);
  assertEquals(isDescriptorExhaustion(new Error("x")), false);
  assertEquals(isDescriptorExhaustion(null), false);
});
