import assert from "node:assert/strict";
import {
  comparisons,
  type Figures,
  formatReport,
  formatValue,
  GOALS,
  mib,
  ratio,
  type RunFigures,
  type Settings,
  spreads,
  verdicts,
} from "./report.ts";
import type { SoakSample } from "./soak.ts";
import type { DnsperfResult, WrkResult } from "./tools.ts";
import type { Transfer } from "./transfer.ts";
import type { WsResult } from "./ws_load.ts";

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

/** `mbs` MB/s over 2 s. */
function transfer(mbs: number, extra: Partial<Transfer> = {}): Transfer {
  return { bytes: mbs * 2e6, seconds: 2, transfers: 4, problems: [], ...extra };
}

function ws(perSec: number, extra: Partial<WsResult> = {}): WsResult {
  return {
    messages: perSec * 5,
    seconds: 5,
    connections: 16,
    opened: 16,
    errors: 0,
    firstErrors: [],
    ...extra,
  };
}

const SETTINGS: Settings = {
  address: "192.0.2.2",
  runs: 1,
  durationS: 10,
  connections: 64,
  latencyS: 5,
  downloads: 8,
  fileBytes: 50_000_000,
  wsConnections: 16,
  wsSeconds: 5,
  dnsClients: 4,
  services: 20,
};

/**
 * A run where fossora is exactly at every goal: 0.7x, 1.5x, 0.9x, 0.9x, 0.7x, 0.8x; HTTPS, which
 * has none, at 0.75x.
 */
function run(o: Partial<RunFigures> = {}): RunFigures {
  return {
    first: "nginx",
    requests: { fossora: wrk(7000), nginx: wrk(10000), direct: wrk(20000) },
    https: { fossora: wrk(6000), nginx: wrk(8000) },
    latency: { fossora: wrk(900, { p50Ms: 0.3 }), nginx: wrk(1200, { p50Ms: 0.2 }) },
    downloads: { fossora: transfer(900), nginx: transfer(1000) },
    upload: { fossora: transfer(450), nginx: transfer(500) },
    websocket: { fossora: ws(7000), nginx: ws(10000) },
    dns: { fossora: dns(40000), dnsmasq: dns(50000) },
    dnsForward: { fossora: dns(30000), dnsmasq: dns(40000) },
    cpu: { fossora: { seconds: 5, requests: 70000 }, nginx: { seconds: 2, requests: 100000 } },
    memory: { peakRss: 130 * MIB, peakRssAnon: 90 * MIB, etcdPeak: 30 * MIB, samples: 500 },
    ...o,
  };
}

function figures(runs: RunFigures[] = [run()], o: Partial<Figures> = {}): Figures {
  return {
    settings: { ...SETTINGS, runs: runs.length },
    runs,
    memory: {
      idleRss: 100 * MIB,
      idleRssAnon: 45 * MIB,
      peakRss: Math.max(...runs.map((r) => r.memory.peakRss)),
      peakRssAnon: Math.max(...runs.map((r) => r.memory.peakRssAnon)),
      afterRss: 110 * MIB,
      afterRssAnon: 55 * MIB,
      etcdIdle: 25 * MIB,
      samples: 500,
    },
    ...o,
  };
}

function passes(f: Figures): boolean[] {
  return verdicts(f).map((v) => v.pass);
}

const ALL_PASS = [true, true, true, true, true, true, true, true, true];

Deno.test("the goals are issue 6's", () => {
  assert.equal(GOALS.requestsRatio, 0.7);
  assert.equal(GOALS.latencyRatio, 1.5);
  assert.equal(GOALS.downloadsRatio, 0.9);
  assert.equal(GOALS.uploadRatio, 0.9);
  assert.equal(GOALS.websocketRatio, 0.7);
  assert.equal(GOALS.dnsRatio, 0.8);
  assert.equal(GOALS.idlePrivateMiB, 60);
  assert.equal(GOALS.loadPrivateMiB, 120);
});

Deno.test("figures exactly at every goal all pass", () => {
  assert.deepEqual(passes(figures()), ALL_PASS);
});

