import assert from "node:assert/strict";
import type { ContainerOptions } from "../state/types.ts";
import { composeDevices, composeOptions } from "./compose_options.ts";
import type { Problem, Problems } from "./problems.ts";

function read(def: Record<string, unknown>) {
  const out: { problems: Problems; warnings: Problems } = { problems: [], warnings: [] };
  const options = composeOptions(def, "s", out);
  return { options, ...out };
}

/** Each compose definition and the options it must give, without problem or warning. */
function accepts(cases: [Record<string, unknown>, ContainerOptions][]): void {
  for (const [def, want] of cases) {
    assert.deepEqual(read(def), { options: want, problems: [], warnings: [] }, JSON.stringify(def));
  }
}

/** Each compose definition and the one problem it must give, with no options set. */
function refuses(cases: [Record<string, unknown>, Problem][]): void {
  for (const [def, problem] of cases) {
    assert.deepEqual(read(def), { options: {}, problems: [problem], warnings: [] }, problem.path);
  }
}

Deno.test("user is kept as Docker takes it, a YAML number included", () => {
  accepts([
    [{ user: 1000 }, { user: "1000" }],
    [{ user: "1000:1000" }, { user: "1000:1000" }],
    [{ user: "abc:staff" }, { user: "abc:staff" }],
  ]);
  refuses([[{ user: ["x"] }, {
    path: "s.user",
    message: "expected a user such as 1000, 1000:1000, nobody or www-data:www-data, found a list",
  }]]);
});

Deno.test("working_dir must be absolute", () => {
  accepts([[{ working_dir: "/app" }, { workingDir: "/app" }]]);
  refuses([[{ working_dir: "app" }, {
    path: "s.working_dir",
    message: "'app' is not an absolute path; write the full path inside the container, e.g. /media",
  }]]);
});

Deno.test("entrypoint as a string split like a shell, a list, or empty to clear the image's", () => {
  accepts([
    [{ entrypoint: "/bin/sh -c 'echo hi'" }, { entrypoint: ["/bin/sh", "-c", "echo hi"] }],
    [{ entrypoint: ["/init", "--verbose"] }, { entrypoint: ["/init", "--verbose"] }],
    [{ entrypoint: [] }, { entrypoint: [] }],
    [{ entrypoint: "" }, { entrypoint: [] }],
  ]);
  refuses([[{ entrypoint: "sh -c 'x" }, {
    path: "s.entrypoint",
    message: "cannot be split into arguments: the quote ' is never closed",
  }]]);
});

Deno.test("cap_add and cap_drop are capability names, as Docker's CAP_ names, a single string a list of one", () => {
  accepts([
    [{ cap_add: ["net_admin", "SYS_MODULE"], cap_drop: "ALL" }, {
      capAdd: ["CAP_NET_ADMIN", "CAP_SYS_MODULE"],
      capDrop: ["ALL"],
    }],
    [{ cap_add: ["CAP_NET_RAW"] }, { capAdd: ["CAP_NET_RAW"] }],
  ]);
  refuses([
    [{ cap_add: ["bad-cap"] }, {
      path: "s.cap_add[0]",
      message: "unknown capability 'bad-cap'; write a Linux capability such as NET_ADMIN or " +
        "SYS_TIME (CAP_ is optional), or ALL",
    }],
    [{ cap_drop: { x: 1 } }, {
      path: "s.cap_drop",
      message: "expected a capability such as NET_ADMIN, found a mapping",
    }],
  ]);
});

Deno.test("privileged is kept, with a warning that it can take over the node", () => {
  const on = read({ privileged: true });
  assert.deepEqual(on.options, { privileged: true });
  assert.deepEqual(on.problems, []);
  assert.deepEqual(on.warnings, [{
    path: "s.privileged",
    message: "runs with every capability and device of the node: it can take over the node " +
      "(and so the cluster's secrets on it); keep it only if the app needs it",
  }]);
  accepts([[{ privileged: false }, {}]]);
  refuses([[{ privileged: "yes" }, {
    path: "s.privileged",
    message: 'expected true or false, found a string ("yes")',
  }]]);
});

Deno.test("sysctls as a mapping or a list of KEY=VALUE", () => {
  accepts([
    [{ sysctls: { "net.core.somaxconn": 1024 } }, { sysctls: { "net.core.somaxconn": "1024" } }],
    [{ sysctls: ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.src_valid_mark=1"] }, {
      sysctls: { "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.src_valid_mark": "1" },
    }],
  ]);
  refuses([
    [{ sysctls: 5 }, {
      path: "s.sysctls",
      message: "expected a mapping such as { net.core.somaxconn: 1024 }, found the number 5",
    }],
    [{ sysctls: [5] }, {
      path: "s.sysctls[0]",
      message: "expected NAME=VALUE, found the number 5",
    }],
  ]);
});

