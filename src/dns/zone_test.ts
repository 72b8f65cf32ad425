import assert from "node:assert/strict";
import { RCODE, type Record, TYPE } from "./wire.ts";
import { resolve, zoneApex } from "./zone.ts";
import { node, sampleView } from "./test_util.ts";

const zone = { apex: "fossora.home.arpa", ttl: 5 };

function addresses(records: Record[]): string[] {
  return records.map((r) => (r.type === TYPE.A ? [...r.address].join(".") : `${r.type}`));
}

Deno.test("a service resolves to every ready node, once per address", () => {
  const view = sampleView();
  view.nodeMap.set("dup", node("delta", "10.0.0.1"));
  const r = resolve(view, zone, "web.fossora.home.arpa", TYPE.A);
  assert.equal(r.result, "noerror");
  assert.equal(r.reply.aa, true);
  assert.deepEqual(addresses(r.reply.answers), ["10.0.0.1", "10.0.0.2"]);
});

Deno.test("a service with no ready node is NODATA, not NXDOMAIN", () => {
  const view = sampleView();
  for (const n of view.nodeMap.values()) n.state = "down";
  const r = resolve(view, zone, "web.fossora.home.arpa", TYPE.A);
  assert.equal(r.result, "nodata");
  assert.equal(r.reply.rcode, RCODE.NOERROR);
  assert.equal(r.reply.authority[0].type, TYPE.SOA);
});

Deno.test("a node name resolves case-insensitively, whatever its state", () => {
  const view = sampleView();
  assert.deepEqual(
    addresses(resolve(view, zone, "beta.node.fossora.home.arpa", TYPE.A).reply.answers),
    [
      "10.0.0.2",
    ],
  );
  assert.deepEqual(
    addresses(resolve(view, zone, "gamma.node.fossora.home.arpa", TYPE.A).reply.answers),
    [
      "10.0.0.3",
    ],
  );
  assert.equal(resolve(view, zone, "zeta.node.fossora.home.arpa", TYPE.A).result, "nxdomain");
});

Deno.test("the apex has a SOA and one NS per ready node with glue", () => {
  const view = sampleView();
  const soa = resolve(view, zone, zone.apex, TYPE.SOA).reply.answers[0];
  assert.equal(soa.type, TYPE.SOA);
  assert.equal(soa.type === TYPE.SOA && soa.primary, "alpha.node.fossora.home.arpa");
  const ns = resolve(view, zone, zone.apex, TYPE.NS).reply;
  assert.deepEqual(ns.answers.map((r) => r.type === TYPE.NS && r.target), [
    "alpha.node.fossora.home.arpa",
    "beta.node.fossora.home.arpa",
  ]);
  assert.deepEqual(addresses(ns.additional), ["10.0.0.1", "10.0.0.2"]);
  assert.equal(resolve(view, zone, zone.apex, TYPE.A).result, "nodata");
});

Deno.test("unknown names are NXDOMAIN with the SOA; other types of known names NODATA", () => {
  const view = sampleView();
  const nx = resolve(view, zone, "nope.fossora.home.arpa", TYPE.A);
  assert.equal(nx.result, "nxdomain");
  assert.equal(nx.reply.rcode, RCODE.NXDOMAIN);
  assert.equal(nx.reply.authority[0].type, TYPE.SOA);
  assert.equal(resolve(view, zone, "a.web.fossora.home.arpa", TYPE.A).result, "nxdomain");
  const aaaa = resolve(view, zone, "web.fossora.home.arpa", TYPE.AAAA);
  assert.equal(aaaa.result, "nodata");
  assert.equal(aaaa.reply.answers.length, 0);
  assert.equal(resolve(view, zone, "node.fossora.home.arpa", TYPE.A).result, "nodata");
});

Deno.test("names outside the zone are REFUSED, including look-alike suffixes", () => {
  const view = sampleView();
  for (const name of ["example.com", "web.xfossora.home.arpa", "home.arpa", ""]) {
    const r = resolve(view, zone, name, TYPE.A);
    assert.equal(r.result, "refused", name);
    assert.equal(r.reply.rcode, RCODE.REFUSED);
    assert.equal(r.reply.aa, false);
  }
});

Deno.test("zoneApex lower-cases and strips dots", () => {
  assert.equal(zoneApex(" Fossora.Home.Arpa. "), "fossora.home.arpa");
});

Deno.test("zone transfers (AXFR, IXFR) are REFUSED, even for the apex", () => {
  const view = sampleView();
  for (const type of [TYPE.AXFR, TYPE.IXFR]) {
    for (const name of [zone.apex, "web.fossora.home.arpa"]) {
      const r = resolve(view, zone, name, type);
      assert.equal(r.result, "refused", `${type} ${name}`);
      assert.equal(r.reply.rcode, RCODE.REFUSED);
      assert.deepEqual(r.reply.answers, []);
    }
  }
});

