import assert from "node:assert/strict";
import { tokenSource } from "./token.ts";
import { CliError } from "./errors.ts";

const files = (map: Record<string, string | Error>) => (path: string) => {
  const v = map[path];
  if (v === undefined) return Promise.reject(new Deno.errors.NotFound(path));
  if (v instanceof Error) return Promise.reject(v);
  return Promise.resolve(new TextEncoder().encode(v));
};

Deno.test("the token comes from the flag, then the environment, then the data dir's file", async () => {
  const read = files({ "/var/lib/fossora/admin-token": "from-file\n", "/d/admin-token": "dir" });
  let t = tokenSource({ apiToken: "flag" }, { FOSSORA_API_TOKEN: "env" }, read);
  assert.deepEqual([t.source, await t.read()], ["--api-token", "flag"]);
  t = tokenSource({}, { FOSSORA_API_TOKEN: "env" }, read);
  assert.deepEqual([t.source, await t.read()], ["FOSSORA_API_TOKEN", "env"]);
  t = tokenSource({}, {}, read);
  assert.deepEqual([t.source, await t.read()], ["/var/lib/fossora/admin-token", "from-file"]);
  t = tokenSource({}, { FOSSORA_DATA_DIR: "/d/" }, read);
  assert.equal(await t.read(), "dir");
  t = tokenSource({ dataDir: "/d" }, { FOSSORA_DATA_DIR: "/elsewhere" }, read);
  assert.equal(await t.read(), "dir");
});

Deno.test("a missing, unreadable or empty token file is a failure that says what to do", async () => {
  const read = files({
    "/none-perm/admin-token": new Deno.errors.PermissionDenied("denied"),
    "/empty/admin-token": "  \n",
  });
  const cases: [string, RegExp][] = [
    ["/missing", /\/missing\/admin-token does not exist.*--api-token/],
    ["/none-perm", /permission denied.*sudo/],
    ["/empty", /is empty/],
  ];
  for (const [dir, message] of cases) {
    await assert.rejects(tokenSource({ dataDir: dir }, {}, read).read(), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.match(e.message, message);
      return true;
    });
  }
  await assert.rejects(tokenSource({ apiToken: "" }, {}, read).read(), /--api-token is empty/);
});
