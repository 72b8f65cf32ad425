/**
 * Keeps a certificate for this node's MagicDNS name from tailscaled, when the tailnet has HTTPS
 * on: asked at start, asked again twice a day (tailscaled renews it before it expires and
 * answers from its cache in between), and tried again every few minutes while tailscaled cannot
 * give one. Each new certificate goes to `use`.
 * @module
 */
import type { Logger } from "../util/log.ts";
import { pause } from "../util/pause.ts";
import type { CertPair, LocalApiClient } from "./tailscale.ts";

/** Options of {@link keepTailnetCert}. */
export interface TailnetCertOptions {
  client: Pick<LocalApiClient, "status" | "certPair">;
  /** Called with each new certificate (the first, and every renewal). */
  use(name: string, pair: CertPair): Promise<void>;
  log: Logger;
  signal: AbortSignal;
  /** While there is none, how often to ask; default 10 min. */
  retryMs?: number;
  /** Once there is one, how often to ask again; default 12 h. */
  refreshMs?: number;
}

/** tailscaled's first certificate takes a Let's Encrypt DNS challenge: up to a minute or two. */
const ISSUE_TIMEOUT_MS = 180_000;

/** Runs until `signal` aborts. */
export async function keepTailnetCert(o: TailnetCertOptions): Promise<void> {
  const retryMs = o.retryMs ?? 10 * 60_000;
  const refreshMs = o.refreshMs ?? 12 * 3600_000;
  let served = "";
  let said = "";
  const say = (text: string, fields: Record<string, unknown> = {}) => {
    // The same situation is logged once, not every ten minutes.
    if (text !== said) o.log.info(text, fields);
    said = text;
  };
  while (!o.signal.aborted) {
    let wait = retryMs;
    try {
      const status = await o.client.status({ peers: false, signal: o.signal });
      const name = status.Self?.DNSName.replace(/\.$/, "").toLowerCase() ?? "";
      if (name && status.CertDomains.includes(name)) {
        const pair = await o.client.certPair(name, {
          signal: o.signal,
          timeoutMs: ISSUE_TIMEOUT_MS,
        });
        if (pair.certPem !== served) {
          await o.use(name, pair);
          served = pair.certPem;
          say("serving tailscaled's certificate for this node's MagicDNS name", { name });
        }
        wait = refreshMs;
      } else {
        say(
          "tailscaled cannot give this node a certificate (HTTPS is off in the tailnet's DNS " +
            "settings, or MagicDNS is): the API's TLS port has the cluster CA's only",
        );
      }
    } catch (err) {
      if (o.signal.aborted) return;
      say("cannot get tailscaled's certificate; trying again later", { err });
    }
    await pause(wait, o.signal);
  }
}