Deno.test("shm_size with a unit or in bytes", () => {
  accepts([
    [{ shm_size: "256m" }, { shmSize: 256 * 1024 * 1024 }],
    [{ shm_size: 1024 }, { shmSize: 1024 }],
  ]);
  refuses([[{ shm_size: "big" }, {
    path: "s.shm_size",
    message: 'expected a size such as 64m, 1g or a number of bytes, found a string ("big")',
  }]]);
});

Deno.test("read_only and init are flags, stored only when true", () => {
  accepts([
    [{ read_only: true, init: true }, { readOnly: true, init: true }],
    [{ read_only: false, init: false }, {}],
  ]);
  refuses([[{ init: "true" }, {
    path: "s.init",
    message: 'expected true or false, found a string ("true")',
  }]]);
});

Deno.test("security_opt as a list, a single string a list of one, ':' spelled '=' as the engine takes it", () => {
  accepts([
    [{ security_opt: ["no-new-privileges:true"] }, { securityOpt: ["no-new-privileges=true"] }],
    [{ security_opt: "label:disable" }, { securityOpt: ["label=disable"] }],
  ]);
});

Deno.test("labels as a mapping or a list of KEY=VALUE", () => {
  accepts([
    [{ labels: { "com.example.a": "b", n: 1 } }, { labels: { "com.example.a": "b", n: "1" } }],
    [{ labels: ["a=b=c", "flag"] }, { labels: { a: "b=c", flag: "" } }],
  ]);
});

Deno.test("extra_hosts in its three forms become NAME:ADDRESS", () => {
  accepts([
    [{ extra_hosts: ["host.docker.internal:host-gateway", "nas:192.168.1.10", "v6:::1"] }, {
      extraHosts: ["host.docker.internal:host-gateway", "nas:192.168.1.10", "v6:::1"],
    }],
    [{ extra_hosts: ["nas=192.168.1.10", "v6=[::1]"] }, {
      extraHosts: ["nas:192.168.1.10", "v6:::1"],
    }],
    [{ extra_hosts: { nas: "192.168.1.10" } }, { extraHosts: ["nas:192.168.1.10"] }],
  ]);
  refuses([
    [{ extra_hosts: ["nas:not an address"] }, {
      path: "s.extra_hosts[0]",
      message: "'not an address' is not an IP address; write one such as 192.168.1.10, or " +
        "host-gateway for the node itself",
    }],
    [{ extra_hosts: ["nas"] }, {
      path: "s.extra_hosts[0]",
      message: "'nas' is not NAME:ADDRESS; write e.g. nas.lan:192.168.1.10",
    }],
    [{ extra_hosts: [{ nas: "192.168.1.10" }] }, {
      path: "s.extra_hosts[0]",
      message: "expected NAME:ADDRESS such as nas.lan:192.168.1.10, found a mapping",
    }],
    [{ extra_hosts: { nas: ["192.168.1.10"] } }, {
      path: "s.extra_hosts.nas",
      message: "expected an IP address such as 192.168.1.10, found a list",
    }],
    [{ extra_hosts: "x" }, {
      path: "s.extra_hosts",
      message: 'expected a list such as [nas.lan:192.168.1.10], found a string ("x")',
    }],
  ]);
});

Deno.test("stop_signal is a signal name, stop_grace_period a Go duration", () => {
  accepts([
    [{ stop_signal: "sigint", stop_grace_period: "1m30s" }, {
      stopSignal: "SIGINT",
      stopGracePeriod: "1m30s",
    }],
  ]);
  refuses([
    [{ stop_signal: "not a signal" }, {
      path: "s.stop_signal",
      message: "expected a signal such as SIGTERM, SIGINT, SIGQUIT (the SIG is optional) or its " +
        'number 1-64, found a string ("not a signal")',
    }],
    [{ stop_grace_period: "90" }, {
      path: "s.stop_grace_period",
      message: 'expected a duration such as 10s or 1m30s, found a string ("90")',
    }],
  ]);
});

Deno.test("ulimits as one number or as soft and hard", () => {
  accepts([[{ ulimits: { nofile: { soft: 1024, hard: 65535 }, nproc: 512 } }, {
    ulimits: [{ name: "nofile", soft: 1024, hard: 65535 }, { name: "nproc", soft: 512, hard: 512 }],
  }]]);
  refuses([
    [{ ulimits: { nofile: "x" } }, {
      path: "s.ulimits.nofile",
      message: 'expected a whole number, or -1 for unlimited, found a string ("x")',
    }],
    [{ ulimits: { nofile: { soft: 1 } } }, {
      path: "s.ulimits.nofile",
      message: "needs both soft and hard, e.g. { soft: 1024, hard: 4096 }",
    }],
    [{ ulimits: [1] }, {
      path: "s.ulimits[0]",
      message: "expected { name, soft, hard }, found the number 1",
    }],
  ]);
});

