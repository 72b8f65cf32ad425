/**
 * The joining node's side: take candidate addresses (static `--join`, mDNS, Tailscale), check
 * that the cluster there holds the CA the token names before anything secret is sent, send the
 * request over TLS pinned to that CA, and poll until admitted. Patience resets whenever the
 * answer shows progress (the queue moves, another node is being admitted); after a stretch with
 * none, or when the contact dies, it starts over with another contact, which the answers list.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { randomBase64Url } from "../util/random.ts";
import type { JoinInfo, JoinRequest, JoinStatus } from "./desk.ts";
import { caFingerprint, type JoinToken } from "./token.ts";

/** What the joiner was given: its role and how to reach etcd. */
export type Admitted = Extract<JoinStatus, { status: "admitted" }>;

/** The join was refused for good (a wrong token): trying again would not help. */
export class JoinRefused extends Error {}

/** HTTP as the joiner needs it; tests and the agent pass fetch-based ones. */
export interface JoinTransport {
  /** GET over plain HTTP (join info and the CA certificate are public). */
  get(url: string, signal: AbortSignal): Promise<{ status: number; text: string }>;
  /** POST JSON over TLS, trusting only `caPem`. */
  post(
    url: string,
    body: unknown,
    caPem: string,
    signal: AbortSignal,
  ): Promise<{ status: number; json: unknown }>;
}

/** What {@link joinCluster} needs. */
export interface JoinerOptions {
  /** API addresses (`host:port`) to try, asked again each round (discovery keeps finding). */
  candidates: () => string[];
  token?: JoinToken;
  /** Join only this cluster (its id): a node giving way to another cluster joins that one. */
  cluster?: string;
  /** This node's request, without token and ticket. */
  request: Omit<JoinRequest, "token" | "ticket">;
  transport?: JoinTransport;
  signal?: AbortSignal;
  log?: Logger;
  now?: () => number;
  /** Poll interval, ms; default 500. */
  pollMs?: number;
  /** Start over after this long without progress, ms; default 30 s. */
  patienceMs?: number;
  /** Each request's timeout, ms; default 5 s. */
  requestMs?: number;
  /** Called with each poll answer (for logs, the UI, tests). */
  onStatus?: (s: JoinStatus, contact: string) => void;
}

/** Joins through the first candidate that takes the request; resolves with the admission. */
export async function joinCluster(o: JoinerOptions): Promise<Admitted> {
  const log = o.log ?? silentLogger;
  const transport = o.transport ?? fetchTransport();
  const signal = o.signal ?? new AbortController().signal;
  const ticket = randomBase64Url(24);
  const extra: string[] = [];
  for (let round = 0;; round++) {
    signal.throwIfAborted();
    const contacts = [...new Set([...o.candidates(), ...extra])];
    for (const contact of contacts) {
      signal.throwIfAborted();
      try {
        const admitted = await tryContact(contact, o, transport, ticket, signal, log, extra);
        if (admitted) return admitted;
      } catch (err) {
        if (err instanceof JoinRefused || signal.aborted) throw err;
        log.info("join attempt failed; trying another contact", { contact, why: String(err) });
      }
    }
    await sleep(Math.min(500 * 2 ** Math.min(round, 4), 5000), signal);
  }
}

