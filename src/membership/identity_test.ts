import assert from "node:assert/strict";
import {
  IdentityError,
  loadOrCreateIdentity,
  readSecretFile,
  writeSecretFile,
} from "./identity.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-identity-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof IdentityError, `expected IdentityError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a new data dir gets an id, a 0600 admin token and node.json with tight modes", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/a/b/data`;
    const now = () => new Date("2024-05-01T10:00:00Z");
    const ident = await loadOrCreateIdentity(dir, "pi-1", { now });
    assert.match(ident.id, /^[0-9a-f]{16}$/);
    assert.equal(ident.name, "pi-1");
    assert.match(ident.adminToken, /^[A-Za-z0-9_-]{43}$/); // 32 bytes in base64url
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(`${dir}/admin-token`), 0o600);
    assert.equal(await modeOf(`${dir}/node-id`), 0o644);
    assert.equal((await Deno.readTextFile(`${dir}/node-id`)).trim(), ident.id);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/node.json`)), {
      id: ident.id,
      name: "pi-1",
      createdAt: "2024-05-01T10:00:00.000Z",
    });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["admin-token", "node-id", "node.json"], "no temp files left");
  });
});

Deno.test("the identity is stable across calls and fresh for another data dir", async () => {
  await withTempDir(async (tmp) => {
    const first = await loadOrCreateIdentity(`${tmp}/one`, "n1");
    const again = await loadOrCreateIdentity(`${tmp}/one`, "n1");
    assert.deepEqual(again, first);
    const other = await loadOrCreateIdentity(`${tmp}/two`, "n1");
    assert.notEqual(other.id, first.id);
    assert.notEqual(other.adminToken, first.adminToken);
  });
});

Deno.test("concurrent first starts agree on one id and one token", async () => {
  await withTempDir(async (tmp) => {
    const all = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateIdentity(`${tmp}/d`, "n")),
    );
    for (const ident of all) assert.deepEqual(ident, all[0]);
  });
});

Deno.test("a name change keeps the id, the token and createdAt", async () => {
  await withTempDir(async (dir) => {
    const before = await loadOrCreateIdentity(dir, "old", {
      now: () => new Date("2024-01-01T00:00:00Z"),
    });
    const after = await loadOrCreateIdentity(dir, "new", {
      now: () => new Date("2025-01-01T00:00:00Z"),
    });
    assert.equal(after.id, before.id);
    assert.equal(after.adminToken, before.adminToken);
    assert.equal(after.name, "new");
    const stored = JSON.parse(await Deno.readTextFile(`${dir}/node.json`));
    assert.deepEqual(stored, { id: before.id, name: "new", createdAt: "2024-01-01T00:00:00.000Z" });
  });
});

Deno.test("a loose admin-token mode is tightened to 0600 and the token kept", async () => {
  await withTempDir(async (dir) => {
    const ident = await loadOrCreateIdentity(dir, "n");
    await Deno.chmod(`${dir}/admin-token`, 0o644);
    const again = await loadOrCreateIdentity(dir, "n");
    assert.equal(again.adminToken, ident.adminToken);
    assert.equal(await modeOf(`${dir}/admin-token`), 0o600);
  });
});

Deno.test("corrupt files give an error naming the file and what to do", async (t) => {
  await t.step("node.json not JSON", async () => {
    await withTempDir(async (dir) => {
      await loadOrCreateIdentity(dir, "n");
      await Deno.writeTextFile(`${dir}/node.json`, '{"id": "abc", "na');
      await rejectsWith(
        loadOrCreateIdentity(dir, "n"),
        /node\.json is corrupt .*remove it to rebuild it from node-id/,
      );
    });
  });
  await t.step("node.json of the wrong shape", async () => {
    await withTempDir(async (dir) => {
      await loadOrCreateIdentity(dir, "n");
      await Deno.writeTextFile(`${dir}/node.json`, "[1, 2]");
      await rejectsWith(loadOrCreateIdentity(dir, "n"), /node\.json is corrupt \(expected/);
    });
  });
  await t.step("node.json of another node", async () => {
    await withTempDir(async (dir) => {
      const ident = await loadOrCreateIdentity(dir, "n");
      const other = { id: "0123456789abcdef", name: "n", createdAt: "x" };
      await Deno.writeTextFile(`${dir}/node.json`, JSON.stringify(other));
      await rejectsWith(
        loadOrCreateIdentity(dir, "n"),
        new RegExp(`node\\.json is for node 0123456789abcdef but .*says ${ident.id}`),
      );
    });
  });
  await t.step("node-id not an id", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/node-id`, "hello\n");
      await rejectsWith(
        loadOrCreateIdentity(dir, "n"),
        /node-id does not hold a node id .*remove it to give this node a new identity/,
      );
    });
  });
  await t.step("empty admin-token", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/admin-token`, "", { mode: 0o600 });
      await rejectsWith(loadOrCreateIdentity(dir, "n"), /admin-token is empty.*remove it/);
    });
  });
  await t.step("data dir is a file", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/file`, "x");
      await rejectsWith(loadOrCreateIdentity(`${dir}/file`, "n"), /is not a directory/);
    });
  });
});

Deno.test("secret files are written atomically with mode 0600 and read back", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/secret`;
    assert.equal(await readSecretFile(path), undefined);
    await Deno.writeTextFile(path, "old", { mode: 0o644 });
    await writeSecretFile(path, "new\n");
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await readSecretFile(path), "new\n");
    await Deno.chmod(path, 0o640);
    assert.equal(await readSecretFile(path), "new\n");
    assert.equal(await modeOf(path), 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["secret"]);
  });
});
