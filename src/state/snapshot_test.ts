import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { createLogger } from "../util/log.ts";
import { families } from "./keys.ts";
import { Mirror } from "./mirror.ts";
import {
  captureState,
  decodeSnapshot,
  encodeSnapshot,
  loadSnapshot,
  snapshotFile,
  type SnapshotStorage,
  type SnapshotTimer,
  SnapshotWriter,
} from "./snapshot.ts";
import type { NodeRecord, ReplicaStatus, ServiceRecord } from "./types.ts";
import { MemoryView, SwitchView } from "./view.ts";

function service(name: string, generation = 1): ServiceRecord {
  return {
    spec: {
      name,
      image: "fossora-test/busybox:1",
      replicas: 1,
      ports: [{ container: 80, http: true }],
      env: {},
      volumes: [],
      placement: {},
    },
    generation,
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
  };
}

function replica(svc: string, n: number, hostPort: number): ReplicaStatus {
  return {
    service: svc,
    replica: n,
    node: "n1",
    generation: 1,
    state: "running",
    ready: true,
    containerId: `c${n}`,
    address: "127.0.0.1",
    ports: { "80": hostPort },
    restarts: 0,
    since: "2024-01-01T00:00:00.000Z",
  };
}

const node: NodeRecord = {
  id: "n1",
  name: "one",
  address: "127.0.0.1",
  arch: "amd64",
  site: "home",
  labels: {},
  role: "voter",
  state: "ready",
  version: "test",
  apiPort: 7440,
  httpPort: 80,
  dnsPort: 53,
  startedAt: "2024-01-01T00:00:00.000Z",
  lastSeen: "2024-01-01T00:00:00.000Z",
};

function sampleView(): MemoryView {
  const v = new MemoryView();
  v.info = { id: "c1", createdAt: "2024-01-01T00:00:00.000Z", domain: "fossora.test" };
  v.serviceMap.set("web", service("web"));
  v.putReplica(replica("web", 1, 32001));
  v.putReplica(replica("web", 0, 32000));
  v.nodeMap.set(node.id, node);
  v.placementMap.set("big", { service: "big", reason: "no node", since: "x" });
  return v;
}

/** A log that keeps its lines, to see what was said. */
function recordingLog() {
  const lines: string[] = [];
  return { lines, log: createLogger("test", { level: "debug", sink: (l) => lines.push(l) }) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-snapshot-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a saved snapshot loads back as the same view, from a file only root can read", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state-snapshot.json`;
    const storage = snapshotFile(path);
    assert.equal(await loadSnapshot(storage), undefined, "no file yet is no snapshot");
    await storage.write(encodeSnapshot(captureState(sampleView()), new Date()));
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state-snapshot.json"]);
    const loaded = await loadSnapshot(storage);
    assert.ok(loaded);
    assert.deepEqual(captureState(loaded), captureState(sampleView()));
    assert.deepEqual(loaded.replicasOf("web").map((r) => r.ports["80"]), [32000, 32001]);
    assert.equal(loaded.node("n1")?.name, "one");
    assert.equal(loaded.cluster()?.domain, "fossora.test");
  });
});