Deno.test("platform is OS/ARCH[/VARIANT]", () => {
  accepts([[{ platform: "linux/arm64/v8" }, { platform: "linux/arm64/v8" }]]);
  refuses([[{ platform: "arm64" }, {
    path: "s.platform",
    message: "'arm64' is not a platform; write os/arch[/variant], e.g. linux/arm64",
  }]]);
});

Deno.test("mem_limit, cpus and pids_limit are Docker's limits; memswap_limit is ignored with a warning", () => {
  accepts([
    [{ mem_limit: "512m", cpus: 0.5, pids_limit: 100 }, {
      limits: { memory: 512 * 1024 * 1024, cpus: 0.5, pids: 100 },
    }],
    [{ cpus: "1.5" }, { limits: { cpus: 1.5 } }],
    // -1 and 0 mean no limit in Docker.
    [{ pids_limit: -1 }, {}],
  ]);
  const swap = read({ memswap_limit: "1g" });
  assert.deepEqual(swap.options, {});
  assert.deepEqual(swap.warnings, [{
    path: "s.memswap_limit",
    message: "is ignored: fossora sets memory limits only",
  }]);
  for (const cpus of [true, [2], "0x10", ""]) {
    assert.deepEqual(read({ cpus }).problems.map((p) => p.path), ["s.cpus"], JSON.stringify(cpus));
  }
  const bad = read({ mem_limit: "x", cpus: "0", pids_limit: 1.5 });
  assert.deepEqual(bad.options, {});
  assert.deepEqual(bad.problems, [
    { path: "s.mem_limit", message: 'expected a size such as 512m, found a string ("x")' },
    { path: "s.cpus", message: 'expected a number of CPUs such as 0.5, found a string ("0")' },
    { path: "s.pids_limit", message: "expected a positive integer, found a number (1.5)" },
  ]);
});

Deno.test("devices in the short form (one, two or three parts) and the long form", () => {
  const out: Problems = [];
  assert.deepEqual(
    composeDevices(
      [
        "/dev/dri",
        "/dev/ttyUSB0:/dev/ttyACM0",
        "/dev/sda:/dev/xvda:rwm",
        "/dev/sdb:/dev/sdb:r",
        { source: "/dev/a", target: "/dev/b", permissions: "rw" },
      ],
      "d",
      out,
      [],
    ),
    [
      { host: "/dev/dri" },
      { host: "/dev/ttyUSB0", container: "/dev/ttyACM0" },
      { host: "/dev/sda", container: "/dev/xvda", permissions: "rwm" },
      { host: "/dev/sdb", container: "/dev/sdb", permissions: "r" },
      { host: "/dev/a", container: "/dev/b", permissions: "rw" },
    ],
  );
  assert.deepEqual(out, []);
});

Deno.test("bad devices are refused, each with what to write", () => {
  const cases: [unknown, Problem][] = [
    [["dri"], {
      path: "d[0]",
      message: "'dri' is not an absolute path; write the full path on the node, e.g. /dev/dri",
    }],
    [["/dev/a:rel"], {
      path: "d[0]",
      message: "'rel' is not an absolute path; write the full path inside the container, e.g. " +
        "/media",
    }],
    // The long form's problems are at its own keys, source and target.
    [[{ source: "/dev/a", target: { x: 1 } }], {
      path: "d[0].target",
      message: "expected an absolute path such as /media, found a mapping",
    }],
    [[{ source: "/dev/a", target: "/dev/b", mode: "rw" }], {
      path: "d[0].mode",
      message: "unknown key 'mode'; known keys are source, target, permissions",
    }],
    [["/dev/a:/dev/b:x"], {
      path: "d[0]",
      message: "'x' is not device permissions; write some of r (read), w (write) and m (mknod), " +
        "e.g. rwm or r",
    }],
    // Docker refuses a fourth part rather than dropping it.
    [["/dev/a:/dev/b:rw:x"], {
      path: "d[0]",
      message: "'rw:x' is not device permissions; write some of r (read), w (write) and m " +
        "(mknod), e.g. rwm or r",
    }],
    [[5], {
      path: "d[0]",
      message: 'expected a device such as "/dev/dri:/dev/dri", found the number 5',
    }],
    ["/dev/dri", {
      path: "d",
      message:
        'expected a list of devices such as ["/dev/dri:/dev/dri"], found a string ("/dev/dri")',
    }],
  ];
  for (const [value, problem] of cases) {
    const out: Problems = [];
    assert.equal(composeDevices(value, "d", out, []), undefined, JSON.stringify(value));
    assert.deepEqual(out, [problem], JSON.stringify(value));
  }
});