async function tryContact(
  contact: string,
  o: JoinerOptions,
  transport: JoinTransport,
  ticket: string,
  signal: AbortSignal,
  log: Logger,
  extra: string[],
): Promise<Admitted | undefined> {
  const timeout = () => AbortSignal.any([signal, AbortSignal.timeout(o.requestMs ?? 5000)]);
  const base = contact.includes("://") ? contact : `http://${contact}`;
  const infoRes = await transport.get(`${base}/api/v1/join/info`, timeout());
  if (infoRes.status !== 200) throw new Error(`join info answered ${infoRes.status}`);
  const info = JSON.parse(infoRes.text) as JoinInfo;
  if (o.cluster && info.cluster !== o.cluster) {
    log.info("skipping a cluster other than the one this node gives way to", {
      contact,
      cluster: info.cluster,
    });
    return undefined;
  }
  if (o.token && info.caHash !== o.token.caHash) {
    log.info("skipping a cluster the token does not name", { contact, cluster: info.cluster });
    return undefined;
  }
  const caRes = await transport.get(`${base}/api/v1/ca.crt`, timeout());
  if (caRes.status !== 200) throw new Error(`the CA certificate answered ${caRes.status}`);
  const ca = caRes.text;
  // The CA that will be trusted is the one whose fingerprint the token carries, whatever the
  // info said: a stranger answering on this address cannot pass it.
  if (o.token && caFingerprint(ca) !== o.token.caHash) {
    throw new Error("the CA certificate there is not the one the token names");
  }
  const host = new URL(base).hostname;
  const tls = `https://${host}:${info.tlsPort}/api/v1/join`;
  const body = { ...o.request, ticket, ...(o.token ? { token: tokenText(o.token) } : {}) };
  const sent = await transport.post(tls, body, ca, timeout());
  if (sent.status === 401 || sent.status === 403) {
    throw new JoinRefused(errorMessage(sent.json) ?? `the join was refused (${sent.status})`);
  }
  if (sent.status >= 300) {
    throw new Error(errorMessage(sent.json) ?? `the join request answered ${sent.status}`);
  }
  const now = o.now ?? Date.now;
  let last = JSON.stringify(progressOf(sent.json as JoinStatus));
  let lastAt = now();
  let status = sent.json as JoinStatus;
  for (;;) {
    o.onStatus?.(status, contact);
    for (const c of status.contacts ?? []) if (!extra.includes(c)) extra.push(c);
    if (status.status === "admitted") return status;
    if (status.status === "member") {
      throw new Error("the cluster says this node is a member already; it must rejoin as itself");
    }
    const patience = o.patienceMs ?? 30_000;
    if (now() - lastAt > patience) {
      log.info("no progress in the join queue; starting over", { contact });
      return undefined;
    }
    await sleep(o.pollMs ?? 500, signal);
    const res = await transport.post(`${tls}/status`, { id: o.request.id, ticket }, ca, timeout());
    if (res.status === 404) return undefined; // dropped (a new leader, a timeout): ask again
    if (res.status !== 200) {
      throw new Error(errorMessage(res.json) ?? `the status poll answered ${res.status}`);
    }
    status = res.json as JoinStatus;
    const progress = JSON.stringify(progressOf(status));
    if (progress !== last) {
      last = progress;
      lastAt = now();
    }
  }
}

/** What counts as news in a poll's answer: the place in the queue and who is admitted. */
function progressOf(s: JoinStatus): unknown {
  return s.status === "queued" || s.status === "pending"
    ? [s.status, s.position, s.admitting]
    : s.status;
}

function tokenText(t: JoinToken): string {
  return `FOSSORA-1-${t.caHash}-${t.secret}`;
}

function errorMessage(json: unknown): string | undefined {
  const e = (json as { error?: { message?: unknown } } | null)?.error;
  return typeof e?.message === "string" ? e.message : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal.addEventListener("abort", abort, { once: true });
  });
}

/** The transport over Deno's fetch: TLS clients are made per CA and kept. */
export function fetchTransport(): JoinTransport {
  const clients = new Map<string, Deno.HttpClient>();
  const MAX = 64 * 1024;
  // An answer is read only up to a size a join answer can have: a hostile server cannot make
  // the joiner hold more.
  const read = async (res: Response) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > MAX) {
        await res.body?.cancel().catch(() => {});
        throw new Error("the answer is too large for a join answer");
      }
      chunks.push(chunk);
    }
    return new TextDecoder().decode(concatBytes(chunks));
  };
  return {
    async get(url, signal) {
      const res = await fetch(url, { signal, redirect: "error" });
      return { status: res.status, text: await read(res) };
    },
    async post(url, body, caPem, signal) {
      let client = clients.get(caPem);
      if (!client) clients.set(caPem, client = Deno.createHttpClient({ caCerts: [caPem] }));
      const res = await fetch(url, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
        signal,
        client,
        redirect: "error",
      });
      const text = await read(res);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json };
    },
  };
}
