/**
 * A fake Tailscale control API for tests: `GET`, `PATCH` and `PUT /api/v2/tailnet/-/dns/split-dns`
 * as the real one answers them (a JSON map of domain to nameserver addresses; PATCH changes the
 * listed domains and `null` removes one; errors are `{"message": …}` with 401 for a wrong token
 * and 400 for a bad body). Tailscale is the one outside service fossora cannot run in tests, so
 * the production client talks to this.
 * @module
 */
import type { SplitDns } from "./split_dns.ts";

/** One request the fake saw. */
export interface FakeApiRequest {
  method: string;
  path: string;
  body: unknown;
}

/** A fake control API on `hostname` (default 127.0.0.1); dispose it to stop it. */
export class FakeTailscaleApi implements AsyncDisposable {
  /** The tailnet's split DNS as it is now. */
  splitDns: SplitDns = {};
  readonly requests: FakeApiRequest[] = [];
  /** While true, every call answers 503, as during an outage. */
  down = false;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(readonly key: string, readonly hostname = "127.0.0.1") {
    this.#server = Deno.serve(
      { hostname, port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** The base URL to give as `--tailscale-api-url`. */
  get url(): string {
    return `http://${this.hostname}:${this.#server.addr.port}`;
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    this.requests.push({ method: req.method, path, body });
    const error = (status: number, message: string) => Response.json({ message }, { status });
    if (this.down) return error(503, "service unavailable");
    if (req.headers.get("authorization") !== `Bearer ${this.key}`) {
      return error(401, "API token invalid");
    }
    if (path !== "/api/v2/tailnet/-/dns/split-dns") return error(404, "not found");
    if (req.method === "GET") return Response.json(this.splitDns);
    if (req.method !== "PATCH" && req.method !== "PUT") return error(405, "method not allowed");
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      return error(400, "invalid split DNS configuration");
    }
    const next: SplitDns = req.method === "PUT" ? {} : { ...this.splitDns };
    for (const [domain, servers] of Object.entries(body)) {
      if (servers === null) {
        delete next[domain];
        continue;
      }
      if (!Array.isArray(servers) || !servers.every((s) => typeof s === "string")) {
        return error(400, `invalid nameservers for ${domain}`);
      }
      next[domain] = servers;
    }
    this.splitDns = next;
    return Response.json(this.splitDns);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}
