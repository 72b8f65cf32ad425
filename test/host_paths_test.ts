/**
 * Host paths and devices on real agents and dockerds: two hosts, each in a mount namespace of
 * its own (`privateMounts`), so a directory or a device can exist on one of them only. A service
 * that binds a directory only node1 has runs there, and its detail says node2 has no such path;
 * a device only node2 has places the same way; once node2 has the directory too and node1 is
 * drained, the service moves to node2 and mounts node2's copy.
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import { startJoined } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";

interface Detail {
  replicas: { node: string; ready: boolean; containerId: string | null }[];
  nodes: { node: string; eligible: boolean; reason: string | null }[];
  events: { kind: string; message: string }[];
}

Deno.test("a bind mount or a device only one node has places the service there, explains the others, and follows the path when it moves", async (t) => {
  await using cluster = await Hosts.create(2, { startAgents: false, privateMounts: true });
  const [n1, n2] = cluster.hosts;
  await startJoined(cluster);
  const media = `${cluster.hostPaths}/media`;
  const device = `${cluster.hostPaths}/fossora-test-device`;
  const detail = (name: string) => n1.json<Detail>(`/api/v1/services/${name}`);
  const deploy = (body: unknown) =>
    n1.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  /** The ready replica's node and container, once there is one on `on`. */
  const readyOn = (name: string, on: Host) =>
    waitFor(`${name} ready on ${on.name}`, async () => {
      const r = (await detail(name)).replicas.find((r) => r.ready && r.node === on.name);
      return r?.containerId ?? false;
    }, 60_000);
  /** A shell command in `h`'s own mount namespace. */
  const onHost = async (h: Host, script: string, path: string) => {
    const r = await h.inMounts(["sh", "-c", script, path]);
    assert.equal(r.code, 0, r.stderr);
  };
  const exec = async (h: Host, id: string, ...cmd: string[]) => {
    const r = await h.docker("exec", id, ...cmd);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  await t.step(
    "a directory only node1 has: the service runs there, node2 is explained",
    async () => {
      await onHost(n1, 'mkdir "$0" && echo from-node1 > "$0/hello"', media);
      const t0 = Date.now();
      await deploy({
        name: "media",
        image: BUSYBOX_IMAGE,
        command: ["sleep", "3600"],
        binds: [
          { source: media, path: "/media", readOnly: true },
          // A single file every node has just works.
          { source: "/etc/localtime", path: "/etc/localtime", readOnly: true },
        ],
      });
      const id = await readyOn("media", n1);
      console.log(`placed on the only node with the path and ready in ${Date.now() - t0} ms`);
      assert.equal(await exec(n1, id, "cat", "/media/hello"), "from-node1");
      const { nodes } = await detail("media");
      assert.deepEqual(nodes.map(({ node, eligible, reason }) => ({ node, eligible, reason })), [
        { node: "node1", eligible: true, reason: null },
        { node: "node2", eligible: false, reason: `node2 has no ${media}` },
      ]);
      const text = (await n1.cli("services", "media")).stdout;
      assert.match(text, new RegExp(`^node2 +node2 has no ${media}$`, "m"));
    },
  );

  await t.step("a device only node2 has: the service runs there, node1 is explained", async () => {
    // /dev/null bound onto a file in node2's namespace: a character device only node2 has.
    await onHost(n2, 'touch "$0" && mount --bind /dev/null "$0"', device);
    await deploy({
      name: "dev",
      image: BUSYBOX_IMAGE,
      command: ["sleep", "3600"],
      devices: [{ host: device, container: "/dev/fossora-test" }],
    });
    const id = await readyOn("dev", n2);
    assert.match(await exec(n2, id, "ls", "-l", "/dev/fossora-test"), /^c/);
    const { nodes } = await detail("dev");
    assert.deepEqual(nodes.map((n) => n.reason), [`node1 has no ${device}`, null]);
  });

  await t.step(
    "the directory appears on node2 and node1 is drained: the service moves there",
    async () => {
      await onHost(n2, 'mkdir "$0" && echo from-node2 > "$0/hello"', media);
      const t0 = Date.now();
      await waitFor("node2 to report the directory", async () => {
        const { nodes } = await detail("media");
        return nodes.find((n) => n.node === "node2")?.eligible === true;
      }, 20_000);
      console.log(`node2 reported the new directory in ${Date.now() - t0} ms`);
      const drain = await n2.cli("nodes", "drain", "node1");
      assert.equal(drain.code, 0, drain.stderr);
      const id = await readyOn("media", n2);
      assert.equal(await exec(n2, id, "cat", "/media/hello"), "from-node2");
      const { events, nodes } = await detail("media");
      assert.ok(
        events.some((e) =>
          e.kind === "moved" && /from node1 to node2: node1 is drained/.test(e.message)
        ),
        JSON.stringify(events),
      );
      assert.deepEqual(nodes.map((n) => n.reason), ["node1 is drained", null]);
    },
  );
});
