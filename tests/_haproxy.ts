// A real HAProxy in front of example servers, for tests/server_haproxy_test.ts and
// bench/proxy_churn.ts: a config generated on free loopback ports, HAProxy
// run in the foreground (`-db`) by the caller and stopped by it, and its
// admin socket read for server states. Everything is bounded in time.

import { HOST, type Lines, startExample } from "./_helpers.ts";

/** A loopback port free right now (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A backend for the config: main port, optional agent port. */
export interface HaproxyServer {
  name: string;
  port: number;
  healthPort?: number;
}

/** Options of {@linkcode haproxyConfig}. */
export interface HaproxyConfigOptions {
  frontendPort: number;
  servers: readonly HaproxyServer[];
  /** `send-proxy-v2`, `send-proxy` (v1) or none. */
  sendProxy: "v1" | "v2" | "none";
  /** Admin socket path (`show stat`). */
  adminSocket?: string;
  /** Health checks (off for benchmarks: they add connections). @default {true} */
  checks?: boolean;
  /**
   * `option tcp-smart-connect` in the backend: the handshake's last ACK
   * rides on the first data HAProxy sends (with send-proxy, the header).
   * @default {false}
   */
  smartConnect?: boolean;
}

/**
 * The config of a TCP load balancer: round robin, a connect check every
 * 200 ms (down after 2 failures, up after 1 success) and, for servers with a
 * health port, an agent check at the same pace.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const send = options.sendProxy === "v2"
    ? " send-proxy-v2"
    : options.sendProxy === "v1"
    ? " send-proxy"
    : "";
  const servers = options.servers.map((s) =>
    `  server ${s.name} ${HOST}:${s.port}${send}` +
    (options.checks === false ? "" : " check inter 200ms fall 2 rise 1") +
    (s.healthPort === undefined || options.checks === false
      ? ""
      : ` agent-check agent-port ${s.healthPort} agent-inter 200ms`)
  );
  return [
    "global",
    "  maxconn 2048",
    ...(options.adminSocket === undefined
      ? []
      : [`  stats socket ${options.adminSocket} mode 600 level admin`]),
    "defaults",
    "  mode tcp",
    "  timeout connect 1s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  retries 2",
    "  option redispatch",
    "frontend fe",
    `  bind ${HOST}:${options.frontendPort}`,
    "  default_backend be",
    "backend be",
    "  balance roundrobin",
    ...(options.smartConnect ? ["  option tcp-smart-connect"] : []),
    ...servers,
    "",
  ].join("\n");
}

/** A running HAProxy. */
export interface Haproxy extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
  /** `show stat` rows of the backends' servers, by server name. */
  stat(): Promise<Map<string, Record<string, string>>>;
}

/**
 * Generates a config (see {@linkcode haproxyConfig}) on a free frontend port
 * and runs HAProxy on it.
 */
export function startHaproxy(
  options: Omit<HaproxyConfigOptions, "adminSocket" | "frontendPort">,
): Promise<Haproxy> {
  return startHaproxyConfig(
    (adminSocket, frontendPort) =>
      haproxyConfig({ ...options, adminSocket, frontendPort }),
    options.servers.length,
  );
}

/**
 * Runs `haproxy -f cfg -db` on the config `render(adminSocket, port)`
 * returns (written to a temporary directory), with a free loopback frontend
 * port, and waits (10 s at most) until its admin socket answers and all
 * `servers` servers are UP. A port taken between picking and binding (other
 * processes share the machine) is retried with another, twice.
 */
export async function startHaproxyConfig(
  render: (adminSocket: string, frontendPort: number) => string,
  servers: number,
): Promise<Haproxy> {
  for (let attempt = 1;; attempt++) {
    try {
      return await launch(render, freePort(), servers);
    } catch (error) {
      const lost = error instanceof Error &&
        /cannot bind|Address already in use/i.test(error.message);
      if (!lost || attempt === 3) throw error;
    }
  }
}

async function launch(
  render: (adminSocket: string, frontendPort: number) => string,
  frontendPort: number,
  servers: number,
): Promise<Haproxy> {
  const dir = await Deno.makeTempDir({ prefix: "millrace-haproxy-" });
  const adminSocket = `${dir}/admin.sock`;
  const file = `${dir}/haproxy.cfg`;
  await Deno.writeTextFile(file, render(adminSocket, frontendPort));
  const child = new Deno.Command("haproxy", {
    args: ["-f", file, "-db"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stat = async () => {
    const conn = await Deno.connect({ transport: "unix", path: adminSocket });
    try {
      await conn.write(new TextEncoder().encode("show stat\n"));
      const text = await new Response(conn.readable).text();
      const [head, ...rows] = text.trim().split("\n");
      const columns = head!.replace(/^# /, "").split(",");
      const servers = new Map<string, Record<string, string>>();
      for (const row of rows) {
        const values = row.split(",");
        const record: Record<string, string> = {};
        columns.forEach((c, i) => record[c] = values[i] ?? "");
        if (
          record.svname !== "BACKEND" && record.svname !== "FRONTEND" &&
          record.svname !== undefined
        ) {
          servers.set(record.svname, record);
        }
      }
      return servers;
    } finally {
      try {
        conn.close();
      } catch { /* closed by readable */ }
    }
  };
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    // Up when the admin socket answers and every server has been checked.
    let ready = false;
    const start = performance.now();
    while (!ready) {
      if (exited) throw new Error(`haproxy exited: ${await stderr}`);
      if (performance.now() - start > 10_000) {
        throw new Error("haproxy did not become ready in 10 s");
      }
      try {
        const states = await stat();
        ready = states.size === servers &&
          [...states.values()].every((s) => s.status === "UP");
      } catch {
        // Socket not there yet.
      }
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port: frontendPort,
    pid: child.pid,
    stat,
    [Symbol.asyncDispose]: stop,
  };
}

/** An example echo server behind the proxy, with its `peer` lines. */
export interface Backend extends AsyncDisposable {
  readonly port: number;
  readonly healthPort: number;
  readonly child: Deno.ChildProcess;
  /** `CLIENT -> SERVER` of every connection it accepted, in order. */
  readonly peers: string[];
  /** Resolves with its exit status. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** Starts `examples/echo_server.ts` with PROXY protocol, health port and peer log. */
export async function startEchoBackend(
  proxyProtocol: "v1" | "v2",
  extra: string[] = [],
): Promise<Backend> {
  const example = await startExample("echo_server.ts", {
    args: [
      "--proxy-protocol",
      proxyProtocol,
      "--health-port",
      "0",
      "--log-peers",
      ...extra,
    ],
    permissions: ["-A"],
    readStdout: true,
  });
  const lines: Lines = example.stdout;
  const healthLine = await lines.next();
  const healthPort = Number(healthLine?.match(/^health on .*:(\d+)$/)?.[1]);
  const peers: string[] = [];
  const reading = (async () => {
    for (
      let line = await lines.next();
      line !== null;
      line = await lines.next()
    ) {
      const peer = line.match(/^peer (.*)$/)?.[1];
      if (peer !== undefined) peers.push(peer);
    }
  })();
  const status = example.child.status;
  return {
    port: example.port,
    healthPort,
    child: example.child,
    peers,
    status,
    async [Symbol.asyncDispose]() {
      try {
        example.child.kill("SIGKILL");
      } catch { /* exited */ }
      await status;
      await reading;
      await example.stderr;
    },
  };
}
