import assert from "node:assert/strict";
import { budgetMs, parseArgs, settingsOf } from "./run.ts";

const CLUSTER_DEFAULTS = {
  parts: ["proxy", "join", "scale", "failover", "mesh", "ui"],
  trials: 5,
  nodes: 50,
  kills: 10,
  watchS: 600,
};

Deno.test("bench flags: defaults, --json, --duration, --runs, --soak, and clear errors", () => {
  assert.deepEqual(parseArgs([]), {
    json: false,
    durationS: 10,
    runs: 1,
    soakS: 0,
    ...CLUSTER_DEFAULTS,
  });
  assert.deepEqual(parseArgs(["--json", "--duration=3", "--runs=3", "--soak=600"]), {
    json: true,
    durationS: 3,
    runs: 3,
    soakS: 600,
    ...CLUSTER_DEFAULTS,
  });
  assert.throws(() => parseArgs(["--duration=0"]), /1\.\.30/);
  assert.throws(() => parseArgs(["--duration=abc"]), /whole number/);
  assert.throws(() => parseArgs(["--runs=0"]), /--runs must be a whole number, 1\.\.10/);
  assert.throws(() => parseArgs(["--runs=1.5"]), /whole number/);
  assert.throws(() => parseArgs(["--soak=5"]), /--soak must be a whole number, 10\.\.7200/);
  assert.throws(() => parseArgs(["--fast"]), /unknown argument "--fast"/);
});

Deno.test("cluster flags: --only picks parts in their order, --trials, --nodes, --kills, --watch, clear errors", () => {
  const o = parseArgs(["--only=failover,scale,join", "--trials=3", "--nodes=20", "--kills=4"]);
  assert.deepEqual([o.parts, o.trials, o.nodes, o.kills], [
    ["join", "scale", "failover"],
    3,
    20,
    4,
  ]);
  assert.equal(parseArgs(["--watch=0"]).watchS, 0);
  assert.throws(() => parseArgs(["--kills=0"]), /--kills must be a whole number, 1\.\.50/);
  assert.throws(() => parseArgs(["--watch=-1"]), /--watch must be a whole number/);
  assert.throws(() => parseArgs(["--only=proxy,dns"]), /one or more of proxy, join, scale/);
  assert.throws(() => parseArgs(["--only="]), /one or more of proxy, join, scale/);
  assert.throws(() => parseArgs(["--nodes=254"]), /--nodes must be a whole number, 2\.\.253/);
  assert.throws(() => parseArgs(["--trials=0"]), /--trials must be a whole number, 1\.\.20/);
});

Deno.test("the issue's loads: 64 connections, 8 downloads of 50 MB, 20 services", () => {
  const s = settingsOf(parseArgs([]));
  assert.equal(s.connections, 64);
  assert.equal(s.downloads, 8);
  assert.equal(s.fileBytes, 50_000_000);
  assert.equal(s.services, 20);
  assert.equal(s.latencyS, 5);
  assert.equal(settingsOf(parseArgs(["--duration=1"])).latencyS, 2);
});

Deno.test("the budget grows with the runs and the soak, and covers only the parts asked", () => {
  const one = budgetMs(parseArgs(["--only=proxy"]));
  assert.ok(one > 240_000 && one < 600_000, `${one}`);
  const three = budgetMs(parseArgs(["--only=proxy", "--runs=3"]));
  assert.ok(three > one + 300_000, "each run adds its loads");
  assert.ok(budgetMs(parseArgs(["--only=proxy", "--soak=600"])) >= one + 600_000);
  const scale = (n: number) => budgetMs(parseArgs(["--only=scale", `--nodes=${n}`]));
  assert.ok(scale(50) > scale(10) + 8 * 120_000, "each batch of five nodes adds its time limit");
  const failover = (watch: number) => budgetMs(parseArgs(["--only=failover", `--watch=${watch}`]));
  assert.ok(failover(600) >= failover(0) + 600_000, "the watch adds its time");
  const mesh = budgetMs(parseArgs(["--only=mesh"]));
  assert.ok(mesh > 600_000 + 240_000, "the mesh waits for a slot, then three paths");
  assert.ok(
    budgetMs(parseArgs([])) > one + scale(50) + failover(600) + mesh - 40_000,
    "the default run has every part",
  );
});