Deno.test("each goal misses on its own figure just past its boundary", () => {
  const miss = (i: number) => ALL_PASS.map((p, j) => j === i ? false : p);
  const r = run();
  assert.deepEqual(
    passes(figures([run({ requests: { ...r.requests, fossora: wrk(6999) } })])),
    miss(0),
  );
  assert.deepEqual(
    passes(figures([run({ latency: { ...r.latency, fossora: wrk(1, { p50Ms: 0.3001 }) } })])),
    miss(1),
  );
  assert.deepEqual(
    passes(figures([run({ downloads: { ...r.downloads, fossora: transfer(899) } })])),
    miss(2),
  );
  assert.deepEqual(
    passes(figures([run({ upload: { ...r.upload, fossora: transfer(449) } })])),
    miss(3),
  );
  assert.deepEqual(
    passes(figures([run({ websocket: { ...r.websocket, fossora: ws(6999) } })])),
    miss(4),
  );
  assert.deepEqual(passes(figures([run({ dns: { ...r.dns, fossora: dns(39999) } })])), miss(5));
  const f = figures();
  assert.deepEqual(passes({ ...f, memory: { ...f.memory, idleRssAnon: 60 * MIB + 1 } }), miss(6));
  assert.deepEqual(passes({ ...f, memory: { ...f.memory, peakRssAnon: 120 * MIB + 1 } }), miss(7));
  assert.deepEqual(passes({ ...f, memory: { ...f.memory, afterRssAnon: 120 * MIB + 1 } }), miss(8));
});

Deno.test("VmRSS is reported but the memory goals are on RssAnon", () => {
  const f = figures();
  assert.deepEqual(passes({ ...f, memory: { ...f.memory, idleRss: 200 * MIB } }), ALL_PASS);
});

Deno.test("a fast figure with errors does not meet its goal", () => {
  const r = run();
  const bad = [
    run({ requests: { ...r.requests, fossora: wrk(9000, { non2xx: 3 }) } }),
    run({ latency: { ...r.latency, fossora: wrk(9000, { p50Ms: 0.1, socketErrors: 1 }) } }),
    run({
      downloads: {
        ...r.downloads,
        fossora: transfer(2000, { problems: ["download answered 502"] }),
      },
    }),
    run({ upload: { ...r.upload, fossora: transfer(0, { transfers: 0 }) } }),
    run({ websocket: { ...r.websocket, fossora: ws(20000, { errors: 2, firstErrors: ["x"] }) } }),
    run({ dns: { ...r.dns, fossora: dns(90000, { lost: 2 }) } }),
  ];
  const keys = ["requests", "latency", "downloads", "upload", "websocket", "dns"];
  bad.forEach((b, i) => {
    const c = comparisons(SETTINGS, b).find((c) => c.key === keys[i]);
    assert.equal(c?.pass, false, keys[i]);
  });
});

Deno.test("HTTPS is compared with nginx at the marked place, with no goal and so no verdict", () => {
  const cs = comparisons(SETTINGS, run());
  assert.deepEqual(cs.map((c) => c.key), [
    "requests",
    "latency",
    "downloads",
    "upload",
    "websocket",
    "https",
    "dns",
    "dnsForward",
  ]);
  const https = cs[5];
  assert.equal(https.label, "HTTPS requests/s, 64 connections, 100 B body");
  assert.equal(https.unit, "req/s");
  assert.equal(https.reference, "nginx");
  assert.equal(https.fossora, 6000);
  assert.equal(https.ref, 8000);
  assert.equal(https.ratio, 0.75);
  assert.equal(https.goal, null);
  assert.equal(https.pass, null, "no goal, neither met nor missed");
  const r = run();
  const broken = comparisons(
    SETTINGS,
    run({ https: { fossora: wrk(100, { socketErrors: 9 }), nginx: wrk(8000, { non2xx: 2 }) } }),
  )[5];
  assert.deepEqual(broken.problems, ["9 socket errors"]);
  assert.deepEqual(broken.refProblems, ["2 non-2xx/3xx responses"]);
  assert.equal(broken.pass, null);
  const slow = run({ https: { ...r.https, fossora: wrk(10) } });
  assert.deepEqual(passes(figures([slow])), ALL_PASS, "however slow, no goal is missed");
  assert.ok(verdicts(figures()).every((v) => !/HTTPS/.test(v.goal)));
});

Deno.test("a latency of 0 (nothing measured) is no pass, a reference that did nothing gives 0", () => {
  const r = run();
  const c = comparisons(
    SETTINGS,
    run({ latency: { ...r.latency, fossora: wrk(1, { p50Ms: 0 }) } }),
  );
  assert.equal(c[1].pass, false);
  assert.equal(ratio(5, 0), 0);
  assert.equal(ratio(3, 4), 0.75);
  assert.equal(mib(80 * MIB), "80.0 MiB");
});

