/**
 * A small client of tailscaled's LocalAPI over its unix socket: the status (this node, its
 * peers, their owners) and whois (who is behind a tailnet address). Discovery reads peers from
 * it and admission asks it who a joiner is. Every failure is a {@link TailscaleError} whose
 * message says what to do; answers are bounded in size and time and read strictly.
 * @module
 */
import { BodyTooLarge, readBoundedBody } from "./body.ts";
import {
  parseExactJson,
  readStatus,
  readWhois,
  TailscaleError,
  type TailscaleStatus,
  type TailscaleWhois,
} from "./tailscale_wire.ts";
import { isIPv6 } from "../util/ip.ts";

export {
  TailscaleError,
  type TailscaleErrorCode,
  type TailscalePeerStatus,
  type TailscaleStatus,
  type TailscaleUserProfile,
  type TailscaleWhois,
} from "./tailscale_wire.ts";

/** tailscaled's socket on Linux (the `--tailscale-socket` default). */
export const DEFAULT_TAILSCALE_SOCKET = "/var/run/tailscale/tailscaled.sock";

/** The Host header tailscaled accepts (besides none): what its own client sends. */
export const LOCAL_API_HOST = "local-tailscaled.sock";

/** Options of {@link LocalApiClient}. */
export interface LocalApiOptions {
  /** tailscaled's socket; default {@link DEFAULT_TAILSCALE_SOCKET}. */
  socketPath?: string;
  /** Longest wait for one whole answer; default 5000 ms. */
  timeoutMs?: number;
  /** Largest answer read; default 16 MiB (a status of a tailnet of a few thousand peers). */
  maxBodyBytes?: number;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  /** This call's own time limit, in ms; default the client's. */
  timeoutMs?: number;
}

/** A TLS certificate chain and its key, PEM. */
export interface CertPair {
  certPem: string;
  keyPem: string;
}

const MAX_ERROR_TEXT = 200;

/**
 * Talks to tailscaled. Connections go over the unix socket with Deno's HTTP client, which sends
 * `Host: local-tailscaled.sock` and no `Origin` or `Referer`, as tailscaled requires.
 * @example
 * ```ts
 * using ts = new LocalApiClient({ socketPath: "/var/run/tailscale/tailscaled.sock" });
 * const status = await ts.status({ peers: false });
 * ```
 */
export class LocalApiClient implements Disposable {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #client: Deno.HttpClient;

