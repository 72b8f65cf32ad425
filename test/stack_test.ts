/**
 * A docker-compose file deployed as a stack on a real agent, through the CLI as a user runs it:
 * the file is read as written (restart, container_name, ${VAR:-default}, .env, env_file), its
 * services are SERVICE.STACK and its front is STACK.DOMAIN, a second stack with the same
 * service names does not collide, a redeploy changes only what changed, and `fossora rm STACK`
 * removes all of it.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const COMPOSE = `services:
  web:
    image: fossora-test/busybox:1
    restart: unless-stopped
    container_name: web
    command: ["sh", "-c", "echo \\"$$GREETING from \${WHO:-nobody} in \${PLACE:-the default place}\\" > /www/index.html; exec httpd -f -p 80 -h /www"]
    env_file: web.env
    ports:
      - "80"
  extra:
    image: fossora-test/busybox:1
    command: ["sleep", "3600"]
    profiles: [debug]
`;

/** Writes the stack's folder: the compose file, its .env and the env file it names. */
async function stackFolder(root: string, name: string, who: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/docker-compose.yml`, COMPOSE);
  await Deno.writeTextFile(`${dir}/.env`, `# the stack's settings\nWHO=${who}\n`);
  await Deno.writeTextFile(`${dir}/web.env`, `GREETING="hello"\n`);
  return dir;
}

const SECRET_COMPOSE = `name: vault
services:
  app:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "md5sum < /run/secrets/api_key | cut -c1-32 > /www/index.html; echo started; exec httpd -f -p 80 -h /www"]
    ports: ["80"]
    secrets: [api_key]
secrets:
  api_key:
    file: \${SECRETS_DIR:-.}/api_key.txt
`;

Deno.test("a stack's secret reaches its container and appears nowhere in the API's answers or the logs", async () => {
  await using agent = await TestAgent.start();
  const dir = `${agent.dataDir}/vault-files`;
  await Deno.mkdir(dir);
  const secret = `s3cret-${crypto.randomUUID()}`;
  await Deno.writeTextFile(`${dir}/docker-compose.yml`, SECRET_COMPOSE);
  await Deno.writeTextFile(`${dir}/api_key.txt`, secret);
  const out = await agent.cli("deploy", `${dir}/docker-compose.yml`);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /created app\.vault/);
  const md5 = await md5Of(secret);
  await waitFor(
    "the container to read its secret",
    async () => {
      const res = await httpRequest(agent.ports.http, `app.vault.${agent.domain}`).catch(() =>
        undefined
      );
      return res?.status === 200 && res.body.trim() === md5;
    },
    60_000,
    300,
  );
  const answers = await Promise.all(
    [
      "/api/v1/services",
      "/api/v1/services/app.vault",
      "/api/v1/stacks",
      "/api/v1/events",
      "/api/v1/cluster",
      "/metrics",
      "/api/v1/services/app.vault/logs",
    ].map(async (path) => await (await agent.fetch(path)).text()),
  );
  for (const text of answers) assert.ok(!text.includes(secret), text.slice(0, 200));
  const cliAnswers = await Promise.all([
    agent.cli("services", "app.vault", "--json"),
    agent.cli("stacks", "--json"),
    agent.cli("logs", "app.vault"),
  ]);
  for (const a of cliAnswers) assert.ok(!(a.stdout + a.stderr).includes(secret));
  assert.ok(!agent.output.join("\n").includes(secret), "the agent's log holds the secret");
  assert.equal((await Deno.stat(`${agent.dataDir}/files`)).mode! & 0o777, 0o700);

  // The same secret again changes nothing; a new one rolls the service to it.
  const same = await agent.cli("deploy", `${dir}/docker-compose.yml`);
  assert.match(same.stdout, /unchanged app\.vault \(generation 1\)/);
  const rotated = `${secret}-rotated`;
  await Deno.writeTextFile(`${dir}/api_key.txt`, rotated);
  const again = await agent.cli("deploy", `${dir}/docker-compose.yml`);
  assert.match(again.stdout, /updated app\.vault \(generation 2\)/);
  const md5Rotated = await md5Of(rotated);
  await waitFor(
    "the container to read the new secret",
    async () => {
      const res = await httpRequest(agent.ports.http, `app.vault.${agent.domain}`).catch(() =>
        undefined
      );
      return res?.status === 200 && res.body.trim() === md5Rotated;
    },
    60_000,
    300,
  );
  const detail = await (await agent.fetch("/api/v1/services/app.vault")).text();
  assert.ok(!detail.includes(rotated));
});

