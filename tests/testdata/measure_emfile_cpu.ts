// deno-lint-ignore-file no-console
// Measures the CPU share of an accept loop while its descriptors are exhausted
// (Linux only): starts SERVER under `ulimit -n 64`, opens 100 connections to
// it, then reads utime+stime from /proc/PID/stat over 2 s.
//
//   deno run -A tests/testdata/measure_emfile_cpu.ts tests/testdata/naive_accept_server.ts
//   deno run -A tests/testdata/measure_emfile_cpu.ts tests/testdata/emfile_tcp_listener.ts
const server = Deno.args[0];
if (!server) {
  throw new TypeError("Cannot measure as the server path is missing");
}
const child = new Deno.Command("bash", {
  args: [
    "-c",
    'ulimit -n 64 && exec "$0" run -A "$1"',
    Deno.execPath(),
    server,
  ],
  stdin: "piped",
  stdout: "piped",
  env: { DENO_NO_UPDATE_CHECK: "1" },
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let output = "";
while (!output.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) throw new Error(`server ended: ${output}`);
  output += value;
}
const port = Number(output.match(/^listening on 127\.0\.0\.1:(\d+)/)?.[1]);
const conns: Deno.Conn[] = [];
for (let i = 0; i < 100; i++) {
  conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
}
await new Promise((resolve) => setTimeout(resolve, 500));
const ticks = (): number => {
  const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
};
const hz = Number(
  new TextDecoder().decode(
    new Deno.Command("getconf", { args: ["CLK_TCK"] }).outputSync().stdout,
  ),
) || 100;
const ticks0 = ticks();
const wall0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, 2_000));
const cpu = (ticks() - ticks0) / hz;
const wall = (performance.now() - wall0) / 1_000;
console.log(
  `${server}: ${(100 * cpu / wall).toFixed(1)} % of one core over ${
    wall.toFixed(1)
  } s while exhausted`,
);
child.kill("SIGKILL");
await child.status;
for (const conn of conns) conn.close();
reader.releaseLock();
