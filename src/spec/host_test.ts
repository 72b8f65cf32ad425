import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { validateService } from "./validate.ts";

Deno.test("binds, devices and host networking are read from a service file", () => {
  const out: Problems = [];
  const checked = validateService(
    {
      name: "jellyfin",
      image: "jellyfin/jellyfin",
      binds: [
        { source: "/srv/media", path: "/media", readOnly: true },
        { source: "/etc/localtime", path: "/etc/localtime" },
      ],
      devices: [{ host: "/dev/dri" }, {
        host: "/dev/ttyUSB0",
        container: "/dev/zigbee",
        permissions: "rw",
      }],
      hostNetwork: true,
      ports: [{ container: 8096, http: true }],
    },
    "",
    out,
  );
  assert.deepEqual(out, []);
  assert.deepEqual(checked?.spec.binds, [
    { source: "/srv/media", path: "/media", readOnly: true },
    { source: "/etc/localtime", path: "/etc/localtime" },
  ]);
  assert.deepEqual(checked?.spec.devices, [
    { host: "/dev/dri" },
    { host: "/dev/ttyUSB0", container: "/dev/zigbee", permissions: "rw" },
  ]);
  assert.equal(checked?.spec.hostNetwork, true);
});

Deno.test("bad binds and devices are refused, each at its path, with what to write", () => {
  const out: Problems = [];
  validateService(
    {
      name: "x",
      image: "busybox",
      binds: [{ source: "media", path: "/media" }, { source: "/a", path: "rel" }, "nope", {
        source: `/${"a".repeat(2000)}`,
        path: "/b",
      }],
      devices: [{ host: "/dev/dri", permissions: "x" }],
      hostNetwork: "yes",
    },
    "",
    out,
  );
  assert.deepEqual(out.map((p) => p.path), [
    "hostNetwork",
    "binds[0].source",
    "binds[1].path",
    "binds[2]",
    "binds[3].source",
    "devices[0].permissions",
  ]);
  assert.match(out[1].message, /write the full path on the node, e.g. \/srv\/media/);
  // A node checks host paths only up to 1024 characters: a longer one could never be placed.
  assert.match(out[4].message, /at most 1024/);
});

Deno.test("too many binds or devices are refused at once", () => {
  const out: Problems = [];
  validateService(
    {
      name: "x",
      image: "busybox",
      binds: Array.from({ length: 100 }, (_, i) => ({ source: `/s${i}`, path: `/d${i}` })),
      devices: Array.from({ length: 65 }, (_, i) => ({ host: `/dev/d${i}` })),
    },
    "",
    out,
  );
  assert.deepEqual(out, [
    { path: "binds", message: "lists 100; at most 64 are allowed" },
    { path: "devices", message: "lists 65; at most 64 are allowed" },
  ]);
});

Deno.test("with host networking a port published under its own number is refused", () => {
  const out: Problems = [];
  validateService(
    {
      name: "pihole",
      image: "pihole/pihole",
      hostNetwork: true,
      ports: [{ container: 53, protocol: "udp", published: 53 }, {
        container: 80,
        http: true,
        published: 8080,
      }],
    },
    "",
    out,
  );
  assert.equal(out.length, 1);
  assert.equal(out[0].path, "ports[0].published");
  assert.match(out[0].message, /remove published \(reach it at the node's address\)/);
});
