import assert from "node:assert/strict";
import type { PortSpec, ServiceSpec } from "../state/types.ts";
import {
  MAX_FILE_BYTES,
  type ParseOptions,
  parseServiceFile,
  type Problem,
  validateServiceName,
} from "./mod.ts";

/** One invalid input and exactly the problems it must produce. */
interface Invalid {
  name: string;
  input: string | Uint8Array;
  options?: ParseOptions;
  problems: Problem[];
}

const KNOWN =
  "known keys are name, image, command, replicas, ports, env, volumes, placement, resources, healthcheck, binds, devices, hostNetwork, container";
const ONE = "name: web\nimage: nginx:1.25\n";

const INVALID: Invalid[] = [
  {
    name: "replicas as a string",
    input: `${ONE}replicas: "2"\n`,
    problems: [{
      path: "replicas",
      message: 'expected an integer from 0 to 100, found a string ("2")',
    }],
  },
  {
    name: "negative replicas",
    input: `${ONE}replicas: -1\n`,
    problems: [{
      path: "replicas",
      message: "expected an integer from 0 to 100, found the number -1",
    }],
  },
  {
    name: "too many replicas",
    input: `${ONE}replicas: 101\n`,
    problems: [{
      path: "replicas",
      message: "expected an integer from 0 to 100, found the number 101",
    }],
  },
  {
    name: "fractional replicas",
    input: `${ONE}replicas: 1.5\n`,
    problems: [{
      path: "replicas",
      message: "expected an integer from 0 to 100, found a number (1.5)",
    }],
  },
  {
    name: "name with capitals and underscore",
    input: "name: Web_App\nimage: nginx\n",
    problems: [{
      path: "name",
      message:
        "service name 'Web_App' may hold only lowercase letters a-z, digits and '-' (a DNS label), e.g. 'web-app'",
    }],
  },
  {
    name: "name with a leading dash",
    input: "name: -web\nimage: nginx\n",
    problems: [{
      path: "name",
      message: "service name '-web' must not start or end with '-' (a DNS label)",
    }],
  },
  {
    name: "name longer than 63",
    input: `name: ${"a".repeat(64)}\nimage: nginx\n`,
    problems: [{
      path: "name",
      message: "service name is 64 characters long; at most 63 are allowed (a DNS label)",
    }],
  },
  {
    name: "name as a number",
    input: "name: 42\nimage: nginx\n",
    problems: [{ path: "name", message: "service name must be a string, found the number 42" }],
  },
  {
    name: "missing name and image",
    input: "replicas: 2\n",
    problems: [
      { path: "name", message: "is missing; give the service a name such as whoami" },
      { path: "image", message: "is missing; give the image to run, e.g. traefik/whoami:v1.10" },
    ],
  },
  {
    name: "duplicate names in a list",
    input: "- name: web\n  image: nginx\n- name: web\n  image: caddy\n",
    problems: [{
      path: "[1].name",
      message: "service name 'web' is already used at [0].name; names are unique",
    }],
  },
  {
    name: "unknown key with a near miss",
    input: `${ONE}replica: 2\n`,
    problems: [{
      path: "replica",
      message: `unknown key 'replica' (did you mean 'replicas'?); ${KNOWN}`,
    }],
  },
  {
    name: "unknown key in a port",
    input: `${ONE}ports: [{ port: 80 }]\n`,
    problems: [
      {
        path: "ports[0].port",
        message:
          "unknown key 'port'; known keys are container, http, published, protocol, httpsRedirect",
      },
      { path: "ports[0].container", message: "is missing; give the port inside the container" },
    ],
  },
  {
    name: "container port out of range",
    input: `${ONE}ports: [{ container: 70000 }]\n`,
    problems: [{
      path: "ports[0].container",
      message: "expected an integer from 1 to 65535, found the number 70000",
    }],
  },
  {
    name: "published port zero",
    input: `${ONE}ports: [{ container: 80, published: 0 }]\n`,
    problems: [{
      path: "ports[0].published",
      message: "expected an integer from 1 to 65535, found the number 0",
    }],
  },
  {
    name: "two http ports",
    input: `${ONE}ports: [{ container: 80, http: true }, { container: 81, http: true }]\n`,
    problems: [{
      path: "ports[1].http",
      message:
        "a service has at most one http port, and ports[0].http is one already; serve the other port with published instead",
    }],
  },
  {
    name: "http as a string",
    input: `${ONE}ports: [{ container: 80, http: "yes" }]\n`,
    problems: [{
      path: "ports[0].http",
      message: 'expected true or false, found a string ("yes")',
    }],
  },
  {
    name: "httpsRedirect on a port that is not the HTTP port",
    input: `${ONE}ports: [{ container: 80, http: true }, { container: 22, published: 2222, ` +
      "httpsRedirect: true }]\n",
    problems: [{
      path: "ports[1].httpsRedirect",
      message: "only the HTTP port (http: true) can redirect to https",
    }],
  },
  {
    name: "httpsRedirect false on a port without http",
    input: `${ONE}ports: [{ container: 80, httpsRedirect: false }]\n`,
    problems: [{
      path: "ports[0].httpsRedirect",
      message: "only the HTTP port (http: true) can redirect to https",
    }],
  },
  {
    name: "httpsRedirect as a string",
    input: `${ONE}ports: [{ container: 80, http: true, httpsRedirect: "yes" }]\n`,
    problems: [{
      path: "ports[0].httpsRedirect",
      message: 'expected true or false, found a string ("yes")',
    }],
  },
  {
    name: "httpsRedirect as a number in JSON, beside an invalid http",
    input: JSON.stringify({
      name: "web",
      image: "nginx",
      ports: [{ container: 80, http: 1, httpsRedirect: 1 }],
    }),
    options: { contentType: "application/json" },
    problems: [
      { path: "ports[0].http", message: "expected true or false, found the number 1" },
      { path: "ports[0].httpsRedirect", message: "expected true or false, found the number 1" },
    ],
  },
  {
    name: "httpsRedirect on a published port in JSON",
    input: JSON.stringify({
      name: "web",
      image: "nginx",
      ports: [{ container: 22, published: 2222, httpsRedirect: true }],
    }),
    options: { filename: "web.json" },
    problems: [{
      path: "ports[0].httpsRedirect",
      message: "only the HTTP port (http: true) can redirect to https",
    }],
  },
  {
    name: "compose https_redirect on a service without an http port",
    input: "name: s\nservices:\n  db:\n    image: postgres\n    ports: ['5432:5432']\n" +
      "    x-fossora: { https_redirect: true }\n",
    problems: [{
      path: "services.db.x-fossora.https_redirect",
      message: "the service has no http port to redirect to https; give it one with x-fossora.http",
    }],
  },
  {
    name: "compose https_redirect as a string",
    input: "name: s\nservices:\n  web:\n    image: nginx\n    ports: ['80']\n" +
      "    x-fossora: { https_redirect: 'true' }\n",
    problems: [{
      path: "services.web.x-fossora.https_redirect",
      message: 'expected true or false, found a string ("true")',
    }],
  },
  {
    name: "duplicate container ports",
    input: `${ONE}ports: [{ container: 80 }, { container: 80, published: 8080 }]\n`,
    problems: [{
      path: "ports[1].container",
      message: "container port 80 is already listed at ports[0].container; list each port once",
    }],
  },
  {
    name: "published port used by two services",
    input:
      "services:\n  - name: a\n    image: x\n    ports: [{ container: 1, published: 2222 }]\n" +
      "  - name: b\n    image: y\n    ports: [{ container: 22, published: 2222 }]\n",
    problems: [{
      path: "services[1].ports[0].published",
      message:
        "published port 2222 is already used at services[0].ports[0].published; every published port is unique in the cluster",
    }],
  },
  {
    name: "image with whitespace",
    input: "name: web\nimage: nginx latest\n",
    problems: [{
      path: "image",
      message:
        "'nginx latest' is not a valid image reference: it contains whitespace; write it like traefik/whoami:v1.10",
    }],
  },
  {
    name: "image with capitals",
    input: "name: web\nimage: Nginx\n",
    problems: [{
      path: "image",
      message:
        "'Nginx' is not a valid image reference: repository names must be lowercase; write it like traefik/whoami:v1.10",
    }],
  },
  {
    name: "image as a list",
    input: "name: web\nimage: [nginx]\n",
    problems: [{
      path: "image",
      message: "expected an image reference such as traefik/whoami:v1.10, found a list",
    }],
  },
  {
    name: "command as a string in a fossora service",
    input: `${ONE}command: nginx -g daemon\n`,
    problems: [{
      path: "command",
      message:
        'expected a list of strings such as ["/whoami", "--port", "8080"], found a string ("nginx -g daemon")',
    }],
  },
  {
    name: "command with a number",
    input: `${ONE}command: [sleep, 10]\n`,
    problems: [{ path: "command[1]", message: "expected a string, found the number 10" }],
  },
  {
    name: "env with a bad key and a list value",
    input: `${ONE}env: { 1BAD: x, OK: [1] }\n`,
    problems: [
      {
        path: 'env["1BAD"]',
        message:
          "'1BAD' is not a valid environment variable name: use letters, digits and '_', not starting with a digit",
      },
      {
        path: "env.OK",
        message: "expected a string, a number or a boolean (quote it to be sure), found a list",
      },
    ],
  },
  {
    name: "env as a list",
    input: `${ONE}env: [A=1]\n`,
    problems: [{
      path: "env",
      message: "expected a mapping of variable to value such as { TZ: Europe/Paris }, found a list",
    }],
  },
  {
    name: "relative volume path",
    input: `${ONE}volumes: [{ name: config, path: config }]\n`,
    problems: [{
      path: "volumes[0].path",
      message:
        "'config' is not an absolute path; write the path inside the container, e.g. /config",
    }],
  },
  {
    name: "two volumes on one path",
    input: `${ONE}volumes: [{ name: a, path: /data }, { name: b, path: /data/ }]\n`,
    problems: [{
      path: "volumes[1].path",
      message: "path /data/ is already mounted by volumes[0].path; mount one thing per path",
    }],
  },
  {
    name: "volume name with underscore",
    input: `${ONE}volumes: [{ name: my_data, path: /data }]\n`,
    problems: [{
      path: "volumes[0].name",
      message:
        "volume name 'my_data' may hold only lowercase letters a-z, digits and '-' (a DNS label), e.g. 'my-data'",
    }],
  },
  {
    name: "unknown arch with the Docker name",
    input: `${ONE}placement: { arch: [x86_64] }\n`,
    problems: [{
      path: "placement.arch[0]",
      message:
        "unknown architecture 'x86_64'; known architectures are amd64, arm64, arm, 386, riscv64, ppc64le, s390x; Docker calls 'x86_64' 'amd64'",
    }],
  },
  {
    name: "empty sites",
    input: `${ONE}placement: { sites: [] }\n`,
    problems: [{
      path: "placement.sites",
      message: "is an empty list, which no node matches; remove it to allow any",
    }],
  },
  {
    name: "compose key fossora cannot honour",
    input: "name: s\nservices:\n  web:\n    image: nginx\n    ipc: host\n",
    problems: [{
      path: "services.web.ipc",
      message: "is not supported: containers of a stack do not share an IPC namespace across nodes",
    }],
  },
  {
    name: "compose depends_on a service the file lacks, and a healthcheck with a bad value",
    input: "name: s\nservices:\n  web:\n    image: nginx\n    depends_on: [cache]\n" +
      "    healthcheck: { retries: -1 }\n  db:\n    image: postgres\n",
    problems: [
      {
        path: "services.web.healthcheck.retries",
        message: "expected an integer from 0 to 1000, found the number -1",
      },
      {
        path: "services.web.depends_on[0]",
        message: "'cache' is not a service of this file; list services of the file only",
      },
    ],
  },
  {
    name: "compose network_mode of another service",
    input: "name: s\nservices:\n  web:\n    image: nginx\n    network_mode: 'container:vpn'\n",
    problems: [{
      path: "services.web.network_mode",
      message:
        "'container:vpn' shares another container's network, which fossora cannot do across nodes: remove it and reach the other service by name",
    }],
  },
  {
    name: "compose mount with an option Docker does not know",
    input: "name: s\nservices:\n  web:\n    image: nginx\n    volumes: [/srv/data:/data:bogus]\n",
    problems: [{
      path: "services.web.volumes[0]",
      message: "volume option 'bogus' is not one Docker knows (ro, rw, z, Z, nocopy…); remove it",
    }],
  },
  {
    name: "compose service without image",
    input: "name: s\nservices:\n  web:\n    command: [sh]\n",
    problems: [{
      path: "services.web.image",
      message: "is missing: give the image to run, e.g. image: nginx:1.27",
    }],
  },
  {
    name: "compose required variable unset",
    input: "name: s\nservices:\n  db:\n    image: postgres\n    environment:\n" +
      "      PASSWORD: ${DB_PASSWORD:?give the database a password}\n",
    problems: [{
      path: "services.db.environment.PASSWORD",
      message:
        "needs the variable DB_PASSWORD set and not empty: give the database a password; set it in your environment or in .env beside the file",
    }],
  },
  {
    name: "compose without a stack name",
    input: "services:\n  db:\n    image: postgres\n",
    problems: [{
      path: "",
      message:
        "the stack has no name: deploy it with `fossora deploy FILE --stack NAME` (or ?stack=NAME), or add name: NAME at the top of the file",
    }],
  },
  {
    name: "compose service name that cannot be made a DNS label",
    input: "services:\n  _:\n    image: nginx\n",
    options: { stack: "s" },
    problems: [{
      path: "services._",
      message: "'_' cannot be made a DNS name; name the service with letters, digits and '-'",
    }],
  },
  {
    name: "services that is neither a list nor a mapping",
    input: "services: web\n",
    problems: [{
      path: "services",
      message:
        'expected a list of services, or a compose mapping of name to definition, found a string ("web")',
    }],
  },
  {
    name: "list form with another top-level key",
    input: "version: 1\nservices:\n  - name: web\n    image: nginx\n",
    problems: [{
      path: "version",
      message: "unknown key 'version'; a file with a list of services holds only 'services'",
    }],
  },
  {
    name: "empty list of services",
    input: "services: []\n",
    problems: [{
      path: "",
      message:
        "file defines no services; write a service (a mapping with name and image), a list of services, or a docker-compose file with services:",
    }],
  },
  {
    name: "a scalar in a list of services",
    input: "- web\n",
    problems: [{
      path: "[0]",
      message: 'expected a service: a mapping with at least name and image, found a string ("web")',
    }],
  },
  {
    name: "input over 1 MiB",
    input: `${ONE}# ${"x".repeat(MAX_FILE_BYTES)}\n`,
    problems: [{
      path: "",
      message: `file is ${
        MAX_FILE_BYTES + ONE.length + 3
      } bytes; the limit is 1 MiB (1048576 bytes): split it into smaller files`,
    }],
  },
  {
    name: "bytes that are not UTF-8",
    input: new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]),
    problems: [{ path: "", message: "file is not valid UTF-8; save it as UTF-8 text" }],
  },
  {
    name: "empty file",
    input: "  \n\n",
    problems: [{
      path: "",
      message:
        "file is empty; write a service (a mapping with name and image), a list of services, or a docker-compose file with services:",
    }],
  },
  {
    name: "YAML syntax error",
    input: "name: web\nimage: nginx\nports: [{ container: 80 }\n",
    problems: [{
      path: "",
      message:
        "YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]",
    }],
  },
  {
    name: "duplicate YAML key",
    input: "name: web\nimage: nginx\nname: api\n",
    problems: [{
      path: "",
      message: "YAML syntax error at line 3, column 1: Map keys must be unique",
    }],
  },
  {
    name: "two YAML documents",
    input: `${ONE}---\nname: api\nimage: caddy\n`,
    problems: [{
      path: "",
      message:
        "file holds 2 YAML documents (separated by ---); only one document is allowed: put the services in one list instead",
    }],
  },
  {
    name: "alias bomb",
    input: 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' +
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
      "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
    problems: [{
      path: "",
      message: "YAML aliases expand too much (more than 50); write the values out instead",
    }],
  },
  {
    name: "top-level scalar",
    input: "just a string\n",
    problems: [{
      path: "",
      message:
        'file holds a string ("just a string"); expected a service (a mapping with name and image), a list of services, or a docker-compose file with services:',
    }],
  },
  {
    name: "JSON syntax error reported as JSON",
    input: '{"name": "web", "image": "nginx",}',
    options: { filename: "web.json" },
    problems: [{
      path: "",
      message:
        "file is not valid JSON: Expected double-quoted property name in JSON at position 33 (line 1 column 34)",
    }],
  },
];

