import assert from "node:assert/strict";
import { createLogger } from "../util/log.ts";
import {
  choose,
  fromResolvConf,
  parseUpstream,
  RESOLV_CONF,
  resolvConfServers,
  RESOLVED_CONF,
  UpstreamList,
} from "./upstreams.ts";

Deno.test("upstreams are IP or IP:PORT, IPv6 bracketed with a port; anything else is refused", () => {
  assert.deepEqual(parseUpstream("192.168.1.1"), {
    host: "192.168.1.1",
    port: 53,
    label: "192.168.1.1:53",
  });
  assert.equal(parseUpstream("10.0.0.1:5353").label, "10.0.0.1:5353");
  assert.equal(parseUpstream("FD00::1").label, "[fd00::1]:53");
  assert.equal(parseUpstream("[fd00::1]:5353").port, 5353);
  for (const bad of ["", "resolver.lan", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3", "fd00::1:53x"]) {
    assert.throws(() => parseUpstream(bad), /expected IP or IP:PORT/, bad);
  }
});

Deno.test("resolv.conf gives its nameserver lines, without scoped or unreadable ones", () => {
  const text = [
    "# generated",
    "search lan",
    "nameserver 192.168.1.1",
    "nameserver   fd00::53 ",
    "nameserver fe80::1%eth0",
    "nameserver bogus",
    "options edns0",
  ].join("\n");
  assert.deepEqual(resolvConfServers(text), ["192.168.1.1", "fd00::53"]);
});

Deno.test("an upstream that would loop is skipped, with the reason, and duplicates kept once", () => {
  const loops = (host: string, port: number) =>
    host === "127.0.0.1" && port === 53
      ? "this node's own DNS server: forwarding would loop"
      : undefined;
  const c = choose(
    ["127.0.0.1", "192.168.1.1", "192.168.1.1:53", "127.0.0.1:5353"].map(parseUpstream),
    loops,
    "test",
  );
  assert.deepEqual(c.use.map((u) => u.label), ["192.168.1.1:53", "127.0.0.1:5353"]);
  assert.deepEqual(c.skipped.map((s) => s.upstream), ["127.0.0.1:53"]);
  assert.match(c.skipped[0].why, /loop/);
});

Deno.test("systemd-resolved's stub is swapped for the upstreams resolved uses", () => {
  const files: Record<string, string> = {
    [RESOLV_CONF]: "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
    [RESOLVED_CONF]: "nameserver 192.168.1.1\nnameserver 192.168.1.2\n",
  };
  const r = fromResolvConf((p) => files[p]);
  assert.deepEqual(r.list.map((u) => u.label), ["192.168.1.1:53", "192.168.1.2:53"]);
  assert.match(r.skipped[0].why, /systemd-resolved/);
  delete files[RESOLVED_CONF];
  assert.deepEqual(fromResolvConf((p) => files[p]).list.map((u) => u.label), ["127.0.0.53:53"]);
  assert.deepEqual(fromResolvConf(() => undefined).list, []);
});

Deno.test("following resolv.conf: a change is read and logged; no upstream says REFUSED", () => {
  const lines: string[] = [];
  const log = createLogger("dns", { level: "info", sink: (l) => lines.push(l) });
  let text = "nameserver 192.168.1.1\n";
  let stamp = "1";
  const list = new UpstreamList({
    loops: (host) => (host === "192.168.1.5" ? "this node's own DNS server" : undefined),
    log,
    read: (p) => (p === RESOLV_CONF ? text : undefined),
    stamp: () => stamp,
  });
  list.refresh();
  assert.deepEqual(list.current.map((u) => u.label), ["192.168.1.1:53"]);
  assert.match(lines.at(-1)!, /forwarding names outside the zone.*192\.168\.1\.1:53/);
  text = "nameserver 192.168.1.5\n";
  list.refresh();
  assert.deepEqual(list.current.map((u) => u.label), ["192.168.1.1:53"], "same stamp: not read");
  stamp = "2";
  list.refresh();
  assert.deepEqual(list.current, []);
  assert.match(lines.at(-1)!, /WARN .*no usable upstream.*REFUSED.*own DNS server/);
  const count = lines.length;
  list.refresh();
  assert.equal(lines.length, count, "an unchanged list is not logged again");
});