function v6(records: Record[]): string[] {
  return records.filter((r) => r.type === TYPE.AAAA).map((r) =>
    r.type === TYPE.AAAA ? [...r.address].map((b) => b.toString(16)).join(",") : ""
  );
}

Deno.test("nodes with IPv6 addresses get AAAA records; services gather them once each", () => {
  const view = sampleView();
  view.nodeMap.get("id-alpha")!.addresses6 = ["fd00::1", "fd00::a"];
  view.nodeMap.get("id-Beta")!.addresses6 = ["fd00::2", "FD00::1"];
  view.nodeMap.get("id-gamma")!.addresses6 = ["fd00::3"];
  const one = "fd,0,0,0,0,0,0,0,0,0,0,0,0,0,0";
  const service = resolve(view, zone, "web.fossora.home.arpa", TYPE.AAAA);
  assert.equal(service.result, "noerror");
  assert.deepEqual(v6(service.reply.answers), [`${one},1`, `${one},a`, `${one},2`]);
  assert.deepEqual(addresses(service.reply.answers), ["28", "28", "28"], "no A for AAAA");
  const node = resolve(view, zone, "gamma.node.fossora.home.arpa", TYPE.AAAA);
  assert.deepEqual(v6(node.reply.answers), [`${one},3`]);
  const any = resolve(view, zone, "beta.node.fossora.home.arpa", TYPE.ANY);
  assert.deepEqual(addresses(any.reply.answers), ["10.0.0.2", "28", "28"]);
});

Deno.test("AAAA of a node without IPv6 is NODATA, and bad IPv6 entries are skipped", () => {
  const view = sampleView();
  assert.equal(resolve(view, zone, "alpha.node.fossora.home.arpa", TYPE.AAAA).result, "nodata");
  // Records come from other agents through etcd: nothing guarantees their shape.
  (view.nodeMap.get("id-alpha")! as { addresses6?: unknown }).addresses6 = "fd00::1";
  assert.equal(resolve(view, zone, "alpha.node.fossora.home.arpa", TYPE.AAAA).result, "nodata");
  (view.nodeMap.get("id-alpha")! as { addresses6?: unknown }).addresses6 = [7, "nope", "fd00::7"];
  const r = resolve(view, zone, "alpha.node.fossora.home.arpa", TYPE.AAAA);
  assert.deepEqual(v6(r.reply.answers), ["fd,0,0,0,0,0,0,0,0,0,0,0,0,0,0,7"]);
});

Deno.test("the NS glue carries each name server's A and AAAA records", () => {
  const view = sampleView();
  view.nodeMap.get("id-Beta")!.addresses6 = ["fd00::2"];
  const ns = resolve(view, zone, zone.apex, TYPE.NS).reply;
  assert.deepEqual(ns.additional.map((r) => `${r.name} ${r.type}`), [
    "alpha.node.fossora.home.arpa 1",
    "beta.node.fossora.home.arpa 1",
    "beta.node.fossora.home.arpa 28",
  ]);
});

Deno.test("nodes this node no longer hears are left out of answers, but never every node", () => {
  const view = sampleView();
  const quiet = (ids: string[]) => ({ ...zone, silent: () => new Set(ids) });
  const a = (z: typeof zone) =>
    addresses(resolve(view, z, "web.fossora.home.arpa", TYPE.A).reply.answers);
  assert.deepEqual(a(quiet(["id-Beta"])), ["10.0.0.1"]);
  assert.deepEqual(a(quiet(["id-alpha", "id-Beta"])), ["10.0.0.1", "10.0.0.2"], "none heard: all");
  assert.deepEqual(a(quiet([])), ["10.0.0.1", "10.0.0.2"]);
});

Deno.test("a stack's services resolve as SERVICE.STACK, its front as STACK, and a stack without one is an empty name", () => {
  const view = sampleView();
  const inStack = (name: string, stack: string, front = false) => {
    const record = structuredClone(view.service("web")!);
    record.spec = { ...record.spec, name, stack, ...(front ? { front: true } : {}) };
    view.serviceMap.set(name, record);
  };
  inStack("app.cloud", "cloud", true);
  inStack("db.cloud", "cloud");
  inStack("db.notes", "notes");
  for (const name of ["app.cloud", "db.cloud", "cloud", "db.notes"]) {
    const r = resolve(view, zone, `${name}.fossora.home.arpa`, TYPE.A);
    assert.equal(r.result, "noerror", name);
    assert.deepEqual(addresses(r.reply.answers), ["10.0.0.1", "10.0.0.2"], name);
  }
  // `notes` has no front: the name exists (its services are under it) but holds no address.
  assert.equal(resolve(view, zone, "notes.fossora.home.arpa", TYPE.A).result, "nodata");
  assert.equal(resolve(view, zone, "cache.cloud.fossora.home.arpa", TYPE.A).result, "nxdomain");
  assert.equal(resolve(view, zone, "a.db.cloud.fossora.home.arpa", TYPE.A).result, "nxdomain");
});
