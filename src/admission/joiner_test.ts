import assert from "node:assert/strict";
import { createClusterCA } from "../etcd/certs.ts";
import type { JoinStatus } from "./desk.ts";
import { joinCluster, JoinRefused, type JoinTransport } from "./joiner.ts";
import { caFingerprint, type JoinToken, parseJoinToken } from "./token.ts";

const CA = await createClusterCA();
const OTHER = await createClusterCA();
const TOKEN = parseJoinToken(
  `FOSSORA-1-${caFingerprint(CA.certPem)}-abcdefghijklmnopqrstuvwxyz`,
) as JoinToken;
const REQUEST = {
  id: "j1",
  name: "joiner",
  address: "10.0.0.9",
  apiPort: 7440,
  etcdPeerPort: 2380,
  etcdClientPort: 2379,
  arch: "amd64",
  site: "default",
  version: "t",
  csr: "CSR",
};

/** Nodes by host: each answers info and CA, and its join answers come from a script. */
function transport(nodes: Record<string, { ca: string; answers: (JoinStatus | number)[] }>) {
  const sent: { url: string; body: unknown; ca: string }[] = [];
  const t: JoinTransport = {
    get(url) {
      const u = new URL(url);
      const n = nodes[u.hostname];
      if (!n) return Promise.reject(new Error("connection refused"));
      if (u.pathname === "/api/v1/ca.crt") return Promise.resolve({ status: 200, text: n.ca });
      const info = { cluster: u.hostname, caHash: caFingerprint(n.ca), tlsPort: 7443 };
      return Promise.resolve({ status: 200, text: JSON.stringify(info) });
    },
    post(url, body, ca) {
      sent.push({ url, body, ca });
      const n = nodes[new URL(url).hostname];
      const next = n?.answers.shift();
      if (next === undefined) return Promise.reject(new Error("connection reset"));
      if (typeof next === "number") {
        return Promise.resolve({ status: next, json: { error: { message: `answer ${next}` } } });
      }
      return Promise.resolve({ status: 200, json: next });
    },
  };
  return { t, sent };
}

const queued = (position: number, admitting: string | null): JoinStatus => ({
  status: "queued",
  position,
  admitting: admitting ? { name: admitting, step: "learner" } : null,
  contacts: ["b:7440"],
  message: "",
});
const admitted: JoinStatus = {
  status: "admitted",
  role: "worker",
  cert: "CERT",
  ca: CA.certPem,
  cluster: "c",
  clientUrls: ["https://a:2379"],
  contacts: [],
};

Deno.test("a joiner skips a cluster its token does not name and sends the token only over pinned TLS", async () => {
  const { t, sent } = transport({
    stranger: { ca: OTHER.certPem, answers: [] },
    a: { ca: CA.certPem, answers: [queued(1, "x"), queued(0, "y"), admitted] },
  });
  const got = await joinCluster({
    candidates: () => ["stranger:7440", "a:7440"],
    token: TOKEN,
    request: REQUEST,
    transport: t,
    pollMs: 1,
  });
  assert.equal(got.cert, "CERT");
  assert.ok(sent.every((s) => s.url.startsWith("https://a:7443/") && s.ca === CA.certPem));
  const first = sent[0].body as Record<string, string>;
  assert.equal(first.token, `FOSSORA-1-${TOKEN.caHash}-${TOKEN.secret}`);
  assert.ok(first.ticket.length >= 20);
  assert.deepEqual(sent.slice(1).map((s) => Object.keys(s.body as object).sort()), [
    ["id", "ticket"],
    ["id", "ticket"],
  ]);
});

Deno.test("a joiner told which cluster to join skips the others without sending them anything", async () => {
  const { t, sent } = transport({
    a: { ca: CA.certPem, answers: [] },
    b: { ca: CA.certPem, answers: [admitted] },
  });
  const got = await joinCluster({
    candidates: () => ["a:7440", "b:7440"],
    cluster: "b",
    request: REQUEST,
    transport: t,
    pollMs: 1,
  });
  assert.equal(got.status, "admitted");
  assert.deepEqual(sent.map((s) => new URL(s.url).hostname), ["b"]);
});

Deno.test("a wrong token ends the join with the cluster's words", async () => {
  const { t } = transport({ a: { ca: CA.certPem, answers: [403] } });
  await assert.rejects(
    joinCluster({ candidates: () => ["a:7440"], token: TOKEN, request: REQUEST, transport: t }),
    (e) => e instanceof JoinRefused && /answer 403/.test(e.message),
  );
});

Deno.test("a contact that dies mid-queue is replaced by one its answers listed", async () => {
  const { t, sent } = transport({
    a: { ca: CA.certPem, answers: [queued(2, "x")] },
    b: { ca: CA.certPem, answers: [queued(0, null), admitted] },
  });
  const got = await joinCluster({
    candidates: () => ["a:7440"],
    token: TOKEN,
    request: REQUEST,
    transport: t,
    pollMs: 1,
  });
  assert.equal(got.status, "admitted");
  const hosts = sent.map((s) => new URL(s.url).hostname);
  assert.deepEqual(hosts.slice(0, 2), ["a", "a"]);
  assert.deepEqual(hosts.slice(-2), ["b", "b"], "admitted through b");
});

Deno.test("with no news for too long the joiner starts over; news resets its patience", async () => {
  let now = 0;
  const stuck = Array.from({ length: 5 }, () => queued(1, "x"));
  const { t, sent } = transport({
    a: { ca: CA.certPem, answers: [...stuck, queued(0, "y"), admitted] },
  });
  const got = await joinCluster({
    candidates: () => ["a:7440"],
    token: TOKEN,
    request: REQUEST,
    transport: t,
    pollMs: 1,
    patienceMs: 3,
    now: () => now++,
  });
  assert.equal(got.status, "admitted");
  const requests = sent.filter((s) => !s.url.endsWith("/status")).length;
  assert.ok(requests >= 2, `it sent the request again (${requests} requests)`);
});

Deno.test("aborting stops a joiner that waits", async () => {
  const { t } = transport({ a: { ca: CA.certPem, answers: Array(1000).fill(queued(3, "x")) } });
  const ac = new AbortController();
  const p = joinCluster({
    candidates: () => ["a:7440"],
    token: TOKEN,
    request: REQUEST,
    transport: t,
    pollMs: 5,
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(new Error("stopping")), 30);
  await assert.rejects(p, /stopping/);
});
