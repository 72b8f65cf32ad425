import assert from "node:assert/strict";
import { dnsmasqArgs, dnsperfArgs, queryFileText } from "./dns.ts";

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
