import assert from "node:assert/strict";
import {
  checkCommand,
  checkImage,
  checkName,
  checkPlacement,
  checkPortNumber,
  checkStringish,
  checkVolumePath,
  labelProblem,
  normalizePath,
  validateServiceName,
} from "./fields.ts";
import type { Problems } from "./problems.ts";

Deno.test("service names are DNS labels", () => {
  for (const ok of ["a", "web", "web-1", "0", "a".repeat(63)]) {
    assert.equal(validateServiceName(ok), undefined, ok);
  }
  assert.equal(
    validateServiceName("a.b"),
    "service name 'a.b' may hold only lowercase letters a-z, digits and '-' (a DNS label)",
  );
  assert.equal(
    validateServiceName("Web"),
    "service name 'Web' may hold only lowercase letters a-z, digits and '-' (a DNS label), e.g. 'web'",
  );
  assert.equal(
    labelProblem("x-", "site"),
    "site 'x-' must not start or end with '-' (a DNS label)",
  );
});

Deno.test("string maps take strings, numbers and booleans as text", () => {
  const out: Problems = [];
  assert.equal(checkStringish("a", "p", out), "a");
  assert.equal(checkStringish(8080, "p", out), "8080");
  assert.equal(checkStringish(0.5, "p", out), "0.5");
  assert.equal(checkStringish(true, "p", out), "true");
  assert.deepEqual(out, []);
  assert.equal(checkStringish(Infinity, "p", out), undefined);
  assert.equal(checkStringish("a\0b", "q", out), undefined);
  assert.equal(checkStringish(null, "r", out), undefined);
  assert.deepEqual(out, [
    {
      path: "p",
      message:
        "expected a string, a number or a boolean (quote it to be sure), found a number (Infinity)",
    },
    { path: "q", message: "contains a NUL character; remove it" },
    {
      path: "r",
      message:
        "expected a string, a number or a boolean (quote it to be sure), found null (an empty value)",
    },
  ]);
});

Deno.test("volume paths are absolute, not the root, and without ':'", () => {
  const out: Problems = [];
  assert.equal(checkVolumePath("/data", "p", out), "/data");
  assert.equal(checkVolumePath("/", "a", out), undefined);
  assert.equal(checkVolumePath("//", "b", out), undefined);
  assert.equal(checkVolumePath("/a:b", "c", out), undefined);
  assert.equal(checkVolumePath(5, "d", out), undefined);
  assert.deepEqual(out.map((p) => p.path), ["a", "b", "c", "d"]);
  assert.equal(out[0].message, "a volume cannot be mounted on '/'; pick a directory");
  assert.equal(out[2].message, "'/a:b' contains ':', which Docker cannot mount");
  assert.equal(normalizePath("/data//"), "/data");
  assert.equal(normalizePath("/"), "/");
});

Deno.test("placement keeps only the fields given and reports each bad one", () => {
  const out: Problems = [];
  assert.deepEqual(checkPlacement({}, "placement", out), {});
  assert.deepEqual(
    checkPlacement({ arch: ["arm"], labels: { gpu: true, "zone.io/x": "a" } }, "placement", out),
    { arch: ["arm"], labels: { gpu: "true", "zone.io/x": "a" } },
  );
  assert.deepEqual(
    checkPlacement({ constraints: ["node.labels.disk == ssd"] }, "placement", out),
    { constraints: [{ attribute: "node.labels.disk", op: "==", value: "ssd" }] },
  );
  assert.deepEqual(out, []);
  assert.equal(
    checkPlacement({ arch: "arm64", sites: ["Home"], labels: { "=x": "y" }, zone: 1 }, "p", out),
    undefined,
  );
  assert.deepEqual(out, [
    {
      path: "p.zone",
      message: "unknown key 'zone'; known keys are arch, sites, labels, constraints",
    },
    {
      path: "p.arch",
      message: 'expected a list of architectures such as [arm64, amd64], found a string ("arm64")',
    },
    {
      path: "p.sites[0]",
      message:
        "site 'Home' may hold only lowercase letters a-z, digits and '-' (a DNS label), e.g. 'home'",
    },
    {
      path: 'p.labels["=x"]',
      message: "'=x' is not a valid label name: use letters, digits, '.', '_', '/' and '-'",
    },
  ]);
});

Deno.test("commands are non-empty lists of strings", () => {
  const out: Problems = [];
  assert.deepEqual(checkCommand(["sh", "-c", ""], "c", out), ["sh", "-c", ""]);
  assert.equal(checkCommand([], "c", out), undefined);
  assert.deepEqual(out, [{
    path: "c",
    message: "is an empty list; remove it to run the image's own command",
  }]);
});

Deno.test("ports and images reject what Docker would", () => {
  const out: Problems = [];
  assert.equal(checkPortNumber(65535, "p", out), 65535);
  assert.equal(checkPortNumber("80", "p", out), undefined);
  assert.equal(checkImage("nginx", "i", out), "nginx");
  assert.equal(checkImage("", "i", out), undefined);
  assert.deepEqual(out, [
    { path: "p", message: 'expected an integer from 1 to 65535, found a string ("80")' },
    {
      path: "i",
      message: "'' is not a valid image reference: it is empty; write it like traefik/whoami:v1.10",
    },
  ]);
});

Deno.test("a stack's service is named SERVICE.STACK, and only with its stack", () => {
  const out: { path: string; message: string }[] = [];
  assert.equal(checkName("db.shop", "name", out, "shop"), "db.shop");
  assert.equal(out.length, 0);
  assert.equal(checkName("db.shop", "name", out), undefined, "no stack: one label only");
  assert.equal(checkName("db.blog", "name", out, "shop"), undefined, "another stack");
  assert.equal(checkName("a.b.shop", "name", out, "shop"), undefined, "three labels");
  assert.equal(checkName("Db.shop", "name", out, "shop"), undefined);
  assert.equal(out.length, 4);
  assert.match(out[3].message, /service name 'Db' may hold only lowercase/);
  assert.equal(checkName("web", "name", [], "shop"), "web", "a plain name stays valid");
});