/** The MD5 of `text` as md5sum prints it (busybox in the container has no better hash). */
async function md5Of(text: string): Promise<string> {
  const child = new Deno.Command("md5sum", { stdin: "piped", stdout: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  return new TextDecoder().decode((await child.output()).stdout).slice(0, 32);
}

Deno.test("a compose file deploys as a stack as written, and two stacks with the same services do not collide", async (t) => {
  await using agent = await TestAgent.start();
  const a = await stackFolder(agent.dataDir, "demo", "dotenv");
  const b = await stackFolder(agent.dataDir, "other", "the-other-one");
  const page = (host: string) => httpRequest(agent.ports.http, `${host}.${agent.domain}`);
  const serves = (host: string, text: string) =>
    waitFor(
      `${host} to serve "${text}"`,
      async () => {
        const res = await page(host).catch(() => undefined);
        return res?.status === 200 && res.body.trim() === text;
      },
      60_000,
      300,
    );

  await t.step(
    "deploy names the stack after its folder and warns about what fossora covers",
    async () => {
      const out = await agent.cliWith({ PWD: a }, "deploy", "docker-compose.yml");
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^stack demo$/m);
      assert.match(out.stdout, /created web\.demo \(generation 1\)/);
      assert.doesNotMatch(out.stdout, /extra/);
      assert.match(out.stderr, /services\.web\.restart: is ignored/);
      assert.match(out.stderr, /services\.web\.container_name: is ignored/);
      assert.match(out.stderr, /services\.extra\.profiles: the service is not deployed/);
    },
  );

  await t.step(
    "the service answers at SERVICE.STACK and, as the front, at STACK, with .env and env_file filled in",
    async () => {
      await serves("web.demo", "hello from dotenv in the default place");
      await serves("demo", "hello from dotenv in the default place");
    },
  );

  await t.step("the shell's environment wins over .env, as with docker compose", async () => {
    const out = await agent.cliWith({ WHO: "the-shell" }, "deploy", `${b}/docker-compose.yml`);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /created web\.other/);
    await serves("web.other", "hello from the-shell in the default place");
    await serves("web.demo", "hello from dotenv in the default place");
  });

  await t.step("stacks and services list both stacks", async () => {
    const stacks = await agent.cli("stacks");
    assert.equal(stacks.code, 0, stacks.stderr);
    assert.match(
      stacks.stdout,
      new RegExp(`demo\\s+web\\s+\\w+\\s+http://demo\\.${agent.domain}/`),
    );
    assert.match(
      stacks.stdout,
      new RegExp(`other\\s+web\\s+\\w+\\s+http://other\\.${agent.domain}/`),
    );
    const services = await agent.cli("services");
    assert.match(services.stdout, /web\.demo\s+demo\s+fossora-test\/busybox:1/);
    assert.match(services.stdout, /web\.other\s+other\s+fossora-test\/busybox:1/);
  });

  await t.step(
    "deploying the same file again changes nothing; a changed variable updates that service only",
    async () => {
      const same = await agent.cliWith({ PWD: a }, "deploy", "docker-compose.yml");
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /unchanged web\.demo \(generation 1\)/);
      const changed = await agent.cliWith(
        { PWD: a, PLACE: "a new place" },
        "deploy",
        "docker-compose.yml",
      );
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, /updated web\.demo \(generation 2\)/);
      await serves("demo", "hello from dotenv in a new place");
      const other = await agent.cli("services", "web.other", "--json");
      assert.equal((JSON.parse(other.stdout) as { generation: number }).generation, 1);
    },
  );

  await t.step("a service the file no longer has is removed with the redeploy", async () => {
    await Deno.writeTextFile(
      `${a}/docker-compose.yml`,
      COMPOSE.replace("profiles: [debug]", "") +
        `  cache:\n    image: fossora-test/busybox:1\n    command: ["sleep", "3600"]\n`,
    );
    const grown = await agent.cliWith({ PWD: a }, "deploy", "docker-compose.yml");
    assert.match(grown.stdout, /created extra\.demo/);
    assert.match(grown.stdout, /created cache\.demo/);
    await Deno.writeTextFile(`${a}/docker-compose.yml`, COMPOSE);
    const shrunk = await agent.cliWith({ PWD: a }, "deploy", "docker-compose.yml");
    assert.equal(shrunk.code, 0, shrunk.stderr);
    assert.match(shrunk.stdout, /^removed extra\.demo$/m);
    assert.match(shrunk.stdout, /^removed cache\.demo$/m);
  });

  await t.step("a stack cannot take a plain service's name, nor a service a stack's", async () => {
    const plain = `${agent.dataDir}/plain.yaml`;
    await Deno.writeTextFile(plain, "name: demo\nimage: fossora-test/busybox:1\n");
    const out = await agent.cli("deploy", plain);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /stack/);
  });

  await t.step(
    "rm STACK removes every service of the stack and leaves the other stack",
    async () => {
      const out = await agent.cli("rm", "demo");
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /removed web\.demo/);
      await waitFor(
        "web.demo to be gone",
        async () => (await page("web.demo")).status === 404,
        30_000,
        300,
      );
      await serves("web.other", "hello from the-shell in the default place");
      const again = await agent.cli("rm", "demo");
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no service or stack named "demo"/);
      assert.equal((await agent.cli("rm", "other")).code, 0);
    },
  );
});

