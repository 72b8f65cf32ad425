import assert from "node:assert/strict";
import {
  composeCommand,
  composeEnvironment,
  composePorts,
  type Lookup,
  parseEnvFile,
  splitCommand,
} from "./compose_fields.ts";
import type { Problems } from "./problems.ts";

/** What a reader reports to, fresh for each case. */
function sink(): { problems: Problems; warnings: Problems } {
  return { problems: [], warnings: [] };
}

const none: Lookup = () => undefined;

Deno.test("splitCommand splits words like a shell, with quotes and escapes", () => {
  assert.deepEqual(splitCommand("nginx -g 'daemon off;'"), ["nginx", "-g", "daemon off;"]);
  assert.deepEqual(splitCommand('sh -c "echo \\"hi\\" there"'), ["sh", "-c", 'echo "hi" there']);
  assert.deepEqual(splitCommand("  a\tb\n c  "), ["a", "b", "c"]);
  assert.deepEqual(splitCommand("a\\ b ''"), ["a b", ""]);
  assert.deepEqual(splitCommand("x'y z'w"), ["xy zw"]);
  assert.deepEqual(splitCommand("it's"), { error: "the quote ' is never closed" });
});

Deno.test("command strings are split, lists kept, empty ones refused", () => {
  const out: Problems = [];
  assert.deepEqual(composeCommand("sleep 10", "c", out), ["sleep", "10"]);
  // Variables and `$$` are filled for the whole file before fields are read, so a `$` here is
  // already literal.
  assert.deepEqual(composeCommand(["echo", "$HOME"], "c", out), ["echo", "$HOME"]);
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
  const out = sink();
  assert.deepEqual(composeEnvironment({ A: 1, B: "x=y", C: false }, "e", none, out), {
    A: "1",
    B: "x=y",
    C: "false",
  });
  assert.deepEqual(composeEnvironment(["A=1", "B=", "C=x=y"], "e", none, out), {
    A: "1",
    B: "",
    C: "x=y",
  });
  assert.deepEqual(out, sink());
  composeEnvironment(["A=1", "A=2", 3, "=1", "A B=1"], "l", none, out);
  assert.deepEqual(out.problems, [
    { path: "l[1]", message: "'A' is set twice; keep one" },
    { path: "l[2]", message: "expected a string KEY=VALUE, found the number 3" },
    { path: "l[3]", message: "has an empty variable name; write NAME=value" },
    {
      path: "l[4]",
      message: "'A B' cannot be a variable name: it holds '=', a space or a NUL; rename it",
    },
  ]);
});

Deno.test("an environment key without a value takes the variable of that name, or is left out with a warning", () => {
  const out = sink();
  const lookup: Lookup = (name) => name === "TZ" ? "Europe/Paris" : undefined;
  assert.deepEqual(composeEnvironment({ TZ: null, PUID: null }, "m", lookup, out), {
    TZ: "Europe/Paris",
  });
  assert.deepEqual(composeEnvironment(["TZ", "PUID"], "l", lookup, out), { TZ: "Europe/Paris" });
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.warnings.map((w) => w.path), ["m.PUID", "l[1]"]);
  assert.match(out.warnings[0].message, /^'PUID' has no value and is not set .* write PUID=value/);
});

Deno.test("environment keys with dots are accepted, as Docker passes them (Java apps read them)", () => {
  const out = sink();
  const env = composeEnvironment(
    { "spring.datasource.url": "jdbc:postgresql://db/app", "my-var": "1" },
    "e",
    none,
    out,
  );
  assert.deepEqual(out, sink());
  assert.deepEqual(env, { "spring.datasource.url": "jdbc:postgresql://db/app", "my-var": "1" });
});

Deno.test("an environment list item that is a one-key mapping is read as KEY=VALUE, with a warning", () => {
  const out = sink();
  // Pi-hole's README writes `- TZ: 'America/Chicago'`.
  const env = composeEnvironment(
    [{ TZ: "America/Chicago" }, "X=1", { A: 1, B: 2 }],
    "e",
    none,
    out,
  );
  assert.deepEqual(env, { TZ: "America/Chicago", X: "1" });
  assert.deepEqual(out.warnings, [{
    path: "e[0]",
    message: "is a mapping in a list; read as TZ=…, as meant (write TZ=VALUE)",
  }]);
  assert.deepEqual(out.problems, [{
    path: "e[2]",
    message: "expected a string KEY=VALUE, found a mapping",
  }]);
});

