// A tiny health endpoint for load balancers: every connection gets one line
// with the server's state and is closed. It speaks HAProxy's agent-check
// protocol ("up ready", "drain", "maint") and suits `option tcp-check` with
// `tcp-check expect string up`. Health checks are rare, so it runs its own
// accept loop instead of using the reactor.

/** One of the replies, as HAProxy's agent-check reads them. */
export type HealthState = "up ready" | "drain" | "maint";

/** A running health responder. */
export class HealthResponder {
  readonly #listener: Deno.Listener;
  readonly #state: () => HealthState;
  readonly #serving: Promise<void>;
  readonly #open = new Set<Deno.Conn>();
  readonly #replies = new Set<Promise<void>>();

  constructor(hostname: string, port: number, state: () => HealthState) {
    this.#listener = Deno.listen({ hostname, port });
    this.#state = state;
    this.#serving = this.#acceptLoop();
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  async #acceptLoop(): Promise<void> {
    const encoder = new TextEncoder();
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return; // closed
        // EMFILE and the like: back off instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#open.add(conn);
      const reply = conn.write(encoder.encode(`${this.#state()}\n`))
        .then(() => {}, () => {})
        .finally(() => {
          this.#open.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed by close().
          }
          this.#replies.delete(reply);
        });
      this.#replies.add(reply);
    }
  }

  /** Stops listening and closes connections still being answered. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#serving;
    for (const conn of this.#open) {
      try {
        conn.close();
      } catch {
        // Closed meanwhile.
      }
    }
    await Promise.all(this.#replies);
  }
}
