/**
 * The join desk on real etcd, through the API's routes: who gets queued, who waits for approval,
 * who is refused (and that a refusal stores nothing), what polls answer at each step.
 */
import assert from "node:assert/strict";
import { startEtcd, type TestEtcd } from "../../test/helpers/etcd.ts";
import { createApi } from "../api/app.ts";
import { sampleView, testDeps } from "../api/fixtures.ts";
import { createClusterCA, newKeyAndRequest } from "../etcd/certs.ts";
import { families } from "../state/keys.ts";
import { JoinDesk, type JoinRequest } from "./desk.ts";
import { admissionLog, CURRENT } from "./leader.ts";
import { formatJoinToken, newSecret } from "./token.ts";
import type { CurrentAdmission, QueuedJoin } from "./types.ts";

const CA = await createClusterCA();
const TOKEN = formatJoinToken(CA.certPem, newSecret());
const CSR = await newKeyAndRequest(`${await Deno.makeTempDir()}/k`, "joiner");

function request(id: string, extra: Partial<JoinRequest> = {}): JoinRequest {
  return {
    token: TOKEN,
    ticket: `ticket-${id}-0123456789abcdef`,
    id,
    name: `node-${id}`,
    address: "10.1.0.5",
    apiPort: 7440,
    etcdPeerPort: 2380,
    etcdClientPort: 2379,
    arch: "amd64",
    site: "default",
    version: "test",
    csr: CSR,
    ...extra,
  };
}

