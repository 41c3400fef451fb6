// A main module that is its own handler module (`handlerModule:
// import.meta.url`) and awaits `listening()` at top level, as the examples
// and bench peers do. Prints {"port":N}, echoes, and shuts down when stdin
// closes.
import { TcpServer } from "../../net/mod.ts";

export default {
  onData(ctx, id, data) {
    ctx.sendTo(id, data);
  },
} satisfies import("../../net/mod.ts").NetworkHandler;

if (import.meta.main) {
  const workers = Number(Deno.args[0] ?? "1");
  const server = new TcpServer({ port: 0 }, {
    handlerModule: import.meta.url,
    workers,
  });
  const serving = server.run();
  const { port } = await server.listening() as Deno.NetAddr;
  Deno.stdout.writeSync(
    new TextEncoder().encode(JSON.stringify({ port }) + "\n"),
  );
  for await (const _ of Deno.stdin.readable) {
    // Until stdin closes.
  }
  await server.shutdown({ timeoutMs: 1000 });
  await serving;
}
