import assert from "node:assert/strict";
import {
  dnsmasqArgs,
  dnsperfArgs,
  forwardingDnsmasqArgs,
  forwardQueryFileText,
  queryFileText,
  upstreamDnsmasqArgs,
} from "./dns.ts";

Deno.test("dnsmasq answers only the service name, on loopback, without upstream or config", () => {
  const args = dnsmasqArgs(5353, "bench.fossora.test", "127.0.0.1");
  for (
    const flag of [
      "--no-daemon",
      "--port=5353",
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--conf-file=/dev/null",
      "--address=/bench.fossora.test/127.0.0.1",
    ]
  ) assert.ok(args.includes(flag), `missing ${flag}`);
});

Deno.test("dnsperf asks 127.0.0.1 on the given port for the given time and clients", () => {
  const args = dnsperfArgs(5353, "/tmp/q.txt", { durationS: 10, clients: 4 });
  const at = (f: string) => args[args.indexOf(f) + 1];
  assert.equal(at("-s"), "127.0.0.1");
  assert.equal(at("-p"), "5353");
  assert.equal(at("-d"), "/tmp/q.txt");
  assert.equal(at("-l"), "10");
  assert.equal(at("-c"), "4");
  assert.equal(queryFileText("bench.fossora.test"), "bench.fossora.test A\n");
});

Deno.test("the forwarding benchmark: an upstream with an hour's TTL, dnsmasq forwarding to it", () => {
  const up = upstreamDnsmasqArgs(5300, "bench-forward.example", "192.0.2.53");
  assert.ok(up.includes("--local-ttl=3600"), "TTL 0 answers would never be cached");
  assert.ok(up.includes("--address=/bench-forward.example/192.0.2.53"));
  const fwd = forwardingDnsmasqArgs(5301, 5300);
  for (
    const flag of ["--port=5301", "--server=127.0.0.1#5300", "--no-resolv", "--cache-size=10000"]
  ) {
    assert.ok(fwd.includes(flag), `missing ${flag}`);
  }
  assert.ok(!fwd.some((f) => f.startsWith("--address")), "the reference answers nothing itself");
  const lines = forwardQueryFileText("bench-forward.example").trim().split("\n");
  assert.equal(lines.length, 20);
  assert.equal(lines[0], "host1.bench-forward.example A");
  assert.equal(new Set(lines).size, 20);
});
