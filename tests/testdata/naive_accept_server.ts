// deno-lint-ignore-file no-console
// The control for measure_emfile_cpu.ts: a naive accept loop that retries at
// once on any error (mill-net's behaviour), holding every connection.
// A signal listener first: Deno 2.9.6 sets its signal driver up lazily and
// panics if that happens while descriptors are exhausted (see NOTES.md).
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
const held: Deno.Conn[] = [];
while (true) {
  try {
    held.push(await listener.accept());
  } catch {
    // retry at once
  }
}
