import assert from "node:assert/strict";
import { soakGrowth, soakInterval, type SoakSample } from "./soak.ts";

const MIB = 1024 * 1024;

function samples(anon: number[]): SoakSample[] {
  return anon.map((a, i) => ({ t: i * 30, rssAnon: a * MIB, rss: 0, cpuS: 0 }));
}

Deno.test("the soak samples every 30 s when long, about ten times when short", () => {
  assert.equal(soakInterval(600), 30);
  assert.equal(soakInterval(3600), 30);
  assert.equal(soakInterval(60), 6);
  assert.equal(soakInterval(10), 1);
  assert.equal(soakInterval(3), 1);
});

Deno.test("growth compares the peaks of the two halves, leaving the reading before the traffic out", () => {
  // The idle reading at 0 s is far below: it must not count as growth.
  assert.equal(soakGrowth(samples([40, 70, 72, 71, 72])), 0);
  // A saw-tooth that does not rise has no growth.
  assert.equal(soakGrowth(samples([40, 60, 75, 62, 74, 61, 75])), 0);
  // A leak raises every peak.
  assert.equal(soakGrowth(samples([40, 60, 65, 70, 75, 80])), 15 * MIB);
  assert.equal(soakGrowth(samples([40, 60])), 0, "one reading under load says nothing");
});