  constructor(options: LocalApiOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_TAILSCALE_SOCKET;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    if (this.socketPath === "") {
      throw new TailscaleError(
        "bad_input",
        "--tailscale-socket is empty; give tailscaled's socket",
      );
    }
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number of ms, got ${this.#timeoutMs}`);
    }
    if (!Number.isInteger(this.#maxBodyBytes) || this.#maxBodyBytes <= 0) {
      throw new RangeError(`maxBodyBytes must be a positive integer, got ${this.#maxBodyBytes}`);
    }
    this.#client = Deno.createHttpClient({
      proxy: { transport: "unix", path: this.socketPath },
    });
  }

  /**
   * tailscaled's status; with `peers: false` without the peer list (cheaper, enough for this
   * node's own address and user). Any backend state is returned: see {@link backendProblem}.
   */
  async status(options: CallOptions & { peers?: boolean } = {}): Promise<TailscaleStatus> {
    const query = options.peers === false ? "?peers=false" : "";
    const { status, body } = await this.#get(`/localapi/v0/status${query}`, options.signal);
    if (status !== 200) throw this.#httpError("/localapi/v0/status", status, body);
    return readStatus(this.#json("/localapi/v0/status", body));
  }

  /**
   * The status, or a TailscaleError saying what to do when tailscaled is not `Running` (code
   * `not_logged_in` for NeedsLogin: "run tailscale up").
   */
  async runningStatus(options: CallOptions & { peers?: boolean } = {}): Promise<TailscaleStatus> {
    const status = await this.status(options);
    const problem = backendProblem(status.BackendState);
    if (problem) {
      const code = status.BackendState === "NeedsLogin" ? "not_logged_in" : "not_running";
      throw new TailscaleError(code, problem);
    }
    return status;
  }

  /**
   * Who is behind `addr` (`IP:port`, `[IPv6]:port`, or a bare IP): the node and its owner.
   * Throws TailscaleError `not_found` when the address is no machine of the tailnet.
   */
  async whois(addr: string, options: CallOptions = {}): Promise<TailscaleWhois> {
    checkWhoisAddr(addr);
    const path = `/localapi/v0/whois?addr=${encodeURIComponent(addr)}`;
    const { status, body } = await this.#get(path, options.signal);
    if (status === 404) {
      throw new TailscaleError("not_found", `${addr} is not a machine of this tailnet`);
    }
    if (status !== 200) throw this.#httpError("/localapi/v0/whois", status, body);
    return readWhois(this.#json("/localapi/v0/whois", body));
  }

  /**
   * A Let's Encrypt certificate for `domain` (this node's MagicDNS name, one of the status's
   * `CertDomains`), which tailscaled gets, caches and renews: `GET /localapi/v0/cert/DOMAIN
   * ?type=pair` answers the key's PEM, then the chain's. The first one can take a minute.
   */
  async certPair(domain: string, options: CallOptions = {}): Promise<CertPair> {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(domain)) {
      throw new TailscaleError("bad_input", `${JSON.stringify(domain)} is not a DNS name`);
    }
    const where = "/localapi/v0/cert";
    const { status, body } = await this.#get(
      `${where}/${domain}?type=pair`,
      options.signal,
      options.timeoutMs,
    );
    if (status !== 200) throw this.#httpError(where, status, body);
    const text = new TextDecoder().decode(body);
    const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?/g) ?? [];
    const keyPem = blocks.filter((b) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b)).join("");
    const certPem = blocks.filter((b) => b.startsWith("-----BEGIN CERTIFICATE-----")).join("");
    if (!keyPem || !certPem) {
      throw new TailscaleError(
        "bad_answer",
        `tailscaled's certificate for ${domain} lacks its ${keyPem ? "certificate" : "key"}`,
      );
    }
    return { certPem, keyPem };
  }

  /** Closes the connections to tailscaled. */
  close(): void {
    this.#client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #get(
    path: string,
    signal?: AbortSignal,
    timeoutMs = this.#timeoutMs,
  ): Promise<{ status: number; body: Uint8Array }> {
    signal?.throwIfAborted();
    const ctl = new AbortController();
    const timedOut = new TailscaleError(
      "timeout",
      `tailscaled did not answer within ${timeoutMs} ms on ${this.socketPath}; ` +
        "check it with: systemctl status tailscaled",
    );
    const timer = setTimeout(() => ctl.abort(timedOut), timeoutMs);
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let res: Response;
      try {
        res = await fetch(`http://${LOCAL_API_HOST}${path}`, {
          client: this.#client,
          signal: ctl.signal,
          headers: { accept: "application/json" },
          redirect: "manual",
        });
      } catch (err) {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        throw await this.#connectError(err);
      }
      try {
        return { status: res.status, body: await readBoundedBody(res, this.#maxBodyBytes) };
      } catch (err) {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        if (err instanceof BodyTooLarge) {
          throw new TailscaleError(
            "bad_answer",
            `tailscaled's answer to ${path.split("?")[0]} is larger than ${err.limit} bytes; ` +
              "check that --tailscale-socket names tailscaled's socket",
          );
        }
        throw new TailscaleError("unreachable", `tailscaled's answer broke off: ${reason(err)}`, {
          cause: err,
        });
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Why a connection failed, looked up on the socket itself rather than guessed from text. */
  async #connectError(err: unknown): Promise<TailscaleError> {
    const at = this.socketPath;
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(at);
    } catch (statErr) {
      if (statErr instanceof Deno.errors.NotFound) {
        return new TailscaleError(
          "no_socket",
          `tailscaled is not running (no socket at ${at}); start it (systemctl start tailscaled) ` +
            "or point --tailscale-socket at its socket",
          { cause: err },
        );
      }
      if (statErr instanceof Deno.errors.PermissionDenied) {
        return this.#permission(err);
      }
    }
    if (info && !info.isSocket) {
      return new TailscaleError(
        "no_socket",
        `${at} is not a socket; point --tailscale-socket at tailscaled's socket`,
        { cause: err },
      );
    }
    const text = reason(err);
    if (/permission denied/i.test(text)) return this.#permission(err);
    if (/connection refused/i.test(text)) {
      return new TailscaleError(
        "not_running",
        `tailscaled is not running (its socket at ${at} refuses connections); ` +
          "start it: systemctl start tailscaled",
        { cause: err },
      );
    }
    return new TailscaleError("unreachable", `cannot reach tailscaled at ${at}: ${text}`, {
      cause: err,
    });
  }

  #permission(err: unknown): TailscaleError {
    return new TailscaleError(
      "permission",
      `no permission to use tailscaled's socket ${this.socketPath}; run fossora as root`,
      { cause: err },
    );
  }

  #json(where: string, body: Uint8Array): unknown {
    try {
      return parseExactJson(new TextDecoder().decode(body));
    } catch {
      throw new TailscaleError(
        "bad_answer",
        `tailscaled's ${where} answer is not JSON; ` +
          "check that --tailscale-socket names tailscaled's socket",
      );
    }
  }

  #httpError(where: string, status: number, body: Uint8Array): TailscaleError {
    const text = errorText(body);
    if (status === 403) {
      return new TailscaleError(
        "forbidden",
        `tailscaled refused ${where} (403: ${text}); fossora needs read access to ` +
          `${this.socketPath}: run it as root`,
      );
    }
    return new TailscaleError("http", `tailscaled answered ${where} with ${status}: ${text}`);
  }
}

