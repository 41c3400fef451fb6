import { assertEquals } from "@std/assert";
import { checkSymbols } from "./check_docs.ts";

const here = new URL("./testdata/check_docs_fixture.ts", import.meta.url);

async function problemsOf(): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", here.pathname],
    stdout: "piped",
  }).output();
  const json = JSON.parse(new TextDecoder().decode(output.stdout));
  const symbols = Object.values(
    json.nodes as Record<string, { symbols: never[] }>,
  ).flatMap((node) => node.symbols);
  return checkSymbols(symbols).map(({ symbol, problem }) =>
    `${symbol}: ${problem}`
  );
}

Deno.test("check_docs flags every missing piece and nothing documented", async () => {
  assertEquals((await problemsOf()).sort(), [
    "Bare.prototype.half: no @example",
    "Bare.prototype.half: no @param value",
    "Bare.prototype.half: no @returns",
    "Bare.prototype.half: no @throws",
    "Bare.prototype.reset: no @example",
    "Bare.prototype.size: no description",
    "Bare: no @example",
    "Options.timeoutMs: no description",
    "Service.ping: no @example",
    "Service.ping: no @returns",
    "undocumented: no @example",
    "undocumented: no @param x",
    "undocumented: no description",
    "undocumentedOverload: no @example",
    "undocumentedOverload: no @param x",
    "undocumentedOverload: no description",
  ]);
});
