import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import { Beacon } from "./beacon.ts";
import { Detector } from "./detector.ts";

const KEY = new TextEncoder().encode("the cluster's peer token");

/** Three beacons on loopback, each sending to the others every 50 ms. */
function trio(deadAfterMs = 500) {
  const ids = ["a", "b", "c"];
  const beacons = new Map<string, Beacon>();
  for (const id of ids) {
    const detector = new Detector({ self: id, deadAfterMs });
    detector.dead(ids); // every node has a record from the start
    beacons.set(
      id,
      new Beacon({
        self: id,
        hostname: "127.0.0.1",
        port: 0,
        detector,
        key: () => KEY,
        intervalMs: 50,
        peers: () =>
          ids.filter((p) => p !== id).map((p) => ({
            id: p,
            hostname: "127.0.0.1",
            port: beacons.get(p)!.port,
          })),
      }),
    );
  }
  return beacons;
}

Deno.test("beacons over real UDP hear each other, and a stopped one is found dead by the others", async () => {
  const beacons = trio();
  const detector = (id: string) => beacons.get(id)!.options.detector;
  try {
    for (const b of beacons.values()) b.start();
    await waitFor("every beacon to hear both others", () => {
      return [...beacons.keys()].every((id) => Object.keys(detector(id).report()).length === 2);
    }, 5000);
    assert.deepEqual(detector("a").dead(["b", "c"]), []);
    await beacons.get("c")!.close();
    const verdict = await waitFor("a to find c dead", () => {
      const dead = detector("a").dead(["b", "c"]);
      return dead.length ? dead : undefined;
    }, 5000);
    assert.deepEqual(verdict.map((v) => [v.node, v.confirmedBy]), [["c", ["b"]]]);
  } finally {
    await Promise.all([...beacons.values()].map((b) => b.close()));
  }
});

Deno.test("datagrams from outside the cluster are refused and counted, and the beacon goes on", async () => {
  const beacons = trio();
  const a = beacons.get("a")!;
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    for (const b of beacons.values()) b.start();
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: a.port };
    await sock.send(new TextEncoder().encode("x".repeat(100)), to);
    await sock.send(new Uint8Array(9000), to);
    await sock.send(new Uint8Array(3), to);
    await waitFor("three refusals", () => {
      return [...a.refused.values()].reduce((x, y) => x + y, 0) === 3;
    }, 5000);
    assert.deepEqual([...a.refused.keys()].sort(), [
      "bad signature (not from this cluster)",
      "larger than 8192 bytes",
      "too short to be a heartbeat",
    ]);
    await waitFor("a to go on hearing b", () => (a.options.detector.report().b ?? 1e9) < 200, 5000);
  } finally {
    sock.close();
    await Promise.all([...beacons.values()].map((b) => b.close()));
  }
});
