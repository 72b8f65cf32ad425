import assert from "node:assert/strict";
import {
  composeCommand,
  composeEnvironment,
  composePort,
  composeVolume,
  interpolate,
  splitCommand,
} from "./compose_fields.ts";
import type { Problems } from "./problems.ts";

Deno.test("splitCommand splits words like a shell, with quotes and escapes", () => {
  assert.deepEqual(splitCommand("nginx -g 'daemon off;'"), ["nginx", "-g", "daemon off;"]);
  assert.deepEqual(splitCommand('sh -c "echo \\"hi\\" there"'), ["sh", "-c", 'echo "hi" there']);
  assert.deepEqual(splitCommand("  a\tb\n c  "), ["a", "b", "c"]);
  assert.deepEqual(splitCommand("a\\ b ''"), ["a b", ""]);
  assert.deepEqual(splitCommand("x'y z'w"), ["xy zw"]);
  assert.deepEqual(splitCommand("it's"), { error: "the quote ' is never closed" });
});

Deno.test("interpolate keeps $$ as $ and refuses variables", () => {
  const out: Problems = [];
  assert.equal(interpolate("a$$b $ 5$", "p", out), "a$b $ 5$");
  assert.equal(interpolate("x-$HOME/y", "q", out), undefined);
  assert.equal(interpolate("${TAG:-latest}", "r", out), undefined);
  assert.equal(interpolate("${OPEN", "s", out), undefined);
  assert.deepEqual(out.map((p) => p.path), ["q", "r", "s"]);
  assert.match(out[0].message, /^uses the variable \$HOME, /);
  assert.match(out[1].message, /^uses the variable \$\{TAG:-latest\}, /);
  assert.match(out[2].message, /^uses the variable \$\{OPEN, /);
});

Deno.test("command strings are split, lists kept, empty ones refused", () => {
  const out: Problems = [];
  assert.deepEqual(composeCommand("sleep 10", "c", out), ["sleep", "10"]);
  assert.deepEqual(composeCommand(["echo", "$$HOME"], "c", out), ["echo", "$HOME"]);
  assert.deepEqual(out, []);
  assert.equal(composeCommand("  ", "a", out), undefined);
  assert.equal(composeCommand('echo "hi', "b", out), undefined);
  assert.equal(composeCommand({}, "d", out), undefined);
  assert.deepEqual(out, [
    { path: "a", message: "is empty; remove it to run the image's own command" },
    { path: "b", message: 'cannot be split into arguments: the quote " is never closed' },
    { path: "d", message: "expected a string or a list of strings, found a mapping" },
  ]);
});

Deno.test("environment as a mapping or as KEY=VALUE lines", () => {
  const out: Problems = [];
  assert.deepEqual(composeEnvironment({ A: 1, B: "x=y", C: false }, "e", out), {
    A: "1",
    B: "x=y",
    C: "false",
  });
  assert.deepEqual(composeEnvironment(["A=1", "B=", "C=x=y"], "e", out), {
    A: "1",
    B: "",
    C: "x=y",
  });
  assert.deepEqual(out, []);
  composeEnvironment({ A: null }, "m", out);
  composeEnvironment(["A=1", "A=2", 3, "-X=1"], "l", out);
  assert.deepEqual(out, [
    {
      path: "m.A",
      message:
        "'A' has no value, so docker compose would take it from the shell, which fossora does not have: write A=value",
    },
    { path: "l[1]", message: "'A' is set twice; keep one" },
    { path: "l[2]", message: "expected a string KEY=VALUE, found the number 3" },
    {
      path: "l[3]",
      message:
        "'-X' is not a valid environment variable name: use letters, digits and '_', not starting with a digit",
    },
  ]);
});

Deno.test("port entries in every compose form", () => {
  const out: Problems = [];
  const read = (value: unknown) => composePort(value, "p", out);
  assert.deepEqual(read(80), { container: 80 });
  assert.deepEqual(read("80"), { container: 80 });
  assert.deepEqual(read("8080:80"), { container: 80, published: 8080 });
  assert.deepEqual(read("8080:80/tcp"), { container: 80, published: 8080 });
  assert.deepEqual(read("0.0.0.0:8080:80"), { container: 80, published: 8080 });
  assert.deepEqual(read("[::]:8080:80"), { container: 80, published: 8080 });
  assert.deepEqual(read("0.0.0.0::80"), { container: 80 });
  assert.deepEqual(read({ target: 80, published: "8080", protocol: "tcp" }), {
    container: 80,
    published: 8080,
  });
  assert.deepEqual(read({ target: 443 }), { container: 443 });
  assert.deepEqual(read("5353:53/udp"), { container: 53, published: 5353, protocol: "udp" });
  assert.deepEqual(read({ target: 53, published: 53, protocol: "udp" }), {
    container: 53,
    published: 53,
    protocol: "udp",
  });
  assert.deepEqual(out, []);
});

Deno.test("port entries fossora cannot honour are refused with a reason", () => {
  const cases: [unknown, string, string][] = [
    [
      "127.0.0.1:5432:5432",
      "p",
      "binds host address 127.0.0.1, but fossora publishes ports on every node's address: remove the address to publish it on every node, or remove this port to keep it unpublished",
    ],
    [
      "53/udp",
      "p",
      'UDP port 53 has no host port; write "53:53/udp" to publish it on every node',
    ],
    ["80/sctp", "p", 'expected the protocol tcp or udp, found a string ("sctp")'],
    ["3000-3005", "p", "'3000-3005' uses a port range; fossora needs one entry per port"],
    ["http", "p", "'http' has container port 'http'; a port is an integer from 1 to 65535"],
    ["99999:80", "p", "'99999:80' has host port '99999'; a port is an integer from 1 to 65535"],
    [0, "p", "expected an integer from 1 to 65535, found the number 0"],
    [{ published: 80 }, "p.target", "is missing; give the port inside the container"],
    [
      { target: 80, mode: "host" },
      "p.mode",
      "fossora does not understand this compose key; remove it",
    ],
    [
      { target: 80, protocol: "udp" },
      "p.protocol",
      'UDP port 80 has no host port; write "80:80/udp" to publish it on every node',
    ],
    [
      true,
      "p",
      'expected a port such as "8080:80" or { target: 80, published: 8080 }, found a boolean (true)',
    ],
  ];
  for (const [value, path, message] of cases) {
    const out: Problems = [];
    assert.equal(composePort(value, "p", out), undefined, JSON.stringify(value));
    assert.deepEqual(out, [{ path, message }], JSON.stringify(value));
  }
});

Deno.test("volume entries: named ones are read, everything else refused", () => {
  const out: Problems = [];
  assert.deepEqual(composeVolume("data:/data", "v", out), { name: "data", path: "/data" });
  assert.deepEqual(composeVolume("data:/data:rw", "v", out), { name: "data", path: "/data" });
  assert.deepEqual(
    composeVolume({ type: "volume", source: "db", target: "/db", read_only: false }, "v", out),
    {
      name: "db",
      path: "/db",
    },
  );
  assert.deepEqual(out, []);
  const refused: [unknown, string, string][] = [
    [
      "/srv/app:/app",
      "v",
      "'/srv/app:/app' is a bind mount of a host path; fossora keeps named volumes only, because a host's files are not on the other nodes: use a named volume such as \"app:/app\" and declare app under the top-level volumes",
    ],
    [
      "~/x:/x",
      "v",
      "'~/x:/x' is a bind mount of a host path; fossora keeps named volumes only, because a host's files are not on the other nodes: use a named volume such as \"x:/x\" and declare x under the top-level volumes",
    ],
    [
      { type: "bind", source: "./a", target: "/a" },
      "v.type",
      'this is a bind mount of a host path; fossora keeps named volumes only, because a host\'s files are not on the other nodes: use a named volume such as "a:/a" and declare a under the top-level volumes',
    ],
    [
      "/cache",
      "v",
      "'/cache' is an anonymous volume; fossora keeps named volumes only: write NAME:/cache and declare NAME under the top-level volumes",
    ],
    [
      "data:/data:ro",
      "v",
      "read-only mounts are not supported: fossora mounts volumes read-write; remove ':ro'",
    ],
    ["data:/data:z", "v", "volume option 'z' is not understood; remove it"],
    ["a:b:c:d", "v", "'a:b:c:d' is not a volume; write NAME:/path, e.g. \"data:/data\""],
    [
      { type: "tmpfs", target: "/t" },
      "v.type",
      'expected volume, found a string ("tmpfs"); fossora keeps named volumes only',
    ],
    [
      { source: "a", target: "/a" },
      "v.type",
      "is missing; write type: volume (fossora keeps named volumes only)",
    ],
    [
      { type: "volume", source: "a", target: "/a", read_only: true },
      "v.read_only",
      "read-only mounts are not supported: fossora mounts volumes read-write; remove it",
    ],
    [
      { type: "volume", source: "a", target: "/a", volume: { nocopy: true } },
      "v.volume",
      "fossora does not understand this compose key; remove it",
    ],
  ];
  for (const [value, path, message] of refused) {
    const problems: Problems = [];
    assert.equal(composeVolume(value, "v", problems), undefined, JSON.stringify(value));
    assert.deepEqual(problems, [{ path, message }], JSON.stringify(value));
  }
});
