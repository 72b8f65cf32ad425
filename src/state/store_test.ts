import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { families } from "./keys.ts";
import type { ServiceRecord, ServiceSpec } from "./types.ts";

function spec(name: string, image = "busybox:1"): ServiceSpec {
  return { name, image, replicas: 1, ports: [], env: {}, volumes: [], placement: {} };
}

Deno.test("applying a service creates it at generation 1 and bumps only on change", async () => {
  await using etcd = await startEtcd();
  assert.deepEqual(await etcd.store.applyServices([spec("web")]), [
    { name: "web", generation: 1, created: true, changed: true },
  ]);
  assert.deepEqual(await etcd.store.applyServices([spec("web")]), [
    { name: "web", generation: 1, created: false, changed: false },
  ]);
  const [r] = await etcd.store.applyServices([spec("web", "busybox:2")]);
  assert.equal(r.generation, 2);
  const stored = await etcd.store.get<ServiceRecord>(families.services, "web");
  assert.equal(stored?.value.spec.image, "busybox:2");
});

Deno.test("concurrent updates of one service never lose a generation", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([spec("web")]);
  const writers = Array.from(
    { length: 8 },
    (_, i) => etcd.store.applyServices([spec("web", `img:${i}`)]),
  );
  const results = (await Promise.all(writers)).map(([r]) => r.generation).sort((a, b) => a - b);
  // Every writer changed the spec, so each got its own generation: 2..9, none lost.
  assert.deepEqual(results, [2, 3, 4, 5, 6, 7, 8, 9]);
  const stored = await etcd.store.get<ServiceRecord>(families.services, "web");
  assert.equal(stored?.value.generation, 9);
});

Deno.test("a restart keeps the spec, bumps the generation and keeps the old one to roll from", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([spec("web")]);
  assert.equal(await etcd.store.restartService("web"), true);
  const stored = (await etcd.store.get<ServiceRecord>(families.services, "web"))!.value;
  assert.equal(stored.generation, 2);
  assert.deepEqual(stored.spec, spec("web"));
  assert.deepEqual(stored.previous, { generation: 1, spec: spec("web") });
  assert.equal(await etcd.store.restartService("nothing"), false);
});

Deno.test("the cluster record is created once even when two nodes race", async () => {
  await using etcd = await startEtcd();
  const now = new Date().toISOString();
  const [a, b] = await Promise.all([
    etcd.store.initCluster({ id: "a", createdAt: now, domain: "x" }, "token-a"),
    etcd.store.initCluster({ id: "b", createdAt: now, domain: "x" }, "token-b"),
  ]);
  assert.equal(a.id, b.id);
  assert.equal(await etcd.store.joinToken(), a.id === "a" ? "token-a" : "token-b");
});

Deno.test("removing a service deletes it and says whether it existed", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([spec("web"), spec("db")]);
  assert.equal(await etcd.store.removeService("web"), true);
  assert.equal(await etcd.store.removeService("web"), false);
  const left = await etcd.store.list<ServiceRecord>(families.services);
  assert.deepEqual(left.map((s) => s.ids[0]), ["db"]);
});

Deno.test("scaling or moving a service keeps its generation, so running replicas stay", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([spec("web")]);
  const [scaled] = await etcd.store.applyServices([{ ...spec("web"), replicas: 3 }]);
  assert.deepEqual(scaled, { name: "web", generation: 1, created: false, changed: true });
  const [moved] = await etcd.store.applyServices([
    { ...spec("web"), replicas: 3, placement: { sites: ["home-b"] } },
  ]);
  assert.equal(moved.generation, 1);
  const stored = await etcd.store.get<ServiceRecord>(families.services, "web");
  assert.equal(stored?.value.spec.replicas, 3);
  const [changed] = await etcd.store.applyServices([{ ...spec("web", "busybox:2"), replicas: 3 }]);
  assert.equal(changed.generation, 2);
});

Deno.test("changing only httpsRedirect keeps the generation, so running replicas stay", async () => {
  await using etcd = await startEtcd();
  const plain: ServiceSpec = { ...spec("web"), ports: [{ container: 80, http: true }] };
  const redirect: ServiceSpec = {
    ...spec("web"),
    ports: [{ container: 80, http: true, httpsRedirect: true }],
  };
  await etcd.store.applyServices([plain]);
  const before = await etcd.store.get<ServiceRecord>(families.services, "web");
  // A spec without the field is stored as it always was: no `httpsRedirect` key at all.
  assert.deepEqual(JSON.stringify(before?.value.spec.ports), '[{"container":80,"http":true}]');
  const [on] = await etcd.store.applyServices([redirect]);
  assert.deepEqual(on, { name: "web", generation: 1, created: false, changed: true });
  const stored = await etcd.store.get<ServiceRecord>(families.services, "web");
  assert.deepEqual(stored?.value.spec.ports, redirect.ports);
  const [off] = await etcd.store.applyServices([plain]);
  assert.deepEqual(off, { name: "web", generation: 1, created: false, changed: true });
  const [same] = await etcd.store.applyServices([plain]);
  assert.equal(same.changed, false);
  const [image] = await etcd.store.applyServices([{ ...redirect, image: "busybox:2" }]);
  assert.equal(image.generation, 2);
});

Deno.test("every Docker setting of a container bumps the generation when it changes, so the replicas roll", async () => {
  await using etcd = await startEtcd();
  const changes: Partial<ServiceSpec>[] = [
    { binds: [{ source: "/srv/media", path: "/media" }] },
    { binds: [{ source: "/srv/media", path: "/media", readOnly: true }] },
    { devices: [{ host: "/dev/dri" }] },
    { devices: [{ host: "/dev/dri", permissions: "r" }] },
    { hostNetwork: true },
    ...([
      { user: "1000" },
      { workingDir: "/app" },
      { entrypoint: [] },
      { capAdd: ["CAP_NET_ADMIN"] },
      { capDrop: ["CAP_CHOWN"] },
      { privileged: true },
      { sysctls: { "net.core.somaxconn": "1024" } },
      { shmSize: 67108864 },
      { tmpfs: [{ path: "/run" }] },
      { readOnly: true },
      { securityOpt: ["no-new-privileges=true"] },
      { init: true },
      { labels: { "traefik.enable": "true" } },
      { extraHosts: ["nas:10.0.0.5"] },
      { stopSignal: "SIGINT" },
      { stopGracePeriod: "30s" },
      { ulimits: [{ name: "nofile", soft: 1024, hard: 1024 }] },
      { platform: "linux/arm64" },
      { anonymousVolumes: ["/cache"] },
      { limits: { memory: 67108864 } },
    ] as ServiceSpec["container"][]).map((container) => ({ container })),
  ];
  await etcd.store.applyServices([spec("web")]);
  let generation = 1;
  for (const change of changes) {
    const [r] = await etcd.store.applyServices([{ ...spec("web"), ...change }]);
    assert.equal(r.generation, ++generation, `${JSON.stringify(change)} rolls the replicas`);
  }
  // The same settings written in another key order are the same containers.
  const last = { ...spec("web"), container: { limits: { memory: 67108864 } } };
  const [same] = await etcd.store.applyServices([{ ...last, container: { ...last.container } }]);
  assert.equal(same.changed, false);
});
