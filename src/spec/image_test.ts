import assert from "node:assert/strict";
import { imageReferenceProblem } from "./image.ts";

const DIGEST = "sha256:" + "0123456789abcdef".repeat(4);

Deno.test("usual image references are accepted", () => {
  for (
    const ref of [
      "nginx",
      "nginx:1.25",
      "traefik/whoami:v1.10",
      "ghcr.io/acme/api:2",
      "localhost:5000/app",
      "registry.example.com:8443/team/app:latest",
      `busybox@${DIGEST}`,
      `ghcr.io/acme/api:2@${DIGEST}`,
      "my_org/my-app__x.y",
      "192.168.1.10:5000/tools/dig:1.0-rc_1",
    ]
  ) {
    assert.equal(imageReferenceProblem(ref), undefined, ref);
  }
});

Deno.test("broken image references say what is wrong", () => {
  const cases: [string, string][] = [
    ["", "it is empty"],
    ["nginx latest", "it contains whitespace"],
    ["Nginx", "repository names must be lowercase"],
    [
      "nginx:",
      "tag '' may hold only letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')",
    ],
    [
      "nginx:-x",
      "tag '-x' may hold only letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')",
    ],
    ["nginx@sha256:xyz", "'sha256:xyz' is not a digest like sha256:<64 hex digits>"],
    ["acme//app", "it has an empty path component (two '/' in a row, or a '/' at an end)"],
    ["acme/app/", "it has an empty path component (two '/' in a row, or a '/' at an end)"],
    [
      "acme/-app",
      "'-app' may hold only lowercase letters, digits and single separators ('.', '_', '__', '-')",
    ],
    ["bad_host.io:x/app", "'bad_host.io:x' is not a valid registry host"],
    [":1.0", "the repository name is missing"],
    [`${"a".repeat(256)}`, "the repository name is longer than 255 characters"],
  ];
  for (const [ref, reason] of cases) assert.equal(imageReferenceProblem(ref), reason, ref);
});
