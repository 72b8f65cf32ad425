import assert from "node:assert/strict";
import { expectedVoters } from "./members.ts";
import { engineOf, perNode } from "./scale.ts";

Deno.test("voters: the largest odd count up to the nodes, at most five", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => expectedVoters(n)), [1, 1, 3, 3, 5, 5, 5]);
  assert.equal(expectedVoters(50, 7), 7);
});

Deno.test("hosts 1-5 and 6 run their own dockerd; later hosts use host 6's", () => {
  assert.deepEqual([1, 5, 6, 7, 50].map(engineOf), [1, 5, 6, 6, 6]);
});

Deno.test("per-node idle figures: the mean and the highest; none for no node", () => {
  assert.deepEqual(perNode([{ cpu: 0.1, rss: 100 }, { cpu: 0.3, rss: 300 }]), {
    count: 2,
    cpu: 0.2,
    cpuMax: 0.3,
    rss: 200,
    rssMax: 300,
  });
  assert.deepEqual(perNode([]), { count: 0, cpu: 0, cpuMax: 0, rss: 0, rssMax: 0 });
});
