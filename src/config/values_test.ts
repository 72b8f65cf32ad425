import assert from "node:assert/strict";
import { InvalidValue } from "./error.ts";
import {
  isDnsName,
  isIPv4,
  parseDockerHost,
  parseHostPort,
  parseLabels,
  parsePort,
} from "./values.ts";

Deno.test("ports accept digits or integers in range only", () => {
  assert.equal(parsePort("8080", false), 8080);
  assert.equal(parsePort(65535, false), 65535);
  assert.equal(parsePort("0", true), 0);
  for (const bad of ["0", "65536", "-1", "8e3", "", "80 80", 1.5]) {
    assert.throws(() => parsePort(bad, false), InvalidValue, String(bad));
  }
});

Deno.test("IPv4 addresses are dotted quads without leading zeros", () => {
  assert.ok(isIPv4("192.168.1.1"));
  assert.ok(isIPv4("0.0.0.0"));
  for (const bad of ["192.168.1", "1.2.3.256", "01.2.3.4", "a.b.c.d", "::1", "1.2.3.4 "]) {
    assert.ok(!isIPv4(bad), bad);
  }
});

Deno.test("DNS names are lowercase labels up to 253 characters", () => {
  assert.ok(isDnsName("fossora.home.arpa"));
  assert.ok(isDnsName("home."));
  for (const bad of ["", ".", "a..b", "-a.b", "A.b", "a_b.c", `${"a".repeat(64)}.b`]) {
    assert.ok(!isDnsName(bad), bad);
  }
  assert.ok(!isDnsName(Array(64).fill("abc").join(".")), "longer than 253");
});

Deno.test("join items take IPv4, host names and bracketed IPv6 with a port", () => {
  assert.equal(parseHostPort("192.168.1.2:7440"), "192.168.1.2:7440");
  assert.equal(parseHostPort("Pi-2.Local:7440"), "pi-2.local:7440");
  assert.equal(parseHostPort("[fd00::1]:7440"), "[fd00::1]:7440");
  for (const bad of ["pi", "pi:", ":7440", "fd00::1:7440", "pi:0", "a b:1"]) {
    assert.throws(() => parseHostPort(bad), InvalidValue, bad);
  }
});

Deno.test("labels allow the documented key characters and refuse duplicates", () => {
  assert.deepEqual(parseLabels(["example.com/disk=ssd", "gpu=", "zone_a=A-1"]), {
    "example.com/disk": "ssd",
    gpu: "",
    zone_a: "A-1",
  });
  assert.throws(() => parseLabels(["=x"]), InvalidValue);
  assert.throws(() => parseLabels(["k=a b"]), InvalidValue);
});

Deno.test("docker host takes unix, tcp and http URLs", () => {
  for (const ok of ["unix:///var/run/docker.sock", "tcp://10.0.0.1:2375", "https://d:2376"]) {
    assert.equal(parseDockerHost(ok), ok);
  }
  for (const bad of ["/var/run/docker.sock", "unix://", "ssh://x", "tcp://"]) {
    assert.throws(() => parseDockerHost(bad), InvalidValue, bad);
  }
});
