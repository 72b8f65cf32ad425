import assert from "node:assert/strict";
import {
  parseDnsperf,
  parseDockerPort,
  parseDuration,
  parseRssAnon,
  parseVmRss,
  parseWrk,
} from "./tools.ts";

// Printed by wrk 4.1.0 on this machine (against the bench backend).
const WRK_OK = `Running 3s test @ http://127.0.0.1:32770/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.13ms    2.04ms  14.64ms   71.65%
    Req/Sec    10.23k     4.16k   18.15k    60.00%
  Latency Distribution
     50%  812.00us
     75%    4.29ms
     90%    6.27ms
     99%    1.05s
  30536 requests in 3.00s, 7.60MB read
Requests/sec:  10170.21
Transfer/sec:      2.53MB
`;

const WRK_ERRORS = `Running 2s test @ http://127.0.0.1:32770/nope
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.04ms    3.00ms  32.28ms   79.31%
    Req/Sec     5.39k     1.14k    7.10k    65.00%
  Latency Distribution
     50%    5.97ms
     75%    6.99ms
     90%    9.00ms
     99%   18.61ms
  10724 requests in 2.00s, 3.15MB read
  Socket errors: connect 1, read 5, write 0, timeout 12
  Non-2xx or 3xx responses: 10724
Requests/sec:   5357.18
Transfer/sec:      1.57MB
`;

// Printed by dnsperf 2.10.0 on this machine (against dnsmasq).
const DNSPERF_OK = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 5399 -d /tmp/q.txt -l 3 -c 4
[Status] Sending queries (to 127.0.0.1:5399)
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         171416
  Queries completed:    171416 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 171416 (100.00%)
  Average packet size:  request 36, response 52
  Run time (s):         3.001754
  Queries per second:   57105.279113

  Average Latency (s):  0.001450 (min 0.000019, max 0.010460)
  Latency StdDev (s):   0.000486
`;

const DNSPERF_FAILING = `Statistics:

  Queries sent:         1000
  Queries completed:    900 (90.00%)
  Queries lost:         100 (10.00%)

  Response codes:       NOERROR 600 (66.67%), SERVFAIL 300 (33.33%)
  Average packet size:  request 36, response 52
  Run time (s):         1.000000
  Queries per second:   900.000000

  Average Latency (s):  0.002000 (min 0.000019, max 0.010460)
`;

Deno.test("wrk durations in us, ms and s become milliseconds", () => {
  assert.equal(parseDuration("812.00us"), 0.812);
  assert.equal(parseDuration("18.61ms"), 18.61);
  assert.equal(parseDuration("1.05s"), 1050);
  assert.throws(() => parseDuration("12 parsecs"), /not a wrk duration/);
});

Deno.test("a clean wrk --latency report gives rate, count and percentiles, no errors", () => {
  assert.deepEqual(parseWrk(WRK_OK), {
    requestsPerSec: 10170.21,
    requests: 30536,
    p50Ms: 0.812,
    p99Ms: 1050,
    non2xx: 0,
    socketErrors: 0,
  });
});

Deno.test("wrk's non-2xx and socket error lines are counted", () => {
  const r = parseWrk(WRK_ERRORS);
  assert.equal(r.requestsPerSec, 5357.18);
  assert.equal(r.p99Ms, 18.61);
  assert.equal(r.non2xx, 10724);
  assert.equal(r.socketErrors, 18);
});

Deno.test("wrk output without --latency is rejected with a hint", () => {
  const plain = WRK_OK.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, "");
  assert.throws(() => parseWrk(plain), /use --latency/);
  assert.throws(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused"), /wrk/);
});

Deno.test("dnsperf statistics give qps, counts and latency", () => {
  assert.deepEqual(parseDnsperf(DNSPERF_OK), {
    queriesPerSec: 57105.279113,
    sent: 171416,
    completed: 171416,
    lost: 0,
    errors: 0,
    avgLatencyMs: 1.45,
  });
});

Deno.test("dnsperf lost queries and non-NOERROR answers are counted", () => {
  const r = parseDnsperf(DNSPERF_FAILING);
  assert.equal(r.lost, 100);
  assert.equal(r.errors, 300);
  assert.equal(r.queriesPerSec, 900);
  assert.throws(() => parseDnsperf("[Status] Command line: dnsperf"), /dnsperf output has no/);
});

Deno.test("VmRSS is read from /proc status text in bytes", () => {
  const status = "Name:\tdeno\nVmPeak:\t 9000 kB\nVmRSS:\t  101284 kB\nRssAnon:\t 1 kB\n";
  assert.equal(parseVmRss(status), 101284 * 1024);
  assert.throws(() => parseVmRss("Name:\tzombie\n"), /no VmRSS/);
});

Deno.test("docker port output gives the published host port", () => {
  assert.equal(parseDockerPort("0.0.0.0:49153\n:::49153\n"), 49153);
  assert.equal(parseDockerPort("127.0.0.1:32769\n"), 32769);
  assert.throws(() => parseDockerPort(""), /no host port/);
  assert.throws(() => parseDockerPort("Error: No public port '80/tcp'"), /no host port/);
});

Deno.test("parseRssAnon reads the private part of the resident set", () => {
  const status = "Name:\tdeno\nVmRSS:\t   95324 kB\nRssAnon:\t   40052 kB\nRssFile:\t   55272 kB\n";
  assert.equal(parseRssAnon(status), 40052 * 1024);
  assert.throws(() => parseRssAnon("Name:\tdeno\n"), /no RssAnon line/);
});
