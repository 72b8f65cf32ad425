/**
 * Whether the voters can still make decisions, asked of the voters themselves: when etcd has no
 * quorum, nothing stored can say who is down (no lease expires without a leader), so each
 * voter's `/health` is asked directly, briefly, and the answer is put in words for the user.
 * @module
 */

/** A voter and the URL of its client port. */
export interface VoterEndpoint {
  name: string;
  url: string;
}

/** What the voters answered. */
export interface VoterHealth {
  /** Voters whose member answered and has a leader. */
  healthy: string[];
  /** Voters whose member answered but has no leader (it cannot reach a majority). */
  leaderless: string[];
  /** Voters whose member did not answer in time. */
  silent: string[];
}

/** Fetches a URL; the agent passes one that shows the node certificate. */
export type HealthFetch = (url: string, signal: AbortSignal) => Promise<Response>;

/** Asks every voter's `/health` at once, each for at most `timeoutMs`. */
export async function probeVoters(
  voters: readonly VoterEndpoint[],
  fetchHealth: HealthFetch,
  timeoutMs: number,
): Promise<VoterHealth> {
  const out: VoterHealth = { healthy: [], leaderless: [], silent: [] };
  const answers = await Promise.all(voters.map(async (v) => {
    try {
      const res = await fetchHealth(
        `${v.url.replace(/\/+$/, "")}/health`,
        AbortSignal.timeout(timeoutMs),
      );
      const body = await res.json().catch(() => ({})) as { health?: unknown };
      return body.health === "true" || body.health === true ? "healthy" : "leaderless";
    } catch {
      return "silent";
    }
  }));
  voters.forEach((v, i) => out[answers[i]].push(v.name));
  return out;
}

/**
 * Why changes cannot be made, in words, when the voters that answer with a leader are not a
 * majority; undefined when they are (etcd was slow, not the cluster). A voter that answers
 * without a leader still counts towards a majority once the others are back, so only the silent
 * ones are missing.
 */
export function quorumLost(h: VoterHealth): string | undefined {
  const total = h.healthy.length + h.leaderless.length + h.silent.length;
  const need = Math.floor(total / 2) + 1;
  if (total === 0 || h.healthy.length >= need) return undefined;
  const missing = need - h.healthy.length - h.leaderless.length;
  if (missing <= 0) {
    return `quorum lost: the voters answer but have no leader (an election is under way, or ` +
      `they cannot reach each other); try again in a few seconds`;
  }
  // Sorted: the voters answer (or not) in any order, and the message should not change with it.
  const silent = `${[...h.silent].sort().join(", ")} ${
    h.silent.length === 1 ? "does" : "do"
  } not answer`;
  return `quorum lost: changes need ${need} of the ${total} voters and ${missing} ` +
    `${missing === 1 ? "is" : "are"} missing (${silent}). Services keep running and are ` +
    `served as they were; bring ${missing === 1 ? "a voter" : `${missing} voters`} back ` +
    `(power, network), then try again`;
}
