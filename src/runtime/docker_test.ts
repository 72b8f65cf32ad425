import assert from "node:assert/strict";
import { CancelledError } from "./abort.ts";
import { createDockerApi, DockerError, parseDockerHost, toDockerError } from "./docker.ts";
import { LogDemuxer } from "./logs.ts";

Deno.test("docker hosts are unix sockets or tcp host:port", () => {
  assert.deepEqual(parseDockerHost("unix:///var/run/docker.sock"), {
    socketPath: "/var/run/docker.sock",
  });
  assert.deepEqual(parseDockerHost("tcp://10.0.0.2:2375"), {
    host: "10.0.0.2",
    port: 2375,
    protocol: "http",
  });
});

Deno.test("a bad docker host is refused with the accepted forms", () => {
  for (
    const bad of ["", "/var/run/docker.sock", "unix://relative.sock", "tcp://host", "tcp://h:0"]
  ) {
    assert.throws(() => createDockerApi(bad), /use unix:\/\/\/.* or tcp:\/\/host:port|use unix:/);
  }
});

Deno.test("dockerode errors become Docker's own message with the status", () => {
  const raw = Object.assign(
    new Error("(HTTP code 404) no such container - No such container: x "),
    {
      statusCode: 404,
      json: { message: "No such container: x" },
    },
  );
  const e = toDockerError(raw, "docker inspect");
  assert.ok(e instanceof DockerError);
  assert.equal(e.message, "No such container: x");
  assert.equal(e.status, 404);
  const conn = toDockerError(new Error("connect ENOENT /x.sock"), "docker list");
  assert.equal(conn.message, "docker list: connect ENOENT /x.sock");
  assert.equal(conn.status, undefined);
});

const IMAGE = "fossora-test/busybox:1";
const SOCKET = "unix:///var/run/docker.sock";

async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`docker ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("a log read without follow arrives in pieces, not as one buffer", async () => {
  // ~4 MB of output: a buffering reader would hand it over as a single chunk.
  const line = "0123456789".repeat(4);
  const id = await docker(
    "run",
    "-d",
    "--label",
    `fossora.test=${crypto.randomUUID()}`,
    IMAGE,
    "sh",
    "-c",
    `yes ${line} | head -n 100000`,
  );
  try {
    await docker("wait", id);
    const api = createDockerApi(SOCKET);
    const reader = (await api.logs(id, { follow: false })).getReader();
    try {
      const first = await reader.read();
      assert.ok(!first.done && first.value.length > 0);
      assert.ok(first.value.length < 1_000_000, `first chunk is ${first.value.length} bytes`);
    } finally {
      await reader.cancel();
    }
    const tail = await new Response(
      (await api.logs(id, { follow: false, tail: 2 })).pipeThrough(demuxStream()),
    ).text();
    assert.equal(tail, `${line}\n${line}\n`);
  } finally {
    await docker("rm", "-f", id);
  }
});

/** The demultiplexer as a TransformStream, to read a raw Docker log as text. */
function demuxStream(): TransformStream<Uint8Array, Uint8Array> {
  const d = new LogDemuxer();
  return new TransformStream({
    transform(chunk, ctl) {
      for (const l of d.push(chunk)) ctl.enqueue(l);
    },
    flush(ctl) {
      for (const l of d.end()) ctl.enqueue(l);
    },
  });
}

Deno.test("a pull from a registry that never answers ends at once when cancelled", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const api = createDockerApi(SOCKET);
    const ctl = new AbortController();
    const image = `127.0.0.1:${listener.addr.port}/hang-${crypto.randomUUID().slice(0, 8)}:1`;
    const pull = api.pull(image, ctl.signal);
    const deadline = Date.now() + 20_000;
    while (held.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(held.length > 0, "docker reached the fake registry");
    const t0 = Date.now();
    ctl.abort();
    await assert.rejects(pull, (err: Error) => {
      assert.ok(err instanceof CancelledError, `${err.name}: ${err.message}`);
      assert.match(err.message, /docker pull: cancelled/);
      return true;
    });
    assert.ok(Date.now() - t0 < 1_000, "the pull let go at once");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) {
      try {
        c.close();
      } catch {
        // closed by docker already
      }
    }
  }
});

Deno.test("a container gets its binds, its devices and the node's network, and reports its ports as the node's", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/hello`, "from the host\n");
  const api = createDockerApi(SOCKET);
  const name = `fossora-test-binds-${crypto.randomUUID().slice(0, 8)}`;
  const id = await api.create({
    name,
    image: IMAGE,
    cmd: ["sleep", "60"],
    env: {},
    labels: { "fossora.test": name },
    ports: [{ container: 18093 }, { container: 18094, protocol: "udp" }],
    hostIp: "127.0.0.1",
    mounts: [],
    binds: [{ source: dir, path: "/data", readOnly: true }],
    devices: [{ host: "/dev/null", container: "/dev/fossora-test" }],
    hostNetwork: true,
  });
  try {
    await api.start(id);
    assert.equal(await docker("exec", id, "cat", "/data/hello"), "from the host");
    // Read-only: the write fails.
    const write = await new Deno.Command("docker", {
      args: ["exec", id, "touch", "/data/x"],
      stderr: "null",
    }).output();
    assert.equal(write.success, false);
    assert.match(await docker("exec", id, "ls", "-l", "/dev/fossora-test"), /^c/);
    assert.equal(await docker("inspect", "--format", "{{.HostConfig.NetworkMode}}", id), "host");
    const state = await api.inspect(id);
    assert.deepEqual(state?.ports, { "18093": 18093, "18094/udp": 18094 });
  } finally {
    await docker("rm", "-f", id);
    await Deno.remove(dir, { recursive: true });
  }
});
