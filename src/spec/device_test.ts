import assert from "node:assert/strict";
import { checkDevices, parseDevice, permissionsProblem } from "./device.ts";
import type { Problems } from "./problems.ts";

Deno.test("devices are { host, container, permissions } of /dev paths and rwm letters", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkDevices(
      [
        { host: "/dev/dri" },
        { host: "/dev/ttyUSB0", container: "/dev/zigbee", permissions: "rw" },
      ],
      "d",
      out,
    ),
    [{ host: "/dev/dri" }, { host: "/dev/ttyUSB0", container: "/dev/zigbee", permissions: "rw" }],
  );
  assert.deepEqual(out, []);
  for (const ok of ["r", "rw", "rwm", "mwr", "m"]) assert.equal(permissionsProblem(ok), undefined);
  for (const bad of ["", "rr", "rwx", "rwmr", "RW"]) assert.ok(permissionsProblem(bad), bad);
});

Deno.test("Docker's HOST:CONTAINER:PERMISSIONS form splits into its parts", () => {
  assert.deepEqual(parseDevice("/dev/dri"), { host: "/dev/dri" });
  assert.deepEqual(parseDevice("/dev/ttyUSB0:/dev/zigbee"), {
    host: "/dev/ttyUSB0",
    container: "/dev/zigbee",
  });
  assert.deepEqual(parseDevice("/dev/ttyUSB0:r"), { host: "/dev/ttyUSB0", permissions: "r" });
  assert.deepEqual(parseDevice("/dev/a:/dev/b:rw"), {
    host: "/dev/a",
    container: "/dev/b",
    permissions: "rw",
  });
});

Deno.test("a device without a host path, relative, or with bad permissions is refused, saying what to write", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkDevices(
      [
        { container: "/dev/x" },
        { host: "srv/disk" },
        { host: "/dev/sda", container: "sda" },
        { host: "/dev/sda", permissions: "rwx" },
      ],
      "d",
      out,
    ),
    [],
  );
  assert.deepEqual(out, [
    { path: "d[0].host", message: "is missing; give the device's path on the node, e.g. /dev/dri" },
    {
      path: "d[1].host",
      message: "'srv/disk' is not an absolute path; write the full path on the node, e.g. /dev/dri",
    },
    {
      path: "d[2].container",
      message:
        "'sda' is not an absolute path; write the full path inside the container, e.g. /media",
    },
    {
      path: "d[3].permissions",
      message:
        "'rwx' is not device permissions; write some of r (read), w (write) and m (mknod), e.g. rwm or r",
    },
  ]);
});
