import assert from "node:assert/strict";
import { contentTypeOf, deployLines } from "./deploy.ts";

Deno.test("contentTypeOf guesses from the extension and leaves the rest to the agent", () => {
  assert.equal(contentTypeOf("svc.json"), "application/json");
  assert.equal(contentTypeOf("docker-compose.YML"), "application/yaml");
  assert.equal(contentTypeOf("a/b/whoami.yaml"), "application/yaml");
  assert.equal(contentTypeOf("-"), undefined);
  assert.equal(contentTypeOf("Servicefile"), undefined);
});

Deno.test("deployLines says created, updated or unchanged with the generation", () => {
  assert.equal(
    deployLines({
      services: [
        { name: "a", generation: 1, created: true, changed: true },
        { name: "b", generation: 4, created: false, changed: true },
        { name: "c", generation: 2, created: false, changed: false },
      ],
      warnings: [],
    }),
    "created a (generation 1)\nupdated b (generation 4)\nunchanged c (generation 2)\n",
  );
});
