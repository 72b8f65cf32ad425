/**
 * A real agent as a home's DNS server: started with `--dns-upstream` pointing at a resolver this
 * test runs, it answers internet names through it (the second time from its cache, TTL counted
 * down, the upstream asked once), passes NXDOMAIN through, answers SERVFAIL (never a made-up
 * address) when the upstream is down, and still answers its own domain itself.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { TestUpstream } from "../src/dns/test_upstream.ts";

/** dig's full answer from the agent's DNS server. */
async function dig(agent: TestAgent, name: string, ...flags: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: ["@127.0.0.1", "-p", String(agent.ports.dns), name, "A", "+tries=1", ...flags],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

const status = (out: string) => /status: ([A-Z]+)/.exec(out)?.[1];

/** The TTL and address of the first A record in dig's answer section. */
function firstA(out: string): { ttl: number; address: string } | undefined {
  const m = /^\S+\s+(\d+)\s+IN\s+A\s+(\S+)$/m.exec(out);
  return m ? { ttl: Number(m[1]), address: m[2] } : undefined;
}

Deno.test("an agent forwards names outside its domain to --dns-upstream, caches them and fails safe", async () => {
  await using up = TestUpstream.start();
  up.names.set("www.example.org", { addresses: ["192.0.2.80"], ttl: 300 });
  await using agent = await TestAgent.start({}, { args: [`--dns-upstream=${up.address}`] });
  assert.ok(
    agent.output.some((l) => /forwarding names outside the zone/.test(l) && l.includes(up.address)),
    "the log names the upstream used",
  );

  const first = await dig(agent, "www.example.org", "+time=5");
  assert.equal(status(first), "NOERROR", first);
  assert.deepEqual(firstA(first), { ttl: 300, address: "192.0.2.80" });
  assert.match(first, /flags: qr rd ra;/);

  // The cached copy's TTL counts down once a second has passed; the upstream is not asked again.
  const later = await waitFor("the cached answer's TTL to count down", async () => {
    const out = await dig(agent, "WWW.example.org", "+time=2");
    const a = firstA(out);
    return a && a.ttl < 300 ? a : undefined;
  }, 10_000);
  assert.equal(later.address, "192.0.2.80");
  assert.ok(later.ttl >= 290, `TTL ${later.ttl}`);
  assert.equal(up.count("www.example.org"), 1, "the upstream was asked once");

  const nx = await dig(agent, "no-such-name.example", "+time=5");
  assert.equal(status(nx), "NXDOMAIN", nx);
  assert.match(nx, /AUTHORITY: 1/, "with the upstream's SOA");

  const own = await waitFor("the agent's own node name", async () => {
    const out = await dig(agent, `${agent.name}.node.${agent.domain}`, "+short", "+time=2");
    return out.trim() === "127.0.0.1" ? out : undefined;
  }, 15_000);
  assert.equal(own.trim(), "127.0.0.1");
  assert.equal(up.count(`${agent.name}.node.${agent.domain}`), 0, "answered locally");

  up.silent = true;
  const down = await dig(agent, "new-name.example.net", "+time=8");
  assert.equal(status(down), "SERVFAIL", down);
  assert.equal(firstA(down), undefined, "no made-up address");

  const metrics = await (await agent.fetch("/metrics")).text();
  assert.match(metrics, /fossora_dns_forwarded_total\{answer="cached"\} [1-9]/);
  assert.match(
    metrics,
    /fossora_dns_upstream_failures_total\{upstream="127\.0\.0\.1:\d+",reason="timeout"\} [1-9]/,
  );
});
