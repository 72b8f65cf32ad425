/** Stack networks on the real Docker engine. */
import assert from "node:assert/strict";
import { inSubnet } from "./address.ts";
import { createStackNetworks } from "./networks.ts";

const SOCKET = "unix:///var/run/docker.sock";

async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("a stack's network is made once, found again, counts its containers and goes", async () => {
  const stack = `n${crypto.randomUUID().slice(0, 8)}`;
  const name = `fossora-${stack}`;
  const nets = createStackNetworks(SOCKET, `t-${stack}`);
  let container = "";
  try {
    // Two at once race in Docker (it makes two of one name): one network of the name is left.
    await Promise.all([nets.ensure(stack), nets.ensure(stack)]);
    const made = await nets.ensure(stack);
    assert.equal(made.name, name);
    assert.ok(inSubnet(made.gateway, made.subnet), `${made.gateway} in ${made.subnet}`);
    assert.equal((await nets.ensure(stack)).subnet, made.subnet);
    assert.deepEqual(
      (await docker("network", "ls", "-q", "--filter", `name=^${name}$`)).split("\n").length,
      1,
    );
    assert.ok((await nets.list()).some((n) => n.stack === stack && n.subnet === made.subnet));
    const other = createStackNetworks(SOCKET, "another-node");
    assert.ok(!(await other.list()).some((n) => n.stack === stack), "not another node's");
    assert.equal((await other.ensure(stack)).subnet, made.subnet, "but it uses it");
    assert.equal(await nets.containers(name), 0);
    container = await docker("create", "--network", name, "fossora-test/busybox:1", "sleep", "60");
    assert.equal(await nets.containers(name), 1, "a stopped container counts");
    await docker("rm", "-f", container);
    container = "";
    await nets.remove(name);
    await nets.remove(name); // gone already: fine
    assert.ok(!(await nets.list()).some((n) => n.stack === stack));
  } finally {
    if (container) await docker("rm", "-f", container);
    await docker("network", "rm", name);
  }
});
