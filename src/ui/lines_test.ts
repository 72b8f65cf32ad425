import assert from "node:assert/strict";
import { LineFinder, pathSteps } from "./lines.ts";

Deno.test("a path's steps are its keys and indexes, quoted keys included", () => {
  assert.deepEqual(pathSteps('services["my.app"].ports[0].container'), [
    "services",
    "my.app",
    "ports",
    0,
    "container",
  ]);
  assert.deepEqual(pathSteps("[1].image"), [1, "image"]);
  assert.deepEqual(pathSteps(""), []);
});

const COMPOSE = `services:
  web:
    image: nginx
    ports:
      - "80:80"
      - "bad"
  "my.db":
    environment:
      A: 1
`;

Deno.test("a problem's line is its field's, or the deepest field the file has", () => {
  const f = new LineFinder(COMPOSE);
  assert.equal(f.line("services.web.image"), 3);
  assert.equal(f.line("services.web.ports[1]"), 6);
  assert.equal(f.line('services["my.db"].environment.A'), 9);
  // No image: the service's own line.
  assert.equal(f.line('services["my.db"].image'), 7);
  assert.equal(f.line(""), undefined);
  assert.equal(f.line("nothing.here"), undefined);
  assert.equal(f.line("", "YAML syntax error at line 4, column 2: bad"), 4);
});

Deno.test("a file that is not YAML gives no line and does not throw", () => {
  const f = new LineFinder("{{{{ : ][");
  assert.equal(f.line("services.web"), undefined);
  assert.equal(new LineFinder('[{"name":"a"},{"name":"b","image":1}]').line("[1].image"), 1);
});
