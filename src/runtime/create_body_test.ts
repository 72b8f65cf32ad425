import assert from "node:assert/strict";
import { createRequest, graceSeconds } from "./create_body.ts";
import type { CreateOptions } from "./docker.ts";

function options(over: Partial<CreateOptions> = {}): CreateOptions {
  return {
    name: "fossora-web-0-g1-n1",
    image: "img:1",
    env: { A: "1" },
    labels: { "fossora.managed": "true", "fossora.service": "web" },
    ports: [{ container: 80 }, { container: 53, protocol: "udp" }],
    hostIp: "10.0.0.2",
    mounts: [{ volume: "fossora-web-data", path: "/data" }],
    ...over,
  };
}

Deno.test("a plain service publishes its ports on the node's address and mounts its volumes", () => {
  const { query, body } = createRequest(options());
  assert.deepEqual(query, { name: "fossora-web-0-g1-n1" });
  assert.deepEqual(body.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
  assert.deepEqual(body.HostConfig.PortBindings, {
    "80/tcp": [{ HostIp: "10.0.0.2", HostPort: "" }],
    "53/udp": [{ HostIp: "10.0.0.2", HostPort: "" }],
  });
  assert.deepEqual(body.HostConfig.Mounts, [
    { Type: "volume", Source: "fossora-web-data", Target: "/data" },
  ]);
  assert.equal(body.HostConfig.NetworkMode, undefined);
  assert.equal(body.User, undefined);
  assert.equal(body.Entrypoint, undefined);
});

Deno.test("every container setting lands where docker run puts it", () => {
  const { query, body } = createRequest(options({
    binds: [{ source: "/srv/media", path: "/media", readOnly: true }, {
      source: "/etc/localtime",
      path: "/etc/localtime",
    }],
    devices: [{ host: "/dev/dri" }, {
      host: "/dev/ttyUSB0",
      container: "/dev/zigbee",
      permissions: "rw",
    }],
    container: {
      user: "1000:1000",
      workingDir: "/app",
      entrypoint: [],
      capAdd: ["CAP_NET_ADMIN"],
      capDrop: ["ALL"],
      privileged: true,
      sysctls: { "net.core.somaxconn": "1024" },
      shmSize: 67108864,
      tmpfs: [{ path: "/run" }, { path: "/tmp", size: 1048576, mode: 0o1777 }],
      readOnly: true,
      securityOpt: ["no-new-privileges=true"],
      init: true,
      labels: { "traefik.enable": "true", "fossora.service": "other", "fossora.once": "true" },
      extraHosts: ["host.docker.internal:host-gateway"],
      stopSignal: "SIGINT",
      stopGracePeriod: "1m30s",
      ulimits: [{ name: "nofile", soft: 1024, hard: 4096 }],
      platform: "linux/arm64/v8",
      anonymousVolumes: ["/cache"],
      limits: { cpus: 1.5, memory: 536870912, pids: 200 },
    },
  }));
  assert.deepEqual(query, { name: "fossora-web-0-g1-n1", platform: "linux/arm64/v8" });
  assert.equal(body.User, "1000:1000");
  assert.equal(body.WorkingDir, "/app");
  assert.deepEqual(body.Entrypoint, [], "[] clears the image's entrypoint");
  assert.equal(body.StopSignal, "SIGINT");
  assert.equal(body.StopTimeout, 90);
  assert.deepEqual(body.Labels, {
    "traefik.enable": "true",
    "fossora.managed": "true",
    "fossora.service": "web",
  });
  const h = body.HostConfig;
  assert.deepEqual(h.CapAdd, ["CAP_NET_ADMIN"]);
  assert.deepEqual(h.CapDrop, ["ALL"]);
  assert.equal(h.Privileged, true);
  assert.deepEqual(h.Sysctls, { "net.core.somaxconn": "1024" });
  assert.equal(h.ShmSize, 67108864);
  assert.deepEqual(h.Tmpfs, { "/run": "", "/tmp": "size=1048576,mode=1777" });
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.SecurityOpt, ["no-new-privileges=true"]);
  assert.equal(h.Init, true);
  assert.deepEqual(h.ExtraHosts, ["host.docker.internal:host-gateway"]);
  assert.deepEqual(h.Ulimits, [{ Name: "nofile", Soft: 1024, Hard: 4096 }]);
  assert.equal(h.NanoCpus, 1_500_000_000);
  assert.equal(h.Memory, 536870912);
  assert.equal(h.PidsLimit, 200);
  assert.deepEqual(h.Devices, [
    { PathOnHost: "/dev/dri", PathInContainer: "/dev/dri", CgroupPermissions: "rwm" },
    { PathOnHost: "/dev/ttyUSB0", PathInContainer: "/dev/zigbee", CgroupPermissions: "rw" },
  ]);
  assert.deepEqual(h.Mounts, [
    { Type: "volume", Source: "fossora-web-data", Target: "/data" },
    { Type: "bind", Source: "/srv/media", Target: "/media", ReadOnly: true },
    { Type: "bind", Source: "/etc/localtime", Target: "/etc/localtime", ReadOnly: false },
    { Type: "volume", Target: "/cache" },
  ]);
});

Deno.test("with host networking nothing is published, and the ports stay exposed to be read back", () => {
  const { body } = createRequest(options({ hostNetwork: true }));
  assert.equal(body.HostConfig.NetworkMode, "host");
  assert.equal(body.HostConfig.PortBindings, undefined);
  assert.deepEqual(body.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
});

Deno.test("a grace period in Go's syntax becomes whole seconds, rounded up", () => {
  assert.equal(graceSeconds(undefined), undefined);
  assert.equal(graceSeconds("10s"), 10);
  assert.equal(graceSeconds("1m30s"), 90);
  assert.equal(graceSeconds("500ms"), 1);
  assert.equal(graceSeconds("0s"), 0);
});
