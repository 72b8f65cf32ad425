/**
 * A service's Docker settings (ServiceSpec `container`, `binds`, `devices`, `hostNetwork`) on the
 * real engine, proven by their effect inside the running container rather than by the inspect
 * JSON: one container carries most settings at once so the file runs fast.
 */
import assert from "node:assert/strict";
import { dockerArch } from "../membership/mod.ts";
import { foreignImage } from "../../test/helpers/images.ts";
import type { ContainerOptions } from "../state/types.ts";
import { createDockerApi, DockerError } from "./docker.ts";
import {
  docker,
  IMAGE,
  inWorld,
  rand,
  ready,
  SOCKET,
  spec,
  waitFor,
  wanted,
} from "./test_world.ts";

const MiB = 1024 * 1024;

/** Runs `script` in the container (as `user` when given) and returns what it printed. */
function exec(id: string, script: string, user?: string): Promise<string> {
  return docker("exec", ...(user ? ["-u", user] : []), id, "sh", "-c", script);
}

/** Runs `script` in the container and returns its exit code and error output. */
async function execFails(id: string, script: string, user?: string): Promise<string> {
  const out = await new Deno.Command("docker", {
    args: ["exec", ...(user ? ["-u", user] : []), id, "sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.success, false, `'${script}' failed as it should`);
  return new TextDecoder().decode(out.stderr).trim();
}

/** Docker's mounts of a container by destination. */
async function mountsOf(id: string): Promise<Map<string, { Name?: string; Type: string }>> {
  const list = JSON.parse(await docker("inspect", "-f", "{{json .Mounts}}", id)) as {
    Destination: string;
    Name?: string;
    Type: string;
  }[];
  return new Map(list.map((m) => [m.Destination, m]));
}

/** A cgroup file of the container's own cgroup: the v2 name when it has one, else v1's. */
function cgroup(v2: string, v1: string): string {
  return `cat /sys/fs/cgroup/${v2} 2>/dev/null || cat /sys/fs/cgroup/${v1}`;
}

async function volumeExists(name: string): Promise<boolean> {
  const out = await new Deno.Command("docker", {
    args: ["volume", "inspect", name],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

Deno.test("a service's container settings take effect inside each of its running containers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-settings-" });
  try {
    await Deno.mkdir(`${dir}/ro`);
    await Deno.writeTextFile(`${dir}/ro/hello.txt`, "from the host\n");
    await Deno.mkdir(`${dir}/out`);
    await Deno.chmod(`${dir}/out`, 0o777);
    await Deno.writeTextFile(`${dir}/single.txt`, "one file\n");
    await inWorld(async (w) => {
      const container: ContainerOptions = {
        user: "1234:1234",
        workingDir: "/scratch",
        entrypoint: ["/bin/sh", "-c"],
        capDrop: ["CAP_CHOWN"],
        sysctls: { "net.ipv4.ip_unprivileged_port_start": "81" },
        shmSize: 16 * MiB,
        tmpfs: [{ path: "/scratch", size: 8 * MiB, mode: 0o1770 }],
        readOnly: true,
        securityOpt: ["no-new-privileges=true"],
        init: true,
        labels: { "com.example.team": "media", "fossora.service": "impostor" },
        extraHosts: ["fossora-test.example:10.9.8.7"],
        stopSignal: "SIGUSR1",
        stopGracePeriod: "3s",
        ulimits: [{ name: "nofile", soft: 1000, hard: 2000 }],
        platform: `linux/${dockerArch()}`,
        anonymousVolumes: ["/anon"],
        limits: { cpus: 0.5, memory: 64 * MiB, pids: 100 },
      };
      const s = spec(w.service(), {
        // The image's CMD is httpd; the entrypoint makes this a shell script that records the
        // stop signal it gets and then ignores it, so only the grace period ends it.
        command: [
          "trap 'echo USR1 >> /out/signal-$HOSTNAME' USR1; while true; do sleep 1; done",
        ],
        ports: [],
        volumes: [{ name: "keep", path: "/keep" }],
        binds: [
          { source: `${dir}/ro`, path: "/host", readOnly: true },
          { source: `${dir}/out`, path: "/out" },
          { source: `${dir}/single.txt`, path: "/etc/fossora-single", readOnly: true },
        ],
        devices: [{ host: "/dev/null", container: "/dev/fossora-test", permissions: "rwm" }],
        container,
      });
      // The runtime's own grace is 1 s (test_world): a stop that lasts 3 s is the service's.
      const rt = w.runtime({ withdrawMs: 0 });
      rt.setWanted(wanted(s, 1, [0, 1]));
      await rt.start();
      const statuses = await waitFor("2 running replicas", () => ready(rt, 2));
      const [a, b] = statuses.map((st) => st.containerId!);

      assert.equal(await exec(a, "id -u; id -g"), "1234\n1234", "user");
      assert.equal(await exec(a, "pwd"), "/scratch", "workingDir");
      assert.match(await exec(a, "cat /proc/1/cmdline | tr '\\0' ' '"), /sh -c trap/, "entrypoint");
      assert.equal(await exec(a, "cat /proc/1/comm"), "docker-init", "init is PID 1");
      assert.match(await execFails(a, "touch /rootfs-write"), /Read-only file system/, "readOnly");
      const mounts = await exec(a, "cat /proc/mounts");
      assert.match(mounts, /^tmpfs \/scratch tmpfs \S*size=8192k,mode=1770/m, "tmpfs");
      assert.match(mounts, /^shm \/dev\/shm tmpfs \S*size=16384k/m, "shmSize");
      assert.equal(
        await exec(a, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"),
        "81",
        "sysctl",
      );
      // PID 1's: `docker exec` raises an exec'd process's soft limit to the hard one.
      assert.match(await exec(a, "cat /proc/1/limits"), /^Max open files\s+1000\s+2000\s/m);
      assert.match(await exec(a, "cat /etc/hosts"), /^10\.9\.8\.7\s+fossora-test\.example$/m);
      assert.match(await exec(a, "grep NoNewPrivs /proc/self/status"), /NoNewPrivs:\s+1/);
      // As root, which has CHOWN by default: dropped, chown is refused.
      await exec(a, "touch /anon/owned", "0");
      assert.match(
        await execFails(a, "chown 1234 /anon/owned", "0"),
        /Operation not permitted/,
        "capDrop",
      );
      assert.equal(await exec(a, "test -c /dev/fossora-test && echo hi > /dev/fossora-test"), "");
      assert.equal(await exec(a, "cat /host/hello.txt"), "from the host", "a bind mount");
      assert.match(await execFails(a, "touch /host/new"), /Read-only file system/, "readOnly bind");
      assert.equal(await exec(a, "cat /etc/fossora-single"), "one file", "a bind of one file");
      await exec(a, "echo from-a > /out/a.txt");
      assert.equal(await Deno.readTextFile(`${dir}/out/a.txt`), "from-a\n", "a writable bind");
      assert.equal(
        await exec(a, cgroup("memory.max", "memory/memory.limit_in_bytes")),
        String(64 * MiB),
      );
      assert.equal(await exec(a, cgroup("pids.max", "pids/pids.max")), "100");
      assert.match(await exec(a, cgroup("cpu.max", "cpu/cpu.cfs_quota_us")), /^50000\b/);

      const labels = JSON.parse(await docker("inspect", "-f", "{{json .Config.Labels}}", a));
      assert.equal(labels["com.example.team"], "media");
      assert.equal(labels["fossora.service"], s.name, "fossora's own labels win");

      // Each container gets its own fresh anonymous volume; the named one is shared.
      await exec(a, "echo mark > /anon/mark", "0");
      assert.match(await execFails(b, "cat /anon/mark"), /No such file/);
      const [ma, mb] = [await mountsOf(a), await mountsOf(b)];
      const anon = [ma.get("/anon")!.Name!, mb.get("/anon")!.Name!];
      assert.notEqual(anon[0], anon[1]);
      assert.equal(ma.get("/keep")!.Name, `fossora-${s.name}-keep`);

      const t0 = Date.now();
      rt.setWanted([]);
      await waitFor(
        "both containers removed",
        async () => (await docker("ps", "-aq", "--filter", `label=fossora.node=${w.node}`)) === "",
        30_000,
      );
      const took = Date.now() - t0;
      assert.ok(took >= 2_900, `the 3 s grace period was honoured (took ${took} ms)`);
      assert.ok(took < 10_000, `and not Docker's 10 s (took ${took} ms)`);
      for (const id of [a, b]) {
        const host = id.slice(0, 12);
        assert.match(await Deno.readTextFile(`${dir}/out/signal-${host}`), /^USR1$/m, "stopSignal");
      }
      for (const name of anon) assert.equal(await volumeExists(name), false, `${name} removed`);
      assert.equal(await volumeExists(`fossora-${s.name}-keep`), true, "named volume kept");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A TCP port nothing listens on now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("a host-network container listens on the node's own address and reports its container port as the host port", async () => {
  await inWorld(async (w) => {
    const port = freePort();
    const s = spec(w.service(), {
      command: ["/bin/httpd", "-f", "-p", String(port), "-h", "/www"],
      ports: [{ container: port, http: true }],
      hostNetwork: true,
    });
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("ready on the node's port", () => ready(rt, 1));
    assert.deepEqual(st.ports, { [String(port)]: port });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal((await res.text()).trim(), "hello from fossora-test");
    // The node's network namespace: its docker0 bridge is there, no container has one.
    assert.equal(
      await exec(st.containerId!, "test -e /sys/class/net/docker0 && echo host"),
      "host",
    );
  });
});

/** How `docker run --privileged` fares on this machine: its error, or undefined when it runs. */
async function privilegedRefusal(): Promise<string | undefined> {
  const out = await new Deno.Command("docker", {
    args: ["run", "--rm", "--privileged", IMAGE, "true"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.success) return undefined;
  return /unable to apply caps[^\n]*/.exec(new TextDecoder().decode(out.stderr))?.[0] ?? "failed";
}

Deno.test("a privileged container gets every capability of the node, as docker run --privileged", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service(), {
      command: ["sleep", "3600"],
      ports: [],
      container: { privileged: true },
    });
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const refusal = await privilegedRefusal();
    if (refusal !== undefined) {
      // A machine whose root lacks a capability (this VM lacks CAP_SYS_RESOURCE): Docker itself
      // cannot give them all, and the replica shows Docker's own refusal, not a plain container.
      const [st] = await waitFor("the replica in error", () => {
        const list = rt.status();
        return list[0]?.state === "error" && list;
      });
      assert.match(st.message ?? "", new RegExp(refusal));
      return;
    }
    const [st] = await waitFor("running", () => ready(rt, 1));
    const capBnd = /CapBnd:\s+(\w+)/.exec(await Deno.readTextFile("/proc/self/status"))![1];
    const eff = await exec(st.containerId!, "grep CapEff /proc/1/status");
    assert.match(eff, new RegExp(`CapEff:\\s+${capBnd}`));
  });
});

Deno.test("a platform reaches Docker: the image check and the create ask for that platform", async () => {
  const api = createDockerApi(SOCKET);
  const arm = await foreignImage("arm64");
  const other = dockerArch() === "amd64" ? "arm64" : "amd64";
  assert.equal(await api.hasImage(IMAGE, undefined, `linux/${dockerArch()}`), true);
  assert.equal(await api.hasImage(IMAGE, undefined, `linux/${other}`), false);
  assert.equal(await api.hasImage(arm, undefined, "linux/arm64"), true);
  const base = {
    env: {},
    labels: { "fossora.test": rand() },
    ports: [],
    hostIp: "127.0.0.1",
    mounts: [],
  };
  const name = `fossora-platform-${rand()}`;
  const id = await api.create({
    ...base,
    name,
    image: arm,
    container: { platform: "linux/arm64" },
  });
  try {
    await assert.rejects(
      api.create({
        ...base,
        name: `${name}-x`,
        image: IMAGE,
        container: { platform: "linux/arm64" },
      }),
      (err: Error) => err instanceof DockerError && err.status === 404,
    );
  } finally {
    await api.remove(id);
    await api.remove(`${name}-x`);
  }
});
