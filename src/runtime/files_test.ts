import assert from "node:assert/strict";
import { MountedFiles } from "./files.ts";
import type { ServiceSpec } from "../state/types.ts";

const spec: ServiceSpec = {
  name: "db.cloud",
  image: "mariadb",
  replicas: 1,
  ports: [],
  env: {},
  volumes: [],
  placement: {},
  stack: "cloud",
  files: [
    { name: "db-password", path: "/run/secrets/db-password", secret: true },
    { name: "my.cnf", path: "/etc/mysql/my.cnf", secret: false, mode: 0o440 },
  ],
};

Deno.test("a replica's secrets are written where only root reaches them, with the mode the container sees", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stored: Record<string, string> = {
      "secret:db-password": "s3cret",
      "config:my.cnf": "[mysqld]\n",
    };
    const files = new MountedFiles(`${dir}/files`, (stack, key) => {
      assert.equal(stack, "cloud");
      return Promise.resolve(stored[key]);
    });
    const binds = await files.prepare(spec, 0);
    assert.deepEqual(binds.map((b) => [b.path, b.readOnly]), [
      ["/run/secrets/db-password", true],
      ["/etc/mysql/my.cnf", true],
    ]);
    assert.equal(await Deno.readTextFile(binds[0].source), "s3cret");
    assert.equal((await Deno.stat(binds[0].source)).mode! & 0o777, 0o444);
    assert.equal((await Deno.stat(binds[1].source)).mode! & 0o777, 0o440);
    assert.equal((await Deno.stat(`${dir}/files`)).mode! & 0o777, 0o700);
    await files.release("db.cloud", 0);
    await assert.rejects(Deno.stat(binds[0].source), Deno.errors.NotFound);
    await files.release("db.cloud", 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret missing from the cluster stops the start with what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = new MountedFiles(dir, () => Promise.resolve(undefined));
    await assert.rejects(
      files.prepare(spec, 0),
      /secret db-password of stack cloud is missing.*fossora deploy/,
    );
    assert.deepEqual(await files.prepare({ ...spec, files: undefined }, 0), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