Deno.test("every invalid file is refused with exactly its problems, by path", async (t) => {
  assert.ok(INVALID.length >= 25);
  for (const c of INVALID) {
    await t.step(c.name, () => {
      const result = parseServiceFile(c.input, c.options);
      assert.equal(result.ok, false, `accepted: ${JSON.stringify(result)}`);
      if (!result.ok) assert.deepEqual(result.problems, c.problems);
    });
  }
});

/** One valid input and the ports it must give. */
interface ValidPorts {
  name: string;
  input: string;
  options?: ParseOptions;
  ports: PortSpec[];
}

const REDIRECTS: ValidPorts[] = [
  {
    name: "YAML, on the HTTP port",
    input: `${ONE}ports: [{ container: 80, http: true, httpsRedirect: true }, ` +
      "{ container: 22, published: 2222 }]\n",
    ports: [
      { container: 80, http: true, httpsRedirect: true },
      { container: 22, http: false, published: 2222 },
    ],
  },
  {
    name: "YAML, on a port that is http and published",
    input: `${ONE}ports: [{ container: 80, http: true, published: 8080, httpsRedirect: true }]\n`,
    ports: [{ container: 80, http: true, published: 8080, httpsRedirect: true }],
  },
  {
    name: "JSON, on the HTTP port",
    input: JSON.stringify({
      name: "web",
      image: "nginx:1.25",
      ports: [{ container: 80, http: true, httpsRedirect: true }],
    }),
    options: { contentType: "application/json" },
    ports: [{ container: 80, http: true, httpsRedirect: true }],
  },
  {
    name: "compose, on the first container-only port",
    input: "name: s\nservices:\n  web:\n    image: nginx:1.25\n    ports: ['2222:22', '80']\n" +
      "    x-fossora: { https_redirect: true }\n",
    ports: [
      { container: 22, http: false, published: 2222 },
      { container: 80, http: true, httpsRedirect: true },
    ],
  },
  {
    name: "compose, on the port x-fossora.http adds",
    input: "services:\n  web:\n    image: nginx:1.25\n" +
      "    x-fossora: { http: 3000, https_redirect: true }\n",
    options: { stack: "s" },
    ports: [{ container: 3000, http: true, httpsRedirect: true }],
  },
  {
    name: "YAML false is stored as absent",
    input: `${ONE}ports: [{ container: 80, http: true, httpsRedirect: false }]\n`,
    ports: [{ container: 80, http: true }],
  },
  {
    name: "compose false is stored as absent",
    input: "name: s\nservices:\n  web:\n    image: nginx:1.25\n    ports: ['80']\n" +
      "    x-fossora: { https_redirect: false }\n",
    ports: [{ container: 80, http: true }],
  },
  {
    name: "absent stays absent",
    input: `${ONE}ports: [{ container: 80, http: true }]\n`,
    ports: [{ container: 80, http: true }],
  },
];

