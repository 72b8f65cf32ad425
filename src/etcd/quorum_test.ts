import assert from "node:assert/strict";
import { type HealthFetch, probeVoters, quorumLost } from "./quorum.ts";

const voters = ["a", "b", "c"].map((name) => ({ name, url: `https://${name}:2379/` }));

/** Answers per host: "ok", "noleader", or nothing (the request waits until it is aborted). */
function fakeFetch(answers: Record<string, "ok" | "noleader" | "silent">): HealthFetch {
  return (url, signal) => {
    const host = new URL(url).hostname;
    assert.equal(new URL(url).pathname, "/health");
    const a = answers[host];
    if (a === "silent") {
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    }
    const body = a === "ok" ? { health: "true" } : { health: "false", reason: "RAFT NO LEADER" };
    return Promise.resolve(new Response(JSON.stringify(body), { status: a === "ok" ? 200 : 503 }));
  };
}

Deno.test("every voter is asked at once; silent ones cost the timeout once, not each", async () => {
  const started = Date.now();
  const h = await probeVoters(voters, fakeFetch({ a: "noleader", b: "silent", c: "silent" }), 200);
  assert.ok(Date.now() - started < 1000);
  assert.deepEqual(h, { healthy: [], leaderless: ["a"], silent: ["b", "c"] });
});

Deno.test("two of three voters gone: quorum lost, one more voter needed, naming the silent ones", () => {
  const why = quorumLost({ healthy: [], leaderless: ["a"], silent: ["b", "c"] });
  assert.match(why!, /^quorum lost: changes need 2 of the 3 voters and 1 is missing/);
  assert.match(why!, /\(b, c do not answer\)\. .*bring a voter back/);
  const five = quorumLost({ healthy: [], leaderless: ["a", "b"], silent: ["c", "d", "e"] });
  assert.match(five!, /changes need 3 of the 5 voters and 1 is missing \(c, d, e do not answer\)/);
  const alone = quorumLost({ healthy: [], leaderless: [], silent: ["a", "b", "c"] });
  assert.match(alone!, /2 are missing .*bring 2 voters back/);
});

Deno.test("a majority with a leader is not quorum lost; all answering without one is an election", () => {
  assert.equal(quorumLost({ healthy: ["a", "b"], leaderless: [], silent: ["c"] }), undefined);
  assert.equal(quorumLost({ healthy: [], leaderless: [], silent: [] }), undefined);
  assert.match(
    quorumLost({ healthy: [], leaderless: ["a", "b", "c"], silent: [] })!,
    /no leader \(an election is under way/,
  );
});
