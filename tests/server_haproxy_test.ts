// A real HAProxy (mode tcp, send-proxy / send-proxy-v2, fast checks) in front
// of three examples/echo_server.ts processes: balanced, byte-exact, the real
// client addresses at the backends, failover on SIGKILL, drain on SIGTERM.

import { assert, assertEquals } from "@std/assert";
import { peer } from "./_peers.ts";
import {
  type Backend,
  type Haproxy,
  startEchoBackend,
  startHaproxy,
  startHaproxyConfig,
} from "./_haproxy.ts";
import {
  HOST,
  pattern,
  readExactly,
  waitFor,
  within,
  writeAll,
} from "./_helpers.ts";

const haproxy = peer("haproxy");
const VERSIONS = ["v2", "v1"] as const;

interface Client {
  conn: Deno.TcpConn;
  /** `127.0.0.1:PORT`, as the backends log the client. */
  address: string;
  seed: number;
}

async function connectClient(port: number, seed: number): Promise<Client> {
  const conn = await Deno.connect({ hostname: HOST, port });
  const { hostname, port: local } = conn.localAddr as Deno.NetAddr;
  return { conn, address: `${hostname}:${local}`, seed };
}

/** One byte-exact echo round; false if the connection failed. */
async function echoRound(client: Client, size: number): Promise<boolean> {
  const bytes = pattern(size, client.seed++);
  try {
    await within(
      (async () => {
        await writeAll(client.conn, bytes);
        const back = await readExactly(client.conn, size);
        assertEquals(back, bytes);
      })(),
      3_000,
      "echo round",
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === "AssertionError") throw error;
    return false;
  }
}

/**
 * The connections a backend logged that came through the frontend (HAProxy's
 * own health checks arrive with a LOCAL/UNKNOWN header: the socket's
 * addresses, not the frontend's).
 */
function relayed(backend: Backend, proxy: Haproxy): string[] {
  return backend.peers.filter((p) => p.endsWith(` -> ${HOST}:${proxy.port}`));
}

/**
 * Opens `n` clients through the proxy, each checked with one echo round, and
 * waits until every one was logged by a backend.
 */
async function openLogged(
  proxy: Haproxy,
  backends: readonly Backend[],
  n: number,
  firstSeed: number,
): Promise<Client[]> {
  const clients: Client[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const client = await connectClient(proxy.port, firstSeed + i);
      clients.push(client);
      assert(await echoRound(client, 4096), `client ${firstSeed + i} echo`);
    }
    await waitFor(
      () => clients.every((c) => backendOf(backends, c) >= 0),
      5_000,
      "every client logged",
    );
  } catch (error) {
    closeAll(clients);
    throw error;
  }
  return clients;
}

/** The backend (index) that logged `client`, or -1. */
function backendOf(backends: readonly Backend[], client: Client): number {
  return backends.findIndex((b) =>
    b.peers.some((p) => p.startsWith(`${client.address} -> `))
  );
}

function closeAll(clients: readonly Client[]): void {
  for (const c of clients) {
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }
}