Deno.test("httpsRedirect is read on the HTTP port, and stored only when true", async (t) => {
  for (const c of REDIRECTS) {
    await t.step(c.name, () => {
      const result = parseServiceFile(c.input, c.options);
      assert.ok(result.ok, `refused: ${JSON.stringify(result)}`);
      assert.deepEqual(result.services.map((s) => s.ports), [c.ports]);
      // Byte for byte, as stored in etcd: no `httpsRedirect: false` nor undefined key.
      assert.equal(JSON.stringify(result.services[0].ports), JSON.stringify(c.ports));
    });
  }
});

Deno.test("the SPEC example gives the full service", () => {
  const yaml = `
name: whoami                 # DNS label: [a-z0-9-], 1..63, unique
image: traefik/whoami:v1.10
command: ["/whoami", "--port", "8080"]   # optional
replicas: 1                  # default 1
ports:
  - container: 8080          # port inside the container
    http: true               # served at http://whoami.DOMAIN/ by every node's proxy
  - container: 25565
    published: 25565         # TCP port every node forwards to a live replica
env: { TZ: Europe/Paris }
volumes:
  - name: config             # named volume, kept by the cluster
    path: /config
placement:
  arch: [arm64, amd64]       # default: any node whose engine can run the image
  sites: [home-a]
  labels: { disk: ssd }
`;
  const expected: ServiceSpec = {
    name: "whoami",
    image: "traefik/whoami:v1.10",
    command: ["/whoami", "--port", "8080"],
    replicas: 1,
    ports: [{ container: 8080, http: true }, { container: 25565, http: false, published: 25565 }],
    env: { TZ: "Europe/Paris" },
    volumes: [{ name: "config", path: "/config" }],
    placement: { arch: ["arm64", "amd64"], sites: ["home-a"], labels: { disk: "ssd" } },
  };
  assert.deepEqual(parseServiceFile(yaml), { ok: true, services: [expected], warnings: [] });
});

