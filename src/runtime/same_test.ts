import assert from "node:assert/strict";
import type { WantedReplica } from "./labels.ts";
import { sameWanted } from "./same.ts";

function want(replica: number, generation = 1, image = "img:1"): WantedReplica {
  return {
    service: "web",
    replica,
    generation,
    spec: {
      name: "web",
      image,
      replicas: 2,
      ports: [{ container: 80, http: true }],
      env: { A: "1", B: "2" },
      volumes: [],
      placement: {},
    },
  };
}

Deno.test("equal lists are the same whatever the order of entries and keys", () => {
  const a = [want(0), want(1)];
  const b = [want(1), want(0)].map((w) => JSON.parse(JSON.stringify(w)));
  b[0].spec.env = { B: "2", A: "1" };
  assert.equal(sameWanted(a, b), true);
  assert.equal(sameWanted([], []), true);
});

Deno.test("any change of replica, generation or spec makes lists differ", () => {
  const a = [want(0), want(1)];
  assert.equal(sameWanted(a, [want(0)]), false);
  assert.equal(sameWanted(a, [want(0), want(2)]), false);
  assert.equal(sameWanted(a, [want(0), want(1, 2)]), false);
  assert.equal(sameWanted(a, [want(0), want(1, 1, "img:2")]), false);
  const env = [want(0), want(1)];
  env[1].spec.env = { A: "1", B: "3" };
  assert.equal(sameWanted(a, env), false);
  assert.equal(sameWanted(a, [want(0), { ...want(1), service: "api" }]), false);
});

Deno.test("lists with invalid entries compare without throwing", () => {
  const bad = [null, "x", { replica: "?" }] as unknown[];
  assert.equal(sameWanted(bad, [null, "x", { replica: "?" }]), true);
  assert.equal(sameWanted(bad, [null, "y", { replica: "?" }]), false);
});
