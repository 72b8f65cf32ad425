import assert from "node:assert/strict";
import { parseServiceFile } from "./parse.ts";
import type { Problems } from "./problems.ts";
import { checkAcrossServices, type Checked, validateService } from "./validate.ts";

Deno.test("a minimal service gets every default", () => {
  const out: Problems = [];
  const checked = validateService({ name: "a", image: "busybox" }, "", out);
  assert.deepEqual(out, []);
  assert.deepEqual(checked, {
    spec: {
      name: "a",
      image: "busybox",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
    },
    namePath: "name",
    portPaths: [],
    volumePaths: [],
    replicasPath: "replicas",
  });
});

Deno.test("a service with volumes runs one copy: more replicas are refused, saying why", () => {
  const out: Problems = [];
  validateService(
    { name: "db", image: "postgres:16", replicas: 2, volumes: [{ name: "data", path: "/data" }] },
    "services[0]",
    out,
  );
  assert.equal(out.length, 1);
  assert.equal(out[0].path, "services[0].replicas");
  assert.match(out[0].message, /runs one copy at a time.*set replicas to 1/);
  const one: Problems = [];
  validateService(
    { name: "db", image: "postgres:16", replicas: 1, volumes: [{ name: "data", path: "/data" }] },
    "",
    one,
  );
  assert.deepEqual(one, []);
});

Deno.test("problems are collected across every field, under the given path", () => {
  const out: Problems = [];
  validateService(
    {
      name: "ok",
      image: "busybox",
      replicas: null,
      ports: {},
      env: "A=1",
      volumes: [{ path: "/x" }, "v:/y"],
      placement: [],
      extra: 1,
    },
    "services[3]",
    out,
  );
  assert.deepEqual(out.map((p) => p.path), [
    "services[3].extra",
    "services[3].ports",
    "services[3].volumes[0].name",
    "services[3].volumes[1]",
    "services[3].replicas",
    "services[3].env",
    "services[3].placement",
  ]);
  assert.equal(out[4].message, "expected an integer from 0 to 100, found null (an empty value)");
  assert.equal(out[2].message, "is missing; give the volume a name such as config");
});

Deno.test("a service that is not a mapping is one problem at its path", () => {
  const out: Problems = [];
  assert.equal(validateService(["name"], "[2]", out), undefined);
  assert.deepEqual(out, [{
    path: "[2]",
    message: "expected a service: a mapping with at least name and image, found a list",
  }]);
});

Deno.test("a port may be http and published at once", () => {
  const out: Problems = [];
  const checked = validateService(
    { name: "a", image: "b", ports: [{ container: 80, http: true, published: 8080 }] },
    "",
    out,
  );
  assert.deepEqual(out, []);
  assert.deepEqual(checked?.spec.ports, [{ container: 80, http: true, published: 8080 }]);
});

Deno.test("across services, invalid names are not compared and ports are", () => {
  const out: Problems = [];
  const services = [
    validateService({ name: "a", image: "x", ports: [{ container: 1, published: 9 }] }, "[0]", out),
    validateService({ name: "A", image: "x" }, "[1]", out),
    validateService({ name: "A", image: "x" }, "[2]", out),
    validateService({ name: "a", image: "x", ports: [{ container: 2, published: 9 }] }, "[3]", out),
  ] as Checked[];
  out.length = 0;
  checkAcrossServices(services, out);
  assert.deepEqual(out, [
    { path: "[3].name", message: "service name 'a' is already used at [0].name; names are unique" },
    {
      path: "[3].ports[0].published",
      message:
        "published port 9 is already used at [0].ports[0].published; every published port is unique in the cluster",
    },
  ]);
});

Deno.test("services sharing a YAML alias get their own lists", () => {
  const yaml = "- { name: a, image: x, command: &c [run], placement: { arch: &a [arm64] } }\n" +
    "- { name: b, image: x, command: *c, placement: { arch: *a } }\n";
  const result = parseServiceFile(yaml);
  assert.ok(result.ok);
  result.services[0].command!.push("more");
  result.services[0].placement.arch!.push("amd64");
  assert.deepEqual(result.services[1].command, ["run"]);
  assert.deepEqual(result.services[1].placement.arch, ["arm64"]);
});

Deno.test("httpsRedirect is kept on the HTTP port and refused on the others, under the given path", async (t) => {
  const cases: { name: string; ports: unknown[]; want: unknown; problems: Problems }[] = [
    {
      name: "on the HTTP port",
      ports: [{ container: 80, http: true, httpsRedirect: true }],
      want: [{ container: 80, http: true, httpsRedirect: true }],
      problems: [],
    },
    {
      name: "false is left out",
      ports: [{ container: 80, http: true, httpsRedirect: false }],
      want: [{ container: 80, http: true }],
      problems: [],
    },
    {
      name: "on a published port",
      ports: [{ container: 80, http: true }, { container: 22, published: 22, httpsRedirect: true }],
      want: [{ container: 80, http: true }],
      problems: [{
        path: "services[2].ports[1].httpsRedirect",
        message: "only the HTTP port (http: true) can redirect to https",
      }],
    },
    {
      name: "not a boolean",
      ports: [{ container: 80, http: true, httpsRedirect: null }],
      want: [],
      problems: [{
        path: "services[2].ports[0].httpsRedirect",
        message: "expected true or false, found null (an empty value)",
      }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const out: Problems = [];
      const checked = validateService(
        { name: "a", image: "b", ports: c.ports },
        "services[2]",
        out,
      );
      assert.deepEqual(out, c.problems);
      assert.deepEqual(checked?.spec.ports, c.want);
    });
  }
});