Deno.test("a compose file with two services gives both, with defaults and warnings", () => {
  const compose = `
version: "3.8"
name: site
services:
  web:
    image: nginx:1.25
    command: nginx -g 'daemon off;'
    ports: ["80"]
    environment:
      - TZ=Europe/Paris
    volumes: ["html:/usr/share/nginx/html"]
    deploy: { replicas: 1 }
  db:
    image: postgres:16
    environment: { POSTGRES_PASSWORD: secret, PGPORT: 5432 }
    ports: ["5432:5432"]
    volumes:
      - { type: volume, source: pgdata, target: /var/lib/postgresql/data }
volumes:
  html:
  pgdata: {}
`;
  const web: ServiceSpec = {
    name: "web.site",
    image: "nginx:1.25",
    command: ["nginx", "-g", "daemon off;"],
    replicas: 1,
    ports: [{ container: 80, http: true }],
    env: { TZ: "Europe/Paris" },
    volumes: [{ name: "html", path: "/usr/share/nginx/html" }],
    placement: {},
    stack: "site",
    front: true,
  };
  const db: ServiceSpec = {
    name: "db.site",
    image: "postgres:16",
    replicas: 1,
    // db has no http port, so the node checks whether its published one answers HTTP.
    ports: [{ container: 5432, http: false, published: 5432, detectHttp: true }],
    env: { POSTGRES_PASSWORD: "secret", PGPORT: "5432" },
    volumes: [{ name: "pgdata", path: "/var/lib/postgresql/data" }],
    placement: {},
    stack: "site",
  };
  assert.deepEqual(parseServiceFile(compose, { filename: "docker-compose.yml" }), {
    ok: true,
    services: [web, db],
    warnings: ["version: is obsolete in compose files and is ignored"],
    stack: { name: "site", files: {} },
  });
});

