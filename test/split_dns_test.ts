/**
 * Tailnet split DNS follows the ready nodes: two hosts (network namespaces, each with its own
 * dockerd and agent), each with a fake tailscaled that gives it a Tailscale address, and a fake
 * Tailscale control API (the real wire format) reachable on the hosts' bridge. With an API key
 * file, the elected node points the domain at both nodes' Tailscale addresses; when one dies it
 * is taken out, and put back when it returns. The key never appears in the agents' output.
 */
import assert from "node:assert/strict";
import { FakeTailscaled } from "../src/discovery/tailscale_fake.ts";
import { FakeTailscaleApi } from "../src/discovery/tailscale_api_fake.ts";
import { type Host, Hosts } from "./helpers/hosts.ts";
import { startJoined } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";

const DOMAIN = "fossora.home.arpa";
const KEY = `tskey-api-${crypto.randomUUID()}`;
const OWNER = { id: 1, loginName: "owner@example.com" };

Deno.test("tailnet split DNS points the domain at the ready nodes' Tailscale addresses as they come and go", async (t) => {
  const tailnet = (i: number) => ({
    users: [OWNER],
    self: { hostName: `node${i}`, ips: [`100.64.0.${i}`], user: OWNER.id },
  });
  // Disposed of last, after the agents that ask them.
  await using ts1 = await FakeTailscaled.start(tailnet(1));
  await using ts2 = await FakeTailscaled.start(tailnet(2));
  const sockets = [ts1.socketPath, ts2.socketPath];
  const keyFile = await Deno.makeTempFile({ prefix: "fossora-ts-key-" });
  await Deno.writeTextFile(keyFile, KEY + "\n", { mode: 0o600 });
  let apiUrl = "";
  await using cluster = await Hosts.create(2, {
    startAgents: false,
    agentFlags: (h: Host) => [
      "--discovery=tailscale",
      `--tailscale-socket=${sockets[h.index - 1]}`,
      `--tailscale-api-key-file=${keyFile}`,
      `--tailscale-api-url=${apiUrl}`,
    ],
  });
  await using api = new FakeTailscaleApi(KEY, cluster.bridgeAddress);
  apiUrl = api.url;
  api.splitDns = { "corp.example": ["10.0.0.53"] };
  const [, n2] = cluster.hosts;
  try {
    const pointed = (want: string[]) => () =>
      JSON.stringify(api.splitDns[DOMAIN] ?? []) === JSON.stringify(want);

    await t.step("both nodes ready: the domain points at both", async () => {
      await startJoined(cluster);
      await waitFor("split DNS at both nodes", pointed(["100.64.0.1", "100.64.0.2"]), 60_000, 200);
      assert.deepEqual(api.splitDns["corp.example"], ["10.0.0.53"], "other domains untouched");
    });

    await t.step("node2 dies: it is taken out", async () => {
      await n2.kill();
      await waitFor("split DNS at node1 only", pointed(["100.64.0.1"]), 30_000, 200);
    });

    await t.step("node2 comes back: it is put back", async () => {
      await n2.start();
      await waitFor("split DNS at both again", pointed(["100.64.0.1", "100.64.0.2"]), 60_000, 200);
    });

    await t.step("the API key appears in no output", () => {
      for (const h of cluster.hosts) {
        assert.ok(!h.output.some((l) => l.includes(KEY)), `${h.name} logged the key`);
      }
      assert.ok(api.requests.every((r) => r.method === "PATCH"), "only changes were written");
    });
  } finally {
    await Deno.remove(keyFile).catch(() => {});
  }
});