async function setUp(
  version: "v1" | "v2",
  backendFlags: string[] = [],
): Promise<{ backends: Backend[]; proxy: Haproxy; dispose(): Promise<void> }> {
  const backends: Backend[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      backends.push(await startEchoBackend(version, backendFlags));
    }
    const proxy = await startHaproxy({
      sendProxy: version,
      servers: backends.map((b, i) => ({
        name: `s${i}`,
        port: b.port,
        healthPort: b.healthPort,
      })),
    });
    return {
      backends,
      proxy,
      async dispose() {
        await proxy[Symbol.asyncDispose]();
        for (const b of backends) await b[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    for (const b of backends) await b[Symbol.asyncDispose]();
    throw error;
  }
}

for (const version of VERSIONS) {
  const send = version === "v2" ? "send-proxy-v2" : "send-proxy";

  Deno.test({
    name: haproxy.name(
      `HAProxy ${send}: balanced, byte-exact, real client addresses at the backends`,
    ),
    ignore: haproxy.ignore,
    async fn() {
      const { backends, proxy, dispose } = await setUp(version);
      const clients: Client[] = [];
      try {
        for (let i = 0; i < 30; i++) {
          const client = await connectClient(proxy.port, i);
          clients.push(client);
          assert(await echoRound(client, 16 * 1024 + i), `client ${i} echo`);
        }
        await waitFor(
          () =>
            backends.reduce((n, b) => n + relayed(b, proxy).length, 0) >= 30,
          5_000,
          "30 peer lines",
        );
        // Every client is reported once, with its own address and port, and
        // the address it connected to (HAProxy's frontend). Only relayed
        // lines count: a health check's own connection may get the same
        // ephemeral port as a client (it goes to another destination).
        for (const client of clients) {
          const lines = backends.flatMap((b) =>
            relayed(b, proxy).filter((p) =>
              p.startsWith(`${client.address} -> `)
            )
          );
          assertEquals(lines, [`${client.address} -> ${HOST}:${proxy.port}`]);
        }
        const counts = backends.map((b) => relayed(b, proxy).length);
        assertEquals(counts.reduce((a, b) => a + b), 30);
        // Round robin over three healthy servers.
        assert(counts.every((c) => c >= 8 && c <= 12), `counts ${counts}`);
        // deno-lint-ignore no-console
        console.log(
          `  ${send}: 30 clients × ~16 KiB echoed byte-exact; per backend ${
            counts.join("/")
          }; each client's address and port reported by its backend`,
        );
      } finally {
        closeAll(clients);
        await dispose();
      }
    },
  });

  Deno.test({
    name: haproxy.name(
      `HAProxy ${send}: SIGKILL of a backend loses only its connections; new ones go to survivors`,
    ),
    ignore: haproxy.ignore,
    async fn() {
      const { backends, proxy, dispose } = await setUp(version);
      const clients: Client[] = [];
      const fresh: Client[] = [];
      try {
        clients.push(...await openLogged(proxy, backends, 12, 0));
        const victim = 1;
        const onVictim = clients.filter((c) =>
          backendOf(backends, c) === victim
        );
        assert(onVictim.length > 0);
        const killedAt = performance.now();
        backends[victim]!.child.kill("SIGKILL");
        await backends[victim]!.status;
        // HAProxy marks it down after `fall 2` failed checks at `inter 200ms`.
        let downAfterMs = NaN;
        await within(
          (async () => {
            while (
              !(await proxy.stat()).get(`s${victim}`)?.status?.startsWith(
                "DOWN",
              )
            ) {
              await new Promise((r) => setTimeout(r, 20));
            }
            downAfterMs = performance.now() - killedAt;
          })(),
          5_000,
          "HAProxy to mark the killed backend down",
        );
        // In-flight connections: only those on the killed backend are lost.
        const lost: Client[] = [];
        for (const client of clients) {
          if (!(await echoRound(client, 4096))) lost.push(client);
        }
        assertEquals(
          lost.map((c) => c.address).sort(),
          onVictim.map((c) => c.address).sort(),
        );
        // New connections all succeed, on the survivors.
        const before = relayed(backends[victim]!, proxy).length;
        fresh.push(...await openLogged(proxy, backends, 12, 100));
        assert(fresh.every((c) => backendOf(backends, c) !== victim));
        assertEquals(relayed(backends[victim]!, proxy).length, before);
        // deno-lint-ignore no-console
        console.log(
          `  ${send}: killed backend marked DOWN after ${
            downAfterMs.toFixed(0)
          } ms; lost ${lost.length} of ${clients.length} in-flight connections (all on it); ${fresh.length}/12 new ones served by survivors`,
        );
      } finally {
        closeAll(clients);
        closeAll(fresh);
        await dispose();
      }
    },
  });

  Deno.test({
    name: haproxy.name(
      `HAProxy ${send}: SIGTERM drains a backend (open connections served, no new ones routed to it)`,
    ),
    ignore: haproxy.ignore,
    async fn() {
      const { backends, proxy, dispose } = await setUp(version, [
        "--drain",
        "--grace-ms",
        "8000",
      ]);
      const clients: Client[] = [];
      const fresh: Client[] = [];
      try {
        clients.push(...await openLogged(proxy, backends, 12, 0));
        const victim = 2;
        const onVictim = clients.filter((c) =>
          backendOf(backends, c) === victim
        );
        assert(onVictim.length > 0);
        const termAt = performance.now();
        backends[victim]!.child.kill("SIGTERM");
        let outAfterMs = NaN;
        await within(
          (async () => {
            while (
              (await proxy.stat()).get(`s${victim}`)?.status?.startsWith(
                "UP",
              ) !== false
            ) {
              await new Promise((r) => setTimeout(r, 20));
            }
            outAfterMs = performance.now() - termAt;
          })(),
          5_000,
          "HAProxy to take the draining backend out",
        );
        const state = (await proxy.stat()).get(`s${victim}`)?.status;
        // No connection it already had is cut: all keep echoing.
        for (let round = 0; round < 3; round++) {
          for (const client of clients) {
            assert(
              await echoRound(client, 4096),
              `client ${client.address} cut`,
            );
          }
        }
        // No new connection is routed to it.
        const before = relayed(backends[victim]!, proxy).length;
        fresh.push(...await openLogged(proxy, backends, 12, 100));
        assert(fresh.every((c) => backendOf(backends, c) !== victim));
        assertEquals(relayed(backends[victim]!, proxy).length, before);
        // Once its own clients leave, it exits cleanly, before the deadline.
        closeAll(onVictim);
        const status = await within(
          backends[victim]!.status,
          5_000,
          "drained exit",
        );
        assertEquals(status.code, 0);
        // deno-lint-ignore no-console
        console.log(
          `  ${send}: draining backend out of rotation (${state}) after ${
            outAfterMs.toFixed(0)
          } ms; ${onVictim.length} open connections kept serving; exited ${
            (performance.now() - termAt).toFixed(0)
          } ms after SIGTERM once they closed`,
        );
      } finally {
        closeAll(clients.filter((c) => !fresh.includes(c)));
        closeAll(fresh);
        await dispose();
      }
    },
  });
}

Deno.test({
  name: haproxy.name(
    "examples/haproxy/haproxy.cfg is valid and serves echo_server backends with their clients' addresses",
  ),
  ignore: haproxy.ignore,
  async fn() {
    const file = new URL("../examples/haproxy/haproxy.cfg", import.meta.url);
    const check = await new Deno.Command("haproxy", {
      args: ["-c", "-f", file.pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(check.success, new TextDecoder().decode(check.stderr));
    const backends: Backend[] = [];
    const clients: Client[] = [];
    let proxy: Haproxy | undefined;
    try {
      for (let i = 0; i < 3; i++) {
        backends.push(await startEchoBackend("v2", ["--drain"]));
      }
      // The file's ports (7000, 700N, 710N) become free loopback ports;
      // everything else is the file as shipped.
      const ports = new Map<string, number>();
      backends.forEach((b, i) => {
        ports.set(`700${i + 1}`, b.port);
        ports.set(`710${i + 1}`, b.healthPort);
      });
      const text = await Deno.readTextFile(file);
      proxy = await startHaproxyConfig(
        (adminSocket, frontendPort) =>
          text.replace(
            /\b(7000|700[1-3]|710[1-3])\b/g,
            (p) => String(p === "7000" ? frontendPort : ports.get(p)),
          ).replace(
            "global\n",
            `global\n  stats socket ${adminSocket} mode 600 level admin\n`,
          ),
        3,
      );
      for (let i = 0; i < 9; i++) {
        const client = await connectClient(proxy.port, i);
        clients.push(client);
        assert(await echoRound(client, 8192), `client ${i} echo`);
      }
      const px = proxy;
      await waitFor(
        () => clients.every((c) => backendOf(backends, c) >= 0),
        5_000,
        "every client logged",
      );
      for (const client of clients) {
        const at = backends[backendOf(backends, client)]!;
        assert(at.peers.includes(`${client.address} -> ${HOST}:${px.port}`));
      }
      // leastconn with connections held open: all three servers get some.
      assert(backends.every((b) => relayed(b, px).length >= 1));
    } finally {
      closeAll(clients);
      await proxy?.[Symbol.asyncDispose]();
      for (const b of backends) await b[Symbol.asyncDispose]();
    }
  },
});