Deno.test("JSON sent as application/json gives the service with every default", () => {
  const body = new TextEncoder().encode(
    JSON.stringify({ name: "api", image: "ghcr.io/acme/api:2" }),
  );
  assert.deepEqual(parseServiceFile(body, { contentType: "application/json; charset=utf-8" }), {
    ok: true,
    services: [{
      name: "api",
      image: "ghcr.io/acme/api:2",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
    }],
    warnings: [],
  });
});

Deno.test("a list of services and the services-list form give the same services", () => {
  const list = "- name: a\n  image: busybox\n  replicas: 0\n- name: b\n  image: busybox\n" +
    "  env: { DEBUG: true }\n";
  const wrapped = "services:\n" + list.replace(/^/gm, "  ");
  const expected: ServiceSpec[] = [
    { name: "a", image: "busybox", replicas: 0, ports: [], env: {}, volumes: [], placement: {} },
    {
      name: "b",
      image: "busybox",
      replicas: 1,
      ports: [],
      env: { DEBUG: "true" },
      volumes: [],
      placement: {},
    },
  ];
  assert.deepEqual(parseServiceFile(list), { ok: true, services: expected, warnings: [] });
  assert.deepEqual(parseServiceFile(wrapped), { ok: true, services: expected, warnings: [] });
});

Deno.test("validateServiceName accepts DNS labels and explains the rest", () => {
  assert.equal(validateServiceName("whoami"), undefined);
  assert.equal(validateServiceName("a-1"), undefined);
  assert.equal(validateServiceName(""), "service name is empty; it must be 1 to 63 characters");
  assert.equal(
    validateServiceName("web-"),
    "service name 'web-' must not start or end with '-' (a DNS label)",
  );
  assert.equal(
    validateServiceName(null),
    "service name must be a string, found null (an empty value)",
  );
});
