import assert from "node:assert/strict";
import { ago, formatTable } from "./table.ts";

Deno.test("formatTable aligns columns with two spaces and leaves no trailing blanks", () => {
  const out = formatTable(["NAME", "IMAGE", "URL"], [
    ["whoami", "traefik/whoami:v1.10", "http://whoami.home.arpa/"],
    ["mc", "itzg/minecraft", ""],
  ]);
  assert.equal(
    out,
    "NAME    IMAGE                 URL\n" +
      "whoami  traefik/whoami:v1.10  http://whoami.home.arpa/\n" +
      "mc      itzg/minecraft\n",
  );
});

Deno.test("formatTable with no rows prints the header only", () => {
  assert.equal(formatTable(["A", "B"], []), "A  B\n");
});

Deno.test("formatTable counts characters, not bytes, for alignment", () => {
  assert.equal(formatTable(["N", "X"], [["été", "1"], ["a", "2"]]), "N    X\nété  1\na    2\n");
});

Deno.test("ago says how long ago in the largest whole unit", () => {
  const now = new Date("2025-01-02T00:00:00Z");
  assert.equal(ago("2025-01-01T23:59:57Z", now), "3s ago");
  assert.equal(ago("2025-01-01T23:55:00Z", now), "5m ago");
  assert.equal(ago("2025-01-01T21:00:00Z", now), "3h ago");
  assert.equal(ago("2024-12-29T00:00:00Z", now), "4d ago");
  assert.equal(ago("2025-01-02T00:00:00Z", now), "just now");
  assert.equal(ago("2025-01-02T00:00:05Z", now), "just now");
  assert.equal(ago("not a date", now), "-");
  assert.equal(ago(undefined, now), "-");
});
