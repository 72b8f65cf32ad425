/**
 * The API client: fetch with a timeout, the admin token, and every failure turned into one line
 * that says what went wrong and what to do.
 * @module
 */
import { CliError } from "./errors.ts";
import type { TokenSource } from "./token.ts";

/** Default time a request may take (for streams: until the answer starts). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** An error answer of the API. */
export class ApiFailure extends CliError {
  /** Creates the failure for an API error answer. */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    details: string[] = [],
  ) {
    super(message, details);
    this.name = "ApiFailure";
  }
}

/** Options of `ApiClient`. */
export interface ClientOptions {
  /** The agent's base URL, e.g. `http://127.0.0.1:7440`. */
  baseUrl: string;
  token: TokenSource;
  timeoutMs?: number;
  /** Lines for `--debug`. */
  debug?: (line: string) => void;
  /** Told once when the agent says its answer may be out of date (`Fossora-Stale`). */
  stale?: (note: string) => void;
}

/** A request body. */
export interface Body {
  bytes: Uint8Array<ArrayBuffer>;
  contentType?: string;
}

/** Talks to one agent's API. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #o: ClientOptions;
  #staleTold = false;

  /** Creates a client; nothing is sent until a request is made. */
  constructor(o: ClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, "");
    this.#o = o;
  }

  /** Sends a request and returns its JSON answer; throws `CliError` on any failure. */
  async json<T>(
    method: string,
    path: string,
    body?: Body,
    o: { timeoutMs?: number } = {},
  ): Promise<T> {
    const timer = this.#timer(undefined, o.timeoutMs);
    try {
      const res = await this.#send(method, path, timer.signal, body);
      const text = await readText(res, timer.signal).catch((e) => {
        throw this.#networkError(e, timer.timedOut());
      });
      if (!res.ok) throw this.#apiError(res, text);
      this.#noteStale(res);
      try {
        return JSON.parse(text) as T;
      } catch {
        throw this.#notAnAgent(res);
      }
    } finally {
      timer.clear();
    }
  }

  /** Starts a streamed request; the timeout covers only the start. `signal` stops the stream. */
  async stream(path: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const timer = this.#timer(signal);
    try {
      const res = await this.#send("GET", path, timer.signal);
      if (!res.ok) throw this.#apiError(res, await readText(res, timer.signal).catch(() => ""));
      this.#noteStale(res);
      if (!res.body) return new ReadableStream({ start: (c) => c.close() });
      return res.body;
    } finally {
      timer.clear();
    }
  }

  #noteStale(res: Response): void {
    const note = res.headers.get("fossora-stale");
    if (!note || this.#staleTold) return;
    this.#staleTold = true;
    this.#o.stale?.(note);
  }

  async #send(method: string, path: string, signal: AbortSignal, body?: Body): Promise<Response> {
    const headers = new Headers({ authorization: `Bearer ${await this.#o.token.read()}` });
    if (body?.contentType) headers.set("content-type", body.contentType);
    const url = this.baseUrl + path;
    this.#o.debug?.(`${method} ${url}`);
    try {
      return await fetch(url, { method, headers, body: body?.bytes, signal });
    } catch (e) {
      throw this.#networkError(e, signal.aborted && signal.reason instanceof TimeoutSignal);
    }
  }

  #timer(outer?: AbortSignal, timeoutMs?: number) {
    const ctl = new AbortController();
    const ms = timeoutMs ?? this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const id = setTimeout(() => ctl.abort(new TimeoutSignal()), ms);
    const onOuter = () => ctl.abort(outer?.reason);
    outer?.addEventListener("abort", onOuter, { once: true });
    if (outer?.aborted) onOuter();
    return {
      signal: ctl.signal,
      timedOut: () => ctl.signal.reason instanceof TimeoutSignal,
      clear: () => {
        clearTimeout(id);
        outer?.removeEventListener("abort", onOuter);
      },
    };
  }

  #networkError(e: unknown, timedOut: boolean): CliError {
    if (timedOut) {
      const ms = this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const limit = ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms}ms`;
      return new CliError(
        `the agent at ${this.baseUrl} did not answer within ${limit}; check it with ` +
          "`systemctl status fossora` and `journalctl -u fossora`",
        [],
        { cause: e },
      );
    }
    if (e instanceof CliError) return e;
    return new CliError(
      `cannot reach the agent at ${this.baseUrl} (${networkReason(e)}); is \`fossora agent\` ` +
        "running? (systemctl status fossora)",
      [],
      { cause: e },
    );
  }

  #apiError(res: Response, text: string): CliError {
    let parsed: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const err = parsed?.error;
    if (!err || typeof err.message !== "string") return this.#notAnAgent(res);
    const code = typeof err.code === "string" ? err.code : "unknown";
    if (res.status === 401) {
      return new ApiFailure(
        401,
        code,
        `the agent at ${this.baseUrl} refused the admin token from ${this.#o.token.source}; ` +
          "pass the right one with --api-token (env FOSSORA_API_TOKEN), or run this as root on " +
          "a node of the cluster",
      );
    }
    return new ApiFailure(res.status, code, err.message, detailLines(err.details));
  }

  #notAnAgent(res: Response): CliError {
    return new CliError(
      `the server at ${this.baseUrl} answered HTTP ${res.status} ${res.statusText} without an ` +
        "API answer; is --api (env FOSSORA_API) the address of a fossora agent?",
    );
  }
}

/** Marks an abort caused by the timeout (not by the user). */
class TimeoutSignal extends Error {
  constructor() {
    super("timed out");
  }
}

async function readText(res: Response, signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw signal.reason;
  return await res.text();
}

/** `path: message` lines for the problems an API error lists. */
export function detailLines(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  return details.map((d) => {
    const item = d as { path?: unknown; message?: unknown };
    if (typeof item?.message !== "string") return JSON.stringify(d);
    const path = typeof item.path === "string" && item.path !== "" ? item.path : "(file)";
    return `${path}: ${item.message}`;
  });
}

/** A short reason for a failed connection, from Deno's long fetch error. */
export function networkReason(e: unknown): string {
  const text = `${e instanceof Error ? e.message : e} ${
    e instanceof Error && e.cause instanceof Error ? e.cause.message : ""
  }`;
  const known: [RegExp, string][] = [
    [/connection refused/i, "connection refused"],
    [
      /dns error|failed to lookup|name or service not known|no address associated/i,
      "unknown host name",
    ],
    [/no route to host/i, "no route to host"],
    [/network is unreachable/i, "network unreachable"],
    [/timed out/i, "connection timed out"],
    [/connection reset/i, "connection reset"],
    [/invalid certificate|certificate/i, "TLS certificate not trusted"],
  ];
  for (const [re, reason] of known) if (re.test(text)) return reason;
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split(": ").pop()?.trim() || "unknown error";
}