/**
 * What to do when tailscaled's backend is in `state`, or undefined when it is `Running`. The
 * text goes to the log as is, so it names the command that fixes it.
 */
export function backendProblem(state: string): string | undefined {
  switch (state) {
    case "Running":
      return undefined;
    case "NeedsLogin":
      return "tailscale is not logged in: run tailscale up";
    case "NeedsMachineAuth":
      return "this machine waits for approval in the Tailscale admin console: approve it there";
    case "Stopped":
      return "tailscale is stopped: run tailscale up";
    case "Starting":
      return "tailscale is still starting; it is used as soon as it runs";
    default:
      return `tailscaled is in state ${JSON.stringify(state.slice(0, 40))}: run tailscale up`;
  }
}

/**
 * `addr` as whois takes it: `IP:port` for a connection's remote end (IPv6 in brackets; an
 * IPv4-mapped `::ffff:a.b.c.d` from a dual-stack listener as the IPv4 it is).
 */
export function whoisAddr(hostname: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  if (mapped) return `${mapped[1]}:${port}`;
  return isIPv6(hostname) ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for dotted-quad IPv4 text (`100.64.0.1`), without leading zeros. */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

function checkWhoisAddr(addr: string): void {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr);
  const v4 = /^([^:]+):(\d{1,5})$/.exec(addr);
  const ok = v6
    ? isIPv6(v6[1]) && Number(v6[2]) <= 65535
    : v4
    ? isIPv4(v4[1]) && Number(v4[2]) <= 65535
    : isIPv4(addr) || isIPv6(addr);
  if (!ok) {
    throw new TailscaleError(
      "bad_input",
      `whois needs IP:port (or [IPv6]:port), got ${JSON.stringify(addr.slice(0, 60))}`,
    );
  }
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Deno's fetch says "fetch failed"; the OS error is in the cause.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}

/** The text of an error answer: `{"error": …}` or plain text, short and printable. */
function errorText(body: Uint8Array): string {
  let text = new TextDecoder().decode(body.subarray(0, 4096)).trim();
  try {
    const j = JSON.parse(text);
    if (typeof j?.error === "string" && j.error !== "") text = j.error;
  } catch {
    // plain text, as Go's http.Error writes
  }
  // deno-lint-ignore no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f]+/g, " ");
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text || "no text";
}