Deno.test("a corrupt or unreadable snapshot is logged and ignored, never thrown", async (t) => {
  const good = JSON.parse(encodeSnapshot(captureState(sampleView()), new Date()));
  const cases: [string, string, RegExp][] = [
    ["half a file", encodeSnapshot(captureState(sampleView()), new Date()).slice(0, 80), /JSON/],
    ["not an object", "[1, 2]", /not a JSON object/],
    ["another version", JSON.stringify({ ...good, version: 99 }), /version 99/],
    [
      "a replica without ports",
      JSON.stringify({
        ...good,
        state: { ...good.state, replicas: [{ ...good.state.replicas[0], ports: null }] },
      }),
      /replicas\[0\] has no port map/,
    ],
    [
      "a service without a name",
      JSON.stringify({ ...good, state: { ...good.state, services: [{ spec: {} }] } }),
      /services\[0\] has no name/,
    ],
    ["nodes that are not a list", JSON.stringify({ ...good, state: { nodes: {} } }), /nodes/],
  ];
  for (const [what, text, problem] of cases) {
    await t.step(what, async () => {
      assert.throws(() => decodeSnapshot(text), problem);
      const { lines, log } = recordingLog();
      const storage: SnapshotStorage = {
        read: () => Promise.resolve(text),
        write: () => {
          throw new Error("not written");
        },
      };
      assert.equal(await loadSnapshot(storage, log), undefined);
      assert.equal(lines.length, 1);
      assert.match(lines[0], /WARN .*ignoring the state snapshot: it is corrupt/);
    });
  }
  await t.step("a directory where the file should be", async () => {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/state-snapshot.json`);
      const { lines, log } = recordingLog();
      assert.equal(await loadSnapshot(snapshotFile(`${dir}/state-snapshot.json`), log), undefined);
      assert.match(lines.join("\n"), /WARN .*ignoring the state snapshot: it cannot be read/);
    });
  });
});

/** Timers and a clock the test moves by hand. */
class FakeTime {
  now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  setTimer = (fn: () => void, ms: number): SnapshotTimer => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id as unknown as SnapshotTimer;
  };
  clearTimer = (id: SnapshotTimer): void => {
    this.#timers.delete(id as unknown as number);
  };
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock and runs the timers that fall due, then lets their promises settle. */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (const [id, t] of [...this.#timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.now) continue;
      this.#timers.delete(id);
      t.fn();
    }
    await settle();
  }
}

/** Lets every promise chain started so far run to its end. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Storage in memory that can be made to fail. */
function memoryStorage() {
  const writes: string[] = [];
  const s = {
    writes,
    fail: false,
    read: () => Promise.resolve(writes.at(-1)),
    write: (text: string) => {
      if (s.fail) return Promise.reject(new Error("disk full"));
      writes.push(text);
      return Promise.resolve();
    },
  };
  return s;
}

function replicasIn(text: string | undefined): number {
  return text === undefined ? 0 : decodeSnapshot(text).view.replicaMap.size;
}

Deno.test("the writer saves the newest state at most once a second, and once more on stop", async () => {
  const time = new FakeTime();
  const storage = memoryStorage();
  const live = new MemoryView();
  const writer = new SnapshotWriter({
    storage,
    source: () => live,
    now: () => time.now,
    setTimer: time.setTimer,
    clearTimer: time.clearTimer,
  });
  live.putReplica(replica("web", 0, 32000));
  writer.changed();
  await time.advance(0);
  assert.equal(storage.writes.length, 1, "the first change is saved at once");

  for (let i = 1; i <= 5; i++) {
    live.putReplica(replica("web", i, 32000 + i));
    writer.changed();
    await time.advance(100);
  }
  assert.equal(storage.writes.length, 1, "changes within the second wait for it");
  await time.advance(500);
  assert.equal(storage.writes.length, 2);
  assert.equal(replicasIn(storage.writes[1]), 6, "the burst is saved whole, as it is now");
  assert.equal(time.pending, 0, "nothing left to do");

  live.putReplica(replica("web", 6, 32006));
  writer.changed();
  await writer.stop();
  assert.equal(storage.writes.length, 3, "stop saves what was pending without waiting");
  assert.equal(replicasIn(storage.writes[2]), 7);
  writer.changed();
  await time.advance(5000);
  assert.equal(storage.writes.length, 3, "nothing is saved after stop");
  assert.equal(time.pending, 0);
});

Deno.test("the writer skips a state equal to the saved one and retries a failed write", async () => {
  const time = new FakeTime();
  const storage = memoryStorage();
  const live = sampleView();
  const { lines, log } = recordingLog();
  const writer = new SnapshotWriter({
    storage,
    source: () => live,
    log,
    now: () => time.now,
    setTimer: time.setTimer,
    clearTimer: time.clearTimer,
  });
  writer.changed();
  await time.advance(0);
  writer.changed();
  await time.advance(1000);
  assert.equal(storage.writes.length, 1, "a resync that changed nothing writes nothing");

  storage.fail = true;
  live.putReplica(replica("web", 2, 32002));
  writer.changed();
  await time.advance(1000);
  await time.advance(1000);
  assert.equal(storage.writes.length, 1);
  assert.equal(lines.filter((l) => /WARN .*cannot save the state snapshot/.test(l)).length, 1);
  storage.fail = false;
  await time.advance(1000);
  assert.equal(storage.writes.length, 2, "retried without another change");
  assert.equal(replicasIn(storage.writes[1]), 3);
  assert.match(lines.join("\n"), /state snapshot saved again/);
  await writer.stop();
  assert.equal(storage.writes.length, 2);
});

Deno.test("the view answers from the snapshot until the mirror has read etcd, then follows etcd", async () => {
  await using etcd = await startEtcd();
  await withTempDir(async (dir) => {
    // The snapshot knows web on port 32000; etcd has moved on to port 32100 and a new service.
    const storage = snapshotFile(`${dir}/state-snapshot.json`);
    await storage.write(encodeSnapshot(captureState(sampleView()), new Date()));
    await etcd.store.applyServices([service("web").spec, service("api").spec]);
    await etcd.store.put(families.replicas, ["n1", "web", "0"], replica("web", 0, 32100));

    const saved = await loadSnapshot(storage);
    assert.ok(saved);
    const view = new SwitchView(saved);
    assert.deepEqual(view.replicasOf("web").map((r) => r.ports["80"]), [32000, 32001]);
    assert.equal(view.service("api"), undefined);

    const mirror = new Mirror({ store: etcd.store });
    try {
      await mirror.start();
      view.use(mirror.view);
      assert.deepEqual(view.replicasOf("web").map((r) => r.ports["80"]), [32100]);
      assert.deepEqual(view.services().map((s) => s.spec.name), ["api", "web"]);
      assert.equal(view.node("n1"), undefined, "nothing of the snapshot is left");

      await etcd.store.removeService("api");
      await waitFor("the removal through the view", () => view.service("api") === undefined);
    } finally {
      await mirror.stop();
    }
  });
});
