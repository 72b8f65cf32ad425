import assert from "node:assert/strict";
import { createLogger } from "../util/log.ts";
import {
  type AskJoinInfo,
  ForeignClusters,
  type ForeignClustersOptions,
  httpJoinInfo,
  MAX_JOIN_INFO_BYTES,
  readJoinInfo,
} from "./foreign.ts";
import type { ClusterFacts, ForeignCluster } from "./merge.ts";

const MINE: ClusterFacts = { id: "c-mine", created: "2026-05-02T10:00:00Z", empty: true };
const OLDER = { id: "c-older", created: "2026-05-01T10:00:00Z", empty: true, node: "pi-a" };
const BUSY = { id: "c-busy", created: "2026-05-03T10:00:00Z", empty: false, node: "nas" };

/** A watcher over fixed answers: `infos` by address; records what was asked and given way to. */
function watcher(
  infos: Record<string, Omit<ForeignCluster, "address">>,
  o: Partial<ForeignClustersOptions> = {},
) {
  const asked: string[] = [];
  const gaveWay: ForeignCluster[] = [];
  const lines: string[] = [];
  const ask: AskJoinInfo = (address) => {
    asked.push(address);
    return Promise.resolve(infos[address]);
  };
  const w = new ForeignClusters({
    mine: () => Promise.resolve(MINE),
    peers: () => Object.keys(infos).map((address) => ({ address })),
    own: () => new Set(),
    onGiveWay: (to) => gaveWay.push(to),
    ask,
    log: createLogger("merge", { sink: (l) => lines.push(l), level: "info" }),
    ...o,
  });
  return { w, asked, gaveWay, lines };
}

Deno.test("an empty cluster gives way to an older one after two rounds that agree, once", async () => {
  const { w, gaveWay } = watcher({ "10.0.0.1:7440": OLDER });
  await w.round();
  assert.deepEqual(gaveWay, [], "one round is not enough");
  await w.round();
  assert.deepEqual(gaveWay, [{ ...OLDER, address: "10.0.0.1:7440" }]);
  await w.round();
  assert.equal(gaveWay.length, 1, "told once");
});

Deno.test("a round that cannot read this cluster's facts acts on nothing and breaks the streak", async () => {
  let fail = false;
  const { w, gaveWay } = watcher({ "10.0.0.1:7440": OLDER }, {
    mine: () => fail ? Promise.reject(new Error("etcd is unreachable")) : Promise.resolve(MINE),
  });
  await w.round();
  fail = true;
  await assert.rejects(w.round(), /etcd is unreachable/);
  fail = false;
  await w.round();
  assert.deepEqual(gaveWay, [], "the rounds either side of the failure are not in a row");
  await w.round();
  assert.equal(gaveWay.length, 1);
});

Deno.test("a cluster that runs services beside this one is warned about once, listed while seen", async () => {
  const peers = { "10.0.0.9:7440": BUSY };
  const { w, lines, gaveWay } = watcher(peers, {
    mine: () => Promise.resolve({ ...MINE, empty: false }),
  });
  await w.round();
  await w.round();
  assert.equal(w.warnings().length, 1);
  assert.match(w.warnings()[0], /c-busy, node nas at 10\.0\.0\.9:7440/);
  assert.equal(lines.filter((l) => l.includes("c-busy")).length, 1, lines.join("\n"));
  assert.match(lines[0], /WARN|warn/);
  assert.deepEqual(gaveWay, []);
  delete (peers as Record<string, unknown>)["10.0.0.9:7440"];
  await w.round();
  assert.deepEqual(w.warnings(), [], "gone once the other cluster is no longer seen");
});

Deno.test("this cluster's own nodes are never asked: by the cluster discovery names or their address", async () => {
  const { w, asked } = watcher({}, {
    peers: () => [
      { address: "10.0.0.2:7440", cluster: MINE.id },
      { address: "10.0.0.3:7440" },
      { address: "10.0.0.4:7440" },
      { address: "10.0.0.4:7440", cluster: "c-other" },
    ],
    own: () => new Set(["10.0.0.3:7440"]),
  });
  await w.round();
  assert.deepEqual(asked, ["10.0.0.4:7440"]);
});

Deno.test("an agent that does not answer is left out; the others still count", async () => {
  const { w, gaveWay } = watcher({ "10.0.0.1:7440": OLDER }, {
    peers: () => [{ address: "10.0.0.7:7440" }, { address: "10.0.0.1:7440" }],
    ask: (address) =>
      address === "10.0.0.7:7440"
        ? Promise.reject(new Error("connection refused"))
        : Promise.resolve(OLDER),
  });
  await w.round();
  await w.round();
  assert.equal(gaveWay[0]?.id, "c-older");
});

Deno.test("join info is read strictly: anything but the real shape is no cluster", () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const real = {
    cluster: "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11",
    created: "2026-05-01T10:00:00.123Z",
    caHash: "ab".repeat(32),
    tlsPort: 7443,
    node: "pi-a",
    empty: true,
  };
  assert.deepEqual(readJoinInfo(enc(real)), {
    id: real.cluster,
    created: real.created,
    empty: true,
    node: "pi-a",
  });
  for (
    const bad of [
      { ...real, cluster: "not a cluster id" },
      { ...real, created: "yesterday" },
      { ...real, empty: "yes" },
      { ...real, node: "Not_A_Label" },
      [real],
      null,
    ]
  ) {
    assert.equal(readJoinInfo(enc(bad)), undefined, JSON.stringify(bad));
  }
  assert.equal(readJoinInfo(new TextEncoder().encode("<html>")), undefined);
  assert.equal(readJoinInfo(new Uint8Array([0xff, 0xfe])), undefined);
});

Deno.test("httpJoinInfo asks GET /api/v1/join/info and takes only a 200 of bounded size", async () => {
  let answer: () => Response = () => new Response("", { status: 404 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    assert.equal(new URL(req.url).pathname, "/api/v1/join/info");
    return answer();
  });
  const at = `127.0.0.1:${server.addr.port}`;
  const signal = () => AbortSignal.timeout(2000);
  try {
    const info = { cluster: "c-1", created: "2026-05-01T10:00:00Z", node: "pi", empty: false };
    answer = () => Response.json(info);
    assert.deepEqual(await httpJoinInfo(at, signal()), {
      id: "c-1",
      created: info.created,
      empty: false,
      node: "pi",
    });
    answer = () => Response.json(info, { status: 503 });
    assert.equal(await httpJoinInfo(at, signal()), undefined);
    answer = () => new Response(" ".repeat(MAX_JOIN_INFO_BYTES + 1) + JSON.stringify(info));
    assert.equal(await httpJoinInfo(at, signal()), undefined);
  } finally {
    await server.shutdown();
  }
});
