import assert from "node:assert/strict";
import { type Figures, formatReport, mib, ratio, verdicts } from "./report.ts";
import type { DnsperfResult, WrkResult } from "./tools.ts";

const MIB = 1024 * 1024;

function wrk(rps: number, extra: Partial<WrkResult> = {}): WrkResult {
  return {
    requestsPerSec: rps,
    requests: rps * 10,
    p50Ms: 1,
    p99Ms: 5,
    non2xx: 0,
    socketErrors: 0,
    ...extra,
  };
}

function dns(qps: number, extra: Partial<DnsperfResult> = {}): DnsperfResult {
  return {
    queriesPerSec: qps,
    sent: qps * 10,
    completed: qps * 10,
    lost: 0,
    errors: 0,
    avgLatencyMs: 1,
    ...extra,
  };
}

function figures(
  o: { proxy?: WrkResult; dns?: DnsperfResult; idle?: number; peak?: number } = {},
): Figures {
  return {
    proxy: {
      fossora: o.proxy ?? wrk(7000),
      nginx: wrk(10000),
      direct: wrk(12000),
      connections: 32,
      durationS: 10,
    },
    dns: { fossora: o.dns ?? dns(30000), dnsmasq: dns(50000), clients: 4, durationS: 10 },
    rss: {
      agentIdle: o.idle ?? 70 * MIB,
      agentPeak: o.peak ?? 120 * MIB,
      etcdIdle: 25 * MIB,
      samples: 200,
    },
  };
}

function passes(f: Figures): boolean[] {
  return verdicts(f).map((v) => v.pass);
}

Deno.test("figures within every goal all pass", () => {
  assert.deepEqual(passes(figures()), [true, true, true, true]);
});

Deno.test("each goal misses on its own figure, at the boundary it passes", () => {
  assert.deepEqual(passes(figures({ proxy: wrk(5999) })), [false, true, true, true]);
  assert.deepEqual(passes(figures({ proxy: wrk(6000) })), [true, true, true, true]);
  assert.deepEqual(passes(figures({ dns: dns(24999) })), [true, false, true, true]);
  assert.deepEqual(passes(figures({ idle: 80 * MIB + 1 })), [true, true, false, true]);
  assert.deepEqual(passes(figures({ peak: 150 * MIB + 1 })), [true, true, true, false]);
});

Deno.test("a fast run with errors does not meet its throughput goal", () => {
  assert.equal(verdicts(figures({ proxy: wrk(9000, { non2xx: 3 }) }))[0].pass, false);
  assert.equal(verdicts(figures({ proxy: wrk(9000, { socketErrors: 1 }) }))[0].pass, false);
  assert.equal(verdicts(figures({ dns: dns(40000, { lost: 2 }) }))[1].pass, false);
  assert.equal(verdicts(figures({ dns: dns(40000, { errors: 2 }) }))[1].pass, false);
});

Deno.test("a reference that did nothing gives ratio 0, not Infinity", () => {
  assert.equal(ratio(5, 0), 0);
  assert.equal(ratio(3, 4), 0.75);
  assert.equal(mib(80 * MIB), "80.0 MiB");
});

Deno.test("the report shows figures, ratios, problems and PASS/MISS per goal", () => {
  const text = formatReport(figures({ proxy: wrk(3000, { socketErrors: 4 }), peak: 200 * MIB }));
  assert.match(text, /fossora proxy\s+3,000\s+1\.00 ms\s+5\.00 ms/);
  assert.match(text, /nginx proxy\s+10,000/);
  assert.match(text, /ratio fossora\/nginx: 0\.30x/);
  assert.match(text, /ratio fossora\/dnsmasq: 0\.60x/);
  assert.match(text, /! fossora proxy: 4 socket errors/);
  assert.match(text, /MISS\s+proxy >= 0\.6x nginx\s+0\.30x/);
  assert.match(text, /PASS\s+DNS >= 0\.5x dnsmasq\s+0\.60x/);
  assert.match(text, /PASS\s+agent idle <= 80 MiB\s+70\.0 MiB/);
  assert.match(text, /MISS\s+agent under load <= 150 MiB\s+200\.0 MiB/);
  assert.match(text, /etcd idle: 25\.0 MiB\s+etcd peak: n\/a/);
});