Deno.test("across runs: best and worst ratio each way, and a goal met only if every run met it", () => {
  const r = run();
  const runs = [
    run(),
    run({
      requests: { ...r.requests, fossora: wrk(5000) },
      latency: { ...r.latency, fossora: wrk(1, { p50Ms: 0.4 }) },
    }),
    run({
      requests: { ...r.requests, fossora: wrk(9000) },
      latency: { ...r.latency, fossora: wrk(1, { p50Ms: 0.2 }) },
    }),
  ];
  const sp = spreads(runs.map((x) => comparisons(SETTINGS, x)));
  assert.equal(sp[0].key, "requests");
  assert.equal(sp[0].best, 0.9);
  assert.equal(sp[0].worst, 0.5);
  assert.equal(sp[0].passes, 2);
  assert.equal(sp[1].key, "latency");
  assert.equal(sp[1].best, 1, "lower is better for latency");
  assert.equal(sp[1].worst, 2);
  const v = verdicts(figures(runs));
  assert.equal(v[0].pass, false);
  assert.equal(v[0].measured, "worst 0.50x, best 0.90x, 2/3 runs met it");
  assert.equal(v[2].pass, true);
  const https = sp.find((s) => s.key === "https");
  assert.equal(https?.best, 0.75);
  assert.equal(https?.worst, 0.75);
  assert.equal(https?.goal, null);
  assert.equal(https?.passes, null);
  const varied = spreads([
    comparisons(SETTINGS, run({ https: { ...r.https, fossora: wrk(4000) } })),
    comparisons(SETTINGS, run({ https: { ...r.https, fossora: wrk(9000) } })),
  ]).find((s) => s.key === "https");
  assert.equal(varied?.best, 1.125);
  assert.equal(varied?.worst, 0.5);
});

Deno.test("values are shown in their units", () => {
  assert.equal(formatValue(12345.6, "req/s"), "12,346 req/s");
  assert.equal(formatValue(0.2346, "ms"), "0.235 ms");
  assert.equal(formatValue(12.345, "ms"), "12.35 ms");
  assert.equal(formatValue(812.34, "MB/s"), "812.3 MB/s");
  assert.equal(formatValue(5000, "msg/s"), "5,000 msg/s");
});

