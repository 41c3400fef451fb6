// Echo client: sends `--message` (default "hello") `--count` times to an echo
// server, prints what comes back, and exits 0 once everything returned.
//
//   deno run --allow-net examples/echo_client.ts --port 7000 --message hi --count 3

import { shutdownOnSignals, TcpClient } from "@millrace/io/net";
import { flag, portFlag, print, printError } from "./_args.ts";

if (import.meta.main) {
  const hostname = flag(Deno.args, "hostname", "127.0.0.1");
  const port = portFlag(Deno.args, "7000");
  const message = flag(Deno.args, "message", "hello");
  const count = Math.max(1, Number(flag(Deno.args, "count", "1")) | 0);
  const expected = new TextEncoder().encode(message + "\n").length * count;

  const decoder = new TextDecoder();
  let received = 0;
  let text = "";
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const client = new TcpClient({
    onData(_ctx, _id, data) {
      received += data.length;
      text += decoder.decode(data, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) print(line);
      if (received >= expected) resolve();
    },
    onDisconnect(_ctx, _id, reason) {
      if (received < expected) printError(`disconnected: ${reason}`);
      resolve();
    },
  });
  using _signals = shutdownOnSignals({
    shutdown: async () => {
      resolve();
      await client.close({ flush: false });
    },
  });
  try {
    await client.connect({ hostname, port }, { timeoutMs: 5000 });
  } catch (error) {
    printError(
      `cannot connect to ${hostname}:${port}: ${(error as Error).message}`,
    );
    Deno.exit(1);
  }
  for (let i = 0; i < count; i++) client.send(message + "\n");
  await done;
  await client.close();
  if (received < expected) Deno.exitCode = 1;
}
