import assert from "node:assert/strict";
import { checkContainerOptions } from "./container.ts";
import type { Problems } from "./problems.ts";

const MiB = 1024 ** 2;

Deno.test("every container setting is read into ContainerOptions", () => {
  const out: Problems = [];
  const options = checkContainerOptions(
    {
      user: 1000,
      workingDir: "/app",
      entrypoint: [],
      capAdd: ["net_admin", "CAP_SYS_TIME"],
      capDrop: ["ALL"],
      privileged: true,
      sysctls: { "net.core.somaxconn": 1024 },
      shmSize: "64m",
      tmpfs: ["/run"],
      readOnly: true,
      securityOpt: ["no-new-privileges:true"],
      init: true,
      labels: { "traefik.enable": true },
      extraHosts: ["nas.lan:192.168.1.10"],
      stopSignal: "INT",
      stopGracePeriod: "1m30s",
      ulimits: { nofile: { soft: 1024, hard: 4096 } },
      platform: "linux/arm64",
      anonymousVolumes: ["/cache"],
      limits: { cpus: "1.5", memory: "512m", pids: 200 },
    },
    "container",
    out,
  );
  assert.deepEqual(out, []);
  assert.deepEqual(options, {
    user: "1000",
    workingDir: "/app",
    entrypoint: [],
    capAdd: ["CAP_NET_ADMIN", "CAP_SYS_TIME"],
    capDrop: ["ALL"],
    privileged: true,
    sysctls: { "net.core.somaxconn": "1024" },
    shmSize: 64 * MiB,
    tmpfs: [{ path: "/run" }],
    readOnly: true,
    securityOpt: ["no-new-privileges=true"],
    init: true,
    labels: { "traefik.enable": "true" },
    extraHosts: ["nas.lan:192.168.1.10"],
    stopSignal: "SIGINT",
    stopGracePeriod: "1m30s",
    ulimits: [{ name: "nofile", soft: 1024, hard: 4096 }],
    platform: "linux/arm64",
    anonymousVolumes: ["/cache"],
    limits: { cpus: 1.5, memory: 512 * MiB, pids: 200 },
  });
});

Deno.test("Docker's defaults written out are not stored, except init: false", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkContainerOptions({ privileged: false, readOnly: false, init: false }, "c", out),
    { init: false },
  );
});

Deno.test("each bad container setting is refused at its path, saying what to write", () => {
  const out: Problems = [];
  const options = checkContainerOptions(
    {
      usr: "1000",
      user: "a b",
      workingDir: "app",
      entrypoint: "/bin/sh",
      capAdd: ["NET_ADMINS"],
      privileged: "yes",
      sysctls: { "vm.swappiness": 1 },
      shmSize: 0,
      readOnly: 1,
      securityOpt: ["seccomp=/x.json"],
      labels: { "fossora.service": "x" },
      extraHosts: ["nas"],
      stopSignal: "SIGNOPE",
      stopGracePeriod: "2h",
      ulimits: { nofile: "many" },
      platform: "arm64",
      anonymousVolumes: ["cache"],
      limits: { cpus: 0, memory: "1m", pids: 0, swap: 1 },
    },
    "c",
    out,
  );
  assert.equal(options, undefined);
  assert.deepEqual(out.map((p) => p.path), [
    "c.usr",
    "c.user",
    "c.workingDir",
    "c.entrypoint",
    "c.capAdd[0]",
    "c.privileged",
    'c.sysctls["vm.swappiness"]',
    "c.shmSize",
    "c.readOnly",
    "c.securityOpt[0]",
    'c.labels["fossora.service"]',
    "c.extraHosts[0]",
    "c.stopSignal",
    "c.stopGracePeriod",
    "c.ulimits.nofile",
    "c.platform",
    "c.anonymousVolumes[0]",
    "c.limits.swap",
    "c.limits.cpus",
    "c.limits.memory",
    "c.limits.pids",
  ]);
  const message = (path: string) => out.find((p) => p.path === path)?.message;
  assert.equal(
    message("c.usr"),
    "unknown key 'usr' (did you mean 'user'?); known keys are user, workingDir, entrypoint, capAdd, " +
      "capDrop, privileged, sysctls, shmSize, tmpfs, readOnly, securityOpt, init, labels, extraHosts, " +
      "stopSignal, stopGracePeriod, ulimits, platform, anonymousVolumes, limits",
  );
  assert.equal(
    message("c.entrypoint"),
    'expected a list such as ["/bin/sh", "-c"] (or [] for none), found a string ("/bin/sh")',
  );
  assert.equal(
    message('c.labels["fossora.service"]'),
    "labels starting with 'fossora.' are fossora's own; rename it",
  );
  assert.equal(message("c.stopGracePeriod"), "2h is longer than 1h; give a shorter grace period");
  assert.equal(
    message("c.limits.cpus"),
    "expected a number of CPUs from 0.01 to 1024, e.g. 1.5, found the number 0",
  );
  assert.equal(
    message("c.limits.memory"),
    "a memory limit of 1048576 bytes is too small; give at least 6291456",
  );
  assert.equal(
    message("c.limits.pids"),
    "expected a whole number of processes above 0, e.g. 200, found the number 0",
  );
});

Deno.test("with host networking the container may not change the node's net.* sysctls", () => {
  const out: Problems = [];
  assert.equal(
    checkContainerOptions({ sysctls: { "net.core.somaxconn": 1024 } }, "c", out, true),
    undefined,
  );
  assert.match(
    out[0].message,
    /would change the node's own network settings \(hostNetwork: true\)/,
  );
});