Deno.test("the report shows each figure with its reference, ratio, goal and verdict", () => {
  const r = run();
  const text = formatReport(figures([run({
    requests: { ...r.requests, fossora: wrk(3000, { socketErrors: 4 }) },
  })]));
  assert.match(
    text,
    /requests\/s, 64 connections, 100 B body\s+3,000 req\/s\s+nginx\s+10,000 req\/s\s+0\.30x\s+>= 0\.7x\s+MISS/,
  );
  assert.match(
    text,
    /median latency, 1 connection\s+0\.300 ms\s+nginx\s+0\.200 ms\s+1\.50x\s+<= 1\.5x\s+PASS/,
  );
  assert.match(
    text,
    /8 concurrent 50 MB downloads\s+900\.0 MB\/s\s+nginx\s+1000\.0 MB\/s\s+0\.90x/,
  );
  assert.match(text, /one 50 MB upload\s+450\.0 MB\/s/);
  assert.match(
    text,
    /WebSocket echoes, 16 connections\s+7,000 msg\/s\s+nginx\s+10,000 msg\/s\s+0\.70x/,
  );
  assert.match(
    text,
    /DNS, 4 clients, one A query\s+40,000 queries\/s\s+dnsmasq\s+50,000 queries\/s\s+0\.80x/,
  );
  assert.match(
    text,
    /DNS forwarding, 4 clients, 20 cached names\s+30,000 queries\/s\s+dnsmasq\s+40,000 queries\/s\s+0\.75x\s+no goal$/m,
  );
  // 5 s / 70,000 requests and 2 s / 100,000, per 10,000.
  assert.match(
    text,
    /CPU s per 10,000 requests.*\s+0\.714 s\s+nginx\s+0\.200 s\s+3\.57x\s+no goal/,
  );
  assert.match(text, /! fossora, requests\/s, 64 connections, 100 B body: 4 socket errors/);
  assert.match(text, /backend without a proxy: 20,000 req\/s/);
  assert.match(
    text,
    /HTTPS requests\/s, 64 connections, 100 B body\s+6,000 req\/s\s+nginx\s+8,000 req\/s\s+0\.75x\s+no goal$/m,
  );
  assert.doesNotMatch(text, /not measured/);
  assert.doesNotMatch(text, /Over HTTPS/, "no TLS session checked, no line");
  assert.doesNotMatch(text, /background work/, "no idle reading, no line");
  const session = (cipher: string) => ({ cipher, certificate: "CN=fossora proxy" });
  const same = session("TLSv1.3 / TLS_AES_256_GCM_SHA384");
  assert.match(
    formatReport({ ...figures(), tls: { fossora: same, nginx: same } }),
    /Over HTTPS both serve the agent's certificate \(the same files\), which curl checked against the cluster CA, TLSv1\.3 \/ TLS_AES_256_GCM_SHA384 with both;/,
  );
  assert.match(
    formatReport({
      ...figures(),
      tls: { fossora: same, nginx: session("TLSv1.2 / ECDHE-ECDSA-AES256-GCM-SHA384") },
    }),
    /TLSv1\.3 \/ TLS_AES_256_GCM_SHA384 with fossora, TLSv1\.2 \/ ECDHE-ECDSA-AES256-GCM-SHA384 with nginx;.*\n {2}! the two negotiated different TLS/,
  );
  assert.doesNotMatch(
    formatReport({ ...figures(), tls: { fossora: same, nginx: same } }),
    /different TLS/,
  );
  assert.match(
    formatReport({ ...figures(), idleCpuPerSec: 0.0123 }),
    /CPU counts its own background work too: 0\.012 s a second when idle/,
  );
  assert.match(text, /idle\s+45\.0 MiB\s+100\.0 MiB/);
  assert.match(text, /peak during the load\s+90\.0 MiB\s+130\.0 MiB/);
  assert.match(text, /after the load, settled\s+55\.0 MiB\s+110\.0 MiB/);
  assert.match(text, /etcd idle: 25\.0 MiB\s+etcd peak: n\/a/);
  assert.match(text, /MISS\s+requests\/s, 64 connections, 100 B body: >= 0\.7x nginx\s+0\.30x/);
  assert.match(text, /PASS\s+agent private memory idle, 20 services <= 60 MiB\s+45\.0 MiB/);
  assert.match(text, /reach the replicas at 192\.0\.2\.2, the node's own address/);
  assert.doesNotMatch(text, /Across/, "one run has no spread");
  assert.doesNotMatch(text, /Soak/);
});

Deno.test("the report warns when the replicas are reached through docker-proxy", () => {
  const f = figures();
  const text = formatReport({ ...f, settings: { ...f.settings, address: "127.0.0.1" } });
  assert.match(text, /at 127\.0\.0\.1 through Docker's docker-proxy/);
});

Deno.test("the report of several runs shows each run and the spread", () => {
  const text = formatReport(figures([run(), run({ first: "fossora" })]));
  assert.match(text, /Run 1 of 2 \(nginx measured first/);
  assert.match(text, /Run 2 of 2 \(fossora measured first/);
  assert.match(text, /Across 2 runs/);
  assert.match(text, /requests\/s, 64 connections, 100 B body\s+0\.70x\s+0\.70x\s+>= 0\.7x\s+2\/2/);
  assert.match(text, /CPU s per 10,000 requests: fossora 0\.714-0\.714 s, nginx 0\.200-0\.200 s/);
  assert.match(text, /HTTPS requests\/s, 64 connections, 100 B body\s+0\.75x\s+0\.75x\s+no goal$/m);
});

function soakSamples(anon: number[]): SoakSample[] {
  return anon.map((a, i) => ({ t: i * 30, rssAnon: a * MIB, rss: (a + 50) * MIB, cpuS: 3 }));
}

Deno.test("a soak adds its table of RssAnon over time and its goals", () => {
  const soak = {
    seconds: 120,
    intervalS: 30,
    samples: soakSamples([45, 60, 62, 61, 63]),
    traffic: {
      requests: wrk(1000),
      downloads: transfer(100),
      uploads: transfer(100, { problems: ["upload answered 502"] }),
      websocket: ws(100),
    },
    peakRssAnon: 70 * MIB,
    afterRssAnon: 50 * MIB,
  };
  const f = figures([run()], { soak });
  const text = formatReport(f);
  assert.match(text, /Soak: 120 s of mixed traffic/);
  assert.match(text, /^\s+0 s\s+45\.0 MiB\s+95\.0 MiB$/m);
  assert.match(text, /^\s+120 s\s+63\.0 MiB\s+113\.0 MiB\s+3\.0$/m);
  assert.match(text, /! soak: upload answered 502/);
  const v = verdicts(f);
  assert.equal(v.length, 11);
  assert.equal(v[9].pass, true, "63 - 62 = 1 MiB is within the tolerance");
  assert.match(v[9].goal, /no growth over the 120 s soak/);
  assert.equal(v[10].pass, true);
  const grown = verdicts({ ...f, soak: { ...soak, samples: soakSamples([45, 60, 62, 70, 75]) } });
  assert.equal(grown[9].pass, false);
  assert.equal(grown[9].measured, "+13.0 MiB");
});