Deno.test("resources take CPUs and memory as Docker writes them, and say what is wrong", () => {
  const ok: Problems = [];
  const checked = validateService(
    { name: "db", image: "postgres:16", resources: { cpus: 0.5, memory: "512M" } },
    "",
    ok,
  );
  assert.deepEqual(ok, []);
  assert.deepEqual(checked?.spec.resources, { cpus: 0.5, memory: 512 * 1024 ** 2 });
  const bad: Problems = [];
  validateService(
    { name: "db", image: "postgres:16", resources: { cpus: -1, memory: "lots", disk: 1 } },
    "",
    bad,
  );
  assert.deepEqual(bad.map((p) => p.path).sort(), [
    "resources.cpus",
    "resources.disk",
    "resources.memory",
  ]);
});

Deno.test("a UDP port is published and not http; TCP and UDP of one number are two ports", () => {
  const out: Problems = [];
  const checked = validateService(
    {
      name: "dns",
      image: "x",
      ports: [
        { container: 53, published: 5353, protocol: "udp" },
        { container: 53, published: 5353 },
        { container: 80, published: 8080, protocol: "tcp" },
      ],
    },
    "",
    out,
  );
  assert.deepEqual(out, []);
  assert.deepEqual(checked?.spec.ports, [
    { container: 53, http: false, published: 5353, protocol: "udp" },
    { container: 53, http: false, published: 5353 },
    { container: 80, http: false, published: 8080 },
  ], "tcp is stored as no protocol");
  const bad = (port: unknown) => {
    const problems: Problems = [];
    validateService({ name: "a", image: "x", ports: [port] }, "", problems);
    return problems.map((p) => `${p.path}: ${p.message}`);
  };
  assert.deepEqual(bad({ container: 53, protocol: "udp" }), [
    "ports[0].protocol: a UDP port is reached only where it is published; add published: PORT",
  ]);
  assert.deepEqual(bad({ container: 53, http: true, published: 53, protocol: "udp" }), [
    "ports[0].protocol: the http port is TCP; serve UDP on another port entry with published",
  ]);
  assert.match(bad({ container: 53, published: 53, protocol: "sctp" })[0], /tcp or udp/);
  const twice: Problems = [];
  validateService(
    {
      name: "a",
      image: "x",
      ports: [
        { container: 53, published: 1053, protocol: "udp" },
        { container: 53, published: 2053, protocol: "udp" },
      ],
    },
    "",
    twice,
  );
  assert.match(twice[0].message, /container port 53\/udp is already listed at ports\[0\]/);
});

Deno.test("a service file takes container settings, binds, devices and host networking", () => {
  const yaml = `
name: media
image: jellyfin/jellyfin:10.9
hostNetwork: true
binds:
  - { source: /srv/media, path: /media, readOnly: true }
  - { source: /etc/localtime, path: /etc/localtime, readOnly: true }
devices:
  - { host: /dev/dri }
container:
  user: "1000:1000"
  shmSize: 1g
  stopGracePeriod: 30s
  tmpfs: [{ path: /cache, size: 512m, mode: "1777" }]
  limits: { memory: 2g }
`;
  const result = parseServiceFile(new TextEncoder().encode(yaml), { filename: "media.yaml" });
  assert.ok(result.ok, JSON.stringify(result));
  const [spec] = result.services;
  assert.equal(spec.hostNetwork, true);
  assert.deepEqual(spec.binds, [
    { source: "/srv/media", path: "/media", readOnly: true },
    { source: "/etc/localtime", path: "/etc/localtime", readOnly: true },
  ]);
  assert.deepEqual(spec.devices, [{ host: "/dev/dri" }]);
  assert.deepEqual(spec.container, {
    user: "1000:1000",
    shmSize: 1024 ** 3,
    stopGracePeriod: "30s",
    tmpfs: [{ path: "/cache", size: 512 * 1024 ** 2, mode: 0o1777 }],
    limits: { memory: 2 * 1024 ** 3 },
  });
});

Deno.test("hostNetwork: false, empty binds and devices and an empty container leave the spec as it was", () => {
  const out: Problems = [];
  const checked = validateService(
    { name: "a", image: "busybox", hostNetwork: false, binds: [], devices: [], container: {} },
    "",
    out,
  );
  assert.deepEqual(out, []);
  assert.deepEqual(Object.keys(checked!.spec).sort(), [
    "env",
    "image",
    "name",
    "placement",
    "ports",
    "replicas",
    "volumes",
  ]);
});

Deno.test("two mounts on one path are refused, whichever kinds they are", () => {
  const out: Problems = [];
  validateService(
    {
      name: "a",
      image: "busybox",
      volumes: [{ name: "data", path: "/data" }],
      binds: [{ source: "/srv/data", path: "/data/" }],
      container: { tmpfs: ["/run"], anonymousVolumes: ["/run"] },
    },
    "services[0]",
    out,
  );
  assert.deepEqual(out, [
    {
      path: "services[0].binds[0].path",
      message:
        "path /data/ is already mounted by services[0].volumes[0].path; mount one thing per path",
    },
    {
      path: "services[0].container.anonymousVolumes[0]",
      message:
        "path /run is already mounted by services[0].container.tmpfs[0]; mount one thing per path",
    },
  ]);
});

Deno.test("a bad hostNetwork, binds or devices is refused at its path", () => {
  const out: Problems = [];
  validateService(
    { name: "a", image: "busybox", hostNetwork: "yes", binds: {}, devices: "/dev/dri" },
    "",
    out,
  );
  assert.deepEqual(out.map((p) => p.path), ["hostNetwork", "binds", "devices"]);
  assert.equal(out[0].message, 'expected true or false, found a string ("yes")');
});