Deno.test("parseEnvFile reads lines as docker compose does: comments, export, quotes, inline comments, empty values", () => {
  const out = sink();
  const text = [
    "# a comment",
    "",
    "export A=1",
    'B="two\\nlines"',
    "C='single\\n kept'",
    "D=value # a comment after a space",
    "E=",
    "F=a#b",
    '  G = "quoted # not a comment"  ',
    "H=x=y",
    "EXPORTED_NAME=exportless",
  ].join("\r\n");
  assert.deepEqual(parseEnvFile(text, "env_file", none, out), {
    A: "1",
    B: "two\nlines",
    C: "single\\n kept",
    D: "value",
    E: "",
    F: "a#b",
    G: "quoted # not a comment",
    H: "x=y",
    EXPORTED_NAME: "exportless",
  });
  assert.deepEqual(out, sink());
});

Deno.test("parseEnvFile fills ${VAR} from the lines above and the environment, except in single quotes", () => {
  const out = sink();
  const lookup: Lookup = (name) => name === "DOMAIN" ? "home.arpa" : undefined;
  const text = [
    "USER=app",
    "URL=https://${DOMAIN}/$USER",
    'QUOTED="${USER:-x}@${DOMAIN}"',
    "LITERAL='${USER}'",
    "FALLBACK=${MISSING:-none}",
    "EMPTY=${UNSET}",
  ].join("\n");
  assert.deepEqual(parseEnvFile(text, "f", lookup, out), {
    USER: "app",
    URL: "https://home.arpa/app",
    QUOTED: "app@home.arpa",
    LITERAL: "${USER}",
    FALLBACK: "none",
    EMPTY: "",
  });
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.warnings.map((w) => w.path), ["f line 6"]);
  assert.match(out.warnings[0].message, /^the variable UNSET is not set/);
  const required = sink();
  parseEnvFile("A=${NEEDED:?set NEEDED}", "f", lookup, required);
  assert.deepEqual(required.problems.map((p) => p.path), ["f line 1"]);
});

Deno.test("parseEnvFile: a bare name takes the variable, a name twice is a problem, by line", () => {
  const out = sink();
  const lookup: Lookup = (name) => name === "HOME_DIR" ? "/home/me" : undefined;
  const env = parseEnvFile("HOME_DIR\nUNSET\nA=1\nA=2\n", "f", lookup, out);
  assert.deepEqual(env, { HOME_DIR: "/home/me", A: "1" });
  assert.deepEqual(out.warnings.map((w) => w.path), ["f line 2"]);
  assert.deepEqual(out.problems, [{ path: "f line 4", message: "'A' is set twice; keep one" }]);
});

Deno.test("port entries in every compose form", () => {
  const out = sink();
  const read = (value: unknown) => composePorts(value, "p", out);
  assert.deepEqual(read(80), [{ container: 80 }]);
  assert.deepEqual(read("80"), [{ container: 80 }]);
  assert.deepEqual(read("8080:80"), [{ container: 80, published: 8080 }]);
  assert.deepEqual(read("8080:80/tcp"), [{ container: 80, published: 8080 }]);
  assert.deepEqual(read("0.0.0.0:8080:80"), [{ container: 80, published: 8080 }]);
  assert.deepEqual(read("[::]:8080:80"), [{ container: 80, published: 8080 }]);
  assert.deepEqual(read("0.0.0.0::80"), [{ container: 80 }]);
  assert.deepEqual(read({ target: 80, published: "8080", protocol: "tcp" }), [
    { container: 80, published: 8080 },
  ]);
  assert.deepEqual(read({ target: 443 }), [{ container: 443 }]);
  assert.deepEqual(read("5353:53/udp"), [{ container: 53, published: 5353, protocol: "udp" }]);
  assert.deepEqual(read({ target: 53, published: 53, protocol: "udp" }), [
    { container: 53, published: 53, protocol: "udp" },
  ]);
  assert.deepEqual(out, sink());
});