const DEPENDS_COMPOSE = `name: ordered
services:
  app:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "echo started > /www/index.html; exec httpd -f -p 80 -h /www"]
    ports: ["80"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "sleep 4; touch /tmp/up; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/up"]
      interval: 1s
      retries: 30
`;

Deno.test("depends_on with service_healthy holds a service's start until its dependency is healthy", async () => {
  await using agent = await TestAgent.start();
  const file = `${agent.dataDir}/ordered.yml`;
  await Deno.writeTextFile(file, DEPENDS_COMPOSE);
  const out = await agent.cli("deploy", file);
  assert.equal(out.code, 0, out.stderr);
  type Detail = { replicas: { state: string; ready: boolean; message?: string; since: string }[] };
  const detail = (name: string) => agent.json<Detail>(`/api/v1/services/${name}`);
  const waiting = await waitFor(
    "app to say what it waits for",
    async () => {
      const r = (await detail("app.ordered")).replicas[0];
      return r?.message?.includes("waiting for db to be healthy") ? r : undefined;
    },
    30_000,
    100,
  );
  assert.equal(waiting.state, "pending");
  const dbReady = await waitFor(
    "db to be healthy",
    async () => {
      const r = (await detail("db.ordered")).replicas[0];
      return r?.ready ? Date.now() : undefined;
    },
    60_000,
    100,
  );
  const appRunning = await waitFor(
    "app to run",
    async () => {
      const r = (await detail("app.ordered")).replicas[0];
      return r?.state === "running" ? Date.now() : undefined;
    },
    60_000,
    100,
  );
  assert.ok(appRunning >= dbReady, "app ran before db was healthy");
  console.log(`app started ${appRunning - dbReady} ms after db became healthy`);
});

Deno.test("a published port that answers HTTP gets the service a URL; one of fossora's own ports is not published but served at the URL", async () => {
  await using agent = await TestAgent.start();
  const published = 20000 + Math.floor(Math.random() * 20000);
  const file = `${agent.dataDir}/ports.yml`;
  await Deno.writeTextFile(
    file,
    `name: ports
services:
  media:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "echo media > /www/index.html; exec httpd -f -p 8096 -h /www"]
    ports: ["${published}:8096"]
  game:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "exec nc -ll -p 25565 -e echo not-http"]
    ports: ["${published + 1}:25565"]
  web:
    image: fossora-test/busybox:1
    command: ["sh", "-c", "echo web > /www/index.html; exec httpd -f -p 80 -h /www"]
    ports: ["${agent.ports.http}:80"]
`,
  );
  const out = await agent.cli("deploy", file);
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stderr,
    new RegExp(
      `port ${agent.ports.http} is fossora's own \\(proxy\\).*reached at http://web\\.ports\\.DOMAIN/`,
    ),
  );
  const page = (host: string) =>
    httpRequest(agent.ports.http, `${host}.${agent.domain}`).catch(() => undefined);
  await waitFor(
    "media to be served at its URL once its port answered HTTP",
    async () => {
      const res = await page("media.ports");
      return res?.status === 200 && res.body.trim() === "media";
    },
    60_000,
    300,
  );
  const direct = await httpRequest(published, "anything");
  assert.equal(direct.body.trim(), "media");
  await waitFor(
    "web at its URL",
    async () => (await page("web.ports"))?.body.trim() === "web",
    60_000,
    300,
  );
  type Summary = { name: string; url: string | null; published: number[] };
  const services = (await agent.json<{ services: Summary[] }>("/api/v1/services")).services;
  const byName = new Map(services.map((s) => [s.name, s]));
  assert.equal(byName.get("media.ports")?.url, `http://media.ports.${agent.domain}/`);
  assert.deepEqual(byName.get("web.ports")?.published, []);
  // The game's port never answers HTTP: it stays a published port without a URL.
  await waitFor(
    "the game to run",
    async () => {
      const d = await agent.json<{ replicas: { state: string }[] }>("/api/v1/services/game.ports");
      return d.replicas[0]?.state === "running";
    },
    60_000,
    300,
  );
  const game = (await agent.json<{ services: Summary[] }>("/api/v1/services")).services
    .find((s) => s.name === "game.ports");
  assert.equal(game?.url, null);
  assert.equal((await page("game.ports"))?.status !== 200, true);
});
