import assert from "node:assert/strict";
import { createDockerApi, DockerError, parseDockerHost, toDockerError } from "./docker.ts";

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
