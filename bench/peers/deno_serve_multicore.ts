// deno-lint-ignore-file no-console
// `deno serve` hello world for bench/multicore.ts (`deno serve --parallel`).
export default {
  fetch(): Response {
    return new Response("Hello, World!");
  },
  onListen({ hostname, port }: { hostname: string; port: number }): void {
    console.log(`listening on ${hostname}:${port}`);
  },
};