Deno.test("a port range gives one entry per port", () => {
  const out = sink();
  assert.deepEqual(composePorts("8000-8002:8000-8002", "p", out), [
    { container: 8000, published: 8000 },
    { container: 8001, published: 8001 },
    { container: 8002, published: 8002 },
  ]);
  assert.deepEqual(composePorts("9000-9001:8000-8001/udp", "p", out), [
    { container: 8000, published: 9000, protocol: "udp" },
    { container: 8001, published: 9001, protocol: "udp" },
  ]);
  assert.deepEqual(composePorts("3000-3001", "p", out), [{ container: 3000 }, {
    container: 3001,
  }]);
  assert.deepEqual(out, sink());
});

Deno.test("a port bound to loopback is not published, with a warning; another address is widened, with a warning", () => {
  const out = sink();
  assert.deepEqual(composePorts("127.0.0.1:5432:5432", "a", out), [{ container: 5432 }]);
  assert.deepEqual(composePorts("[::1]:8080:80", "b", out), [{ container: 80 }]);
  assert.deepEqual(composePorts({ target: 80, published: 8080, host_ip: "127.0.0.1" }, "c", out), [
    { container: 80 },
  ]);
  assert.deepEqual(composePorts("192.168.1.5:9000:9000", "d", out), [
    { container: 9000, published: 9000 },
  ]);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.warnings.map((w) => w.path), ["a", "b", "c.host_ip", "d"]);
  assert.match(out.warnings[0].message, /^is bound to 127\.0\.0\.1, the machine itself, so /);
  assert.match(out.warnings[1].message, /^is bound to ::1, the machine itself/);
  assert.equal(
    out.warnings[3].message,
    "is bound to 192.168.1.5 in the file; fossora publishes it on every node's address",
  );
});

Deno.test("the long form's mode is ignored with a warning: every node forwards the port", () => {
  const out = sink();
  assert.deepEqual(composePorts({ target: 80, published: 8080, mode: "host" }, "p", out), [
    { container: 80, published: 8080 },
  ]);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.warnings.map((w) => w.path), ["p.mode"]);
});

Deno.test("a UDP port without a host port is kept for the stack's services", () => {
  for (const value of ["53/udp", { target: 53, protocol: "udp" }]) {
    const out = sink();
    assert.deepEqual(composePorts(value, "p", out), [{ container: 53, protocol: "udp" }]);
    assert.deepEqual(out.problems, []);
  }
});

Deno.test("port entries fossora cannot honour are refused with a reason", () => {
  const cases: [unknown, string, string][] = [
    ["80/sctp", "p", 'expected the protocol tcp or udp, found a string ("sctp")'],
    [
      "http",
      "p",
      "'http' has container port 'http'; a port is an integer from 1 to 65535, a range is FIRST-LAST",
    ],
    [
      "99999:80",
      "p",
      "'99999:80' has host port '99999'; a port is an integer from 1 to 65535, a range is FIRST-LAST",
    ],
    [
      "8000-8001:9000",
      "p",
      "'8000-8001:9000' maps 2 host ports to 1 container ports; give ranges of the same length",
    ],
    ["1-2000", "p", "'1-2000' names 2000 ports; at most 1000 a range"],
    [
      { target: 80, published: 8080, host_ip: ["127.0.0.1"] },
      "p.host_ip",
      "expected an IP address such as 192.168.1.5, found a list",
    ],
    [
      "1:2:3:4",
      "p",
      `'1:2' is not an IP address to bind the port to; write HOST:CONTAINER, e.g. "8080:80"`,
    ],
    [
      "localhost:8080:80",
      "p",
      `'localhost' is not an IP address to bind the port to; write HOST:CONTAINER, e.g. "8080:80"`,
    ],
    [
      { target: 80, published: 8080, host_ip: "nas" },
      "p.host_ip",
      `'nas' is not an IP address to bind the port to; write HOST:CONTAINER, e.g. "8080:80"`,
    ],
    [0, "p", "expected an integer from 1 to 65535, found the number 0"],
    [{ published: 80 }, "p.target", "is missing; give the port inside the container"],
    [
      { target: 80, nope: 1 },
      "p.nope",
      "fossora does not understand this compose key; remove it",
    ],
    [
      true,
      "p",
      'expected a port such as "8080:80" or { target: 80, published: 8080 }, found a boolean (true)',
    ],
  ];
  for (const [value, path, message] of cases) {
    const out = sink();
    assert.deepEqual(composePorts(value, "p", out), [], JSON.stringify(value));
    assert.deepEqual(out.problems, [{ path, message }], JSON.stringify(value));
  }
});
