// examples/udp_echo.ts against a real UDP peer (socat), and without the
// --unstable-net flag it needs.

import { assertEquals, assertStringIncludes } from "@std/assert";
import { peer } from "./_peers.ts";
import { runWithInput, startExample, within } from "./_helpers.ts";

const socat = peer("socat");
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test({
  name: socat.name(
    "examples/udp_echo.ts echoes datagrams to socat and exits 0 on SIGTERM",
  ),
  ignore: socat.ignore,
  async fn() {
    const server = await startExample("udp_echo.ts", {
      args: [],
      permissions: [
        "--allow-net",
        "--unstable-net",
      ],
      readStdout: true,
    });
    try {
      // socat sends what it reads from stdin as datagrams and prints the
      // replies; -t 2 lets replies arrive after stdin ends.
      const out = await runWithInput(
        "socat",
        ["-t", "2", "-", `UDP:127.0.0.1:${server.port}`],
        "hello over udp\n",
        10_000,
      );
      assertEquals(dec(out.stdout), "hello over udp\n", dec(out.stderr));
    } finally {
      server.child.kill("SIGTERM");
      const status = await within(
        server.child.status,
        10_000,
        "udp_echo exits",
      );
      await server.stdout.rest();
      assertEquals(status.code, 0, await server.stderr);
    }
  },
});

Deno.test("examples/udp_echo.ts without --unstable-net names the flag and exits 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "examples/udp_echo.ts", "--port", "0"],
    cwd: new URL("..", import.meta.url),
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
  }).output();
  assertEquals(out.code, 2);
  assertStringIncludes(dec(out.stderr), "--unstable-net");
});