function setup(etcd: TestEtcd, o: { tailnet?: (a: string) => boolean; now?: () => number } = {}) {
  let pokes = 0;
  const live = new Set<string>(["leader-node"]);
  const desk = new JoinDesk({
    store: () => etcd.store,
    nodeName: "leader",
    tlsPort: 7443,
    clusterInfo: () => Promise.resolve({ id: "cluster-1", createdAt: "2026-01-01T00:00:00Z" }),
    caCertPem: () => CA.certPem,
    joinToken: () => Promise.resolve(TOKEN),
    tailnetTrust: o.tailnet &&
      ((a) =>
        Promise.resolve(
          o.tailnet!(a)
            ? { trusted: true, why: `tailnet: ${a} belongs to the owner` }
            : { trusted: false, why: `${a} is not the owner's` },
        )),
    members: () => Promise.resolve([]),
    liveNodes: () => live,
    liveNames: () => new Map([["node-taken", "someone-else"]]),
    contacts: () => ["http://10.1.0.1:7440"],
    empty: () => true,
    poke: () => pokes++,
    now: o.now,
    maxPending: 2,
  });
  const app = createApi(testDeps(sampleView(), { join: () => desk }));
  const post = (path: string, body: unknown, scheme = "https") =>
    app.request(`${scheme}://node/api/v1/${path}`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  return { desk, app, post, live, pokes: () => pokes };
}

async function queued(etcd: TestEtcd): Promise<QueuedJoin[]> {
  return (await etcd.store.list<QueuedJoin>(families.admission, "queue")).map((q) => q.value);
}

Deno.test("join info tells anyone which cluster and CA this is, and where to send a request", async () => {
  await using etcd = await startEtcd();
  const { app } = setup(etcd);
  const res = await app.request("/api/v1/join/info");
  assert.equal(res.status, 200);
  const info = await res.json();
  assert.equal(info.cluster, "cluster-1");
  assert.equal(info.tlsPort, 7443);
  assert.equal(TOKEN.split("-")[2], info.caHash);
  assert.equal(info.empty, true);
});

Deno.test("a request with the token is queued; wrong, bad and plain-HTTP ones store nothing", async () => {
  await using etcd = await startEtcd();
  const { post, pokes } = setup(etcd);
  const wrong = formatJoinToken(CA.certPem, newSecret());
  let res = await post("join", request("a1", { token: wrong }));
  assert.equal(res.status, 403);
  assert.match((await res.json()).error.message, /not this cluster's.*fossora token/);
  const other = formatJoinToken((await createClusterCA()).certPem, TOKEN.split("-")[3]);
  assert.equal((await post("join", request("a1", { token: other }))).status, 403);
  res = await post("join", request("a1", { token: "SWMTKN-1-x" }));
  assert.equal(res.status, 401);
  await res.body?.cancel();
  res = await post("join", request("a1"), "http");
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /TLS port \(7443\)/);
  res = await post("join", { ...request("a1"), name: "Not A Label", apiPort: 0, csr: "x" });
  assert.equal(res.status, 400);
  const details = (await res.json()).error.details;
  assert.deepEqual(details.map((d: string) => d.split(":")[0]), ["name", "apiPort", "csr"]);
  assert.deepEqual(await queued(etcd), [], "refusals change nothing");
  res = await post("join", request("a1"));
  assert.equal(res.status, 202);
  const answer = await res.json();
  assert.equal(answer.status, "queued");
  assert.equal(answer.position, 0);
  assert.deepEqual(answer.contacts, ["http://10.1.0.1:7440"]);
  const [q] = await queued(etcd);
  assert.equal(q.trust, "token");
  assert.ok(!JSON.stringify(q).includes(TOKEN.split("-")[3]), "the secret is not stored");
  assert.ok(!JSON.stringify(q).includes("ticket-a1"), "nor the ticket");
  assert.equal(pokes(), 1);
});

Deno.test("without a token: the tailnet owner's node is queued, a stranger waits for approval", async () => {
  await using etcd = await startEtcd();
  const { desk } = setup(etcd, { tailnet: (a) => a === "100.64.0.2" });
  const mine = await desk.request(request("t1", { token: undefined }), "100.64.0.2", true);
  assert.equal(mine.status, "queued");
  const stranger = await desk.request(request("s1", { token: undefined }), "192.0.2.9", true);
  assert.equal(stranger.status, "pending");
  assert.match(stranger.status === "pending" ? stranger.message : "", /fossora nodes approve/);
  const trust = Object.fromEntries((await queued(etcd)).map((q) => [q.id, q.trust]));
  assert.deepEqual(trust, { t1: "tailnet", s1: "pending" });
  assert.equal(
    (await desk.request(request("s1", { token: undefined }), "192.0.2.9", true)).status,
    "pending",
  );
  // A person lets the stranger in; an unknown name says what to look at.
  assert.equal(await desk.approve("node-s1", "leader"), "node-s1");
  await assert.rejects(desk.approve("node-s1", "leader"), /no node named "node-s1" waits/);
  const log = (await admissionLog(etcd.store)).map((e) => `${e.name} ${e.event}`);
  assert.deepEqual(log, ["node-t1 queued", "node-s1 pending", "node-s1 approved"]);
  // The pending list is bounded.
  await desk.request(request("s2", { token: undefined }), "192.0.2.9", true);
  await desk.request(request("s4", { token: undefined }), "192.0.2.9", true);
  await assert.rejects(
    desk.request(request("s3", { token: undefined }), "192.0.2.9", true),
    /too many nodes wait for approval/,
  );
});

Deno.test("polls tell a joiner its place and who is admitted now, then hand it its admission", async () => {
  await using etcd = await startEtcd();
  let t = 1000;
  const { desk, live } = setup(etcd, { now: () => t });
  await desk.request(request("first"), "10.1.0.5", true);
  t += 10;
  await desk.request(request("second"), "10.1.0.6", true);
  const poll = (id: string) => desk.status({ id, ticket: `ticket-${id}-0123456789abcdef` });
  let s = await poll("second");
  assert.ok(s.status === "queued" && s.position === 1 && s.admitting === null);
  const admission: CurrentAdmission = {
    id: "first",
    name: "node-first",
    role: "voter",
    step: "learner",
    peerUrl: "https://10.1.0.5:2380",
    memberId: "abc",
    cert: "CERT",
    initialCluster: "a=https://10.1.0.1:2380,first=https://10.1.0.5:2380",
    clientUrls: ["https://10.1.0.1:2379"],
    startedAt: t,
    progressAt: t,
  };
  await etcd.store.put(families.admission, CURRENT, admission);
  s = await poll("second");
  assert.deepEqual(s.status === "queued" && s.admitting, { name: "node-first", step: "learner" });
  s = await poll("first");
  assert.equal(s.status, "admitted");
  assert.ok(s.status === "admitted" && s.cert === "CERT" && s.ca === CA.certPem);
  assert.equal(s.status === "admitted" && s.initialCluster, admission.initialCluster);
  await assert.rejects(
    desk.status({ id: "first", ticket: "someone-elses-ticket-000" }),
    /not the request/,
  );
  // A request sent again keeps its place.
  t += 5000;
  await desk.request(request("first"), "10.1.0.5", true);
  const first = (await queued(etcd)).find((q) => q.id === "first")!;
  assert.equal(first.queuedAt, 1000);
  assert.equal(first.seenAt, 6010);
  // Once its admission is over, the node is a member; an unknown one must ask again.
  await etcd.store.delete(families.admission, ...CURRENT);
  await etcd.store.delete(families.admission, "queue", "first");
  live.add("first");
  assert.deepEqual((await poll("first")).status, "member");
  await assert.rejects(poll("nobody"), /send it again/);
});

Deno.test("a join under a running node's name is refused and stores nothing; its own id may ask again", async () => {
  await using etcd = await startEtcd();
  const { post } = setup(etcd);
  const res = await post("join", request("b1", { name: "node-taken" }));
  assert.equal(res.status, 409);
  assert.match((await res.json()).error.message, /named node-taken already.*--name/);
  assert.deepEqual(await queued(etcd), []);
  const same = await post("join", request("someone-else", { name: "node-taken" }));
  assert.equal(same.status, 202);
  await same.body?.cancel();
});
