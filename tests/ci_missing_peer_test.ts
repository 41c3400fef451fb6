// The missing-peer mechanism (tests/_peers.ts): a missing program ignores
// the test with its name and install command; a present one runs it.

import { assert, assertEquals } from "@std/assert";
import { MISSING_PEER_MARKER, peer } from "./_peers.ts";

Deno.test("peer() ignores a test whose program is missing, naming it and its package", () => {
  const missing = peer("millrace-no-such-program", "redis-benchmark");
  assert(missing.ignore);
  assert(!missing.available);
  assert(missing.missing.includes("millrace-no-such-program"));
  const name = missing.name("talks to it");
  assert(name.startsWith(`talks to it ${MISSING_PEER_MARKER}`), name);
  assert(
    name.includes("millrace-no-such-program") &&
      name.includes(": apt-get install -y millrace-no-such-program"),
    name,
  );
});

Deno.test("peer() runs a test whose program is on PATH, under its own name", () => {
  // `sh` is on every machine that runs this suite (the tests spawn it).
  const sh = peer("sh");
  assertEquals([sh.available, sh.ignore, sh.missing], [true, false, []]);
  assertEquals(sh.name("uses sh"), "uses sh");
});

Deno.test("peer() finds nothing with an empty PATH and does not throw", () => {
  const path = Deno.env.get("PATH");
  Deno.env.set("PATH", "");
  try {
    // A name not looked up before (lookups are cached per program).
    const p = peer("millrace-empty-path-probe");
    assert(p.ignore);
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
  }
});
