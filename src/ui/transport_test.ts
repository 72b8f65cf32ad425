import assert from "node:assert/strict";
import { encryptedPath, saferUrl } from "./transport.ts";

Deno.test("loopback and the tailnet are encrypted paths; the LAN is not", () => {
  for (
    const ip of ["127.0.0.1", "::1", "100.101.102.103", "::ffff:100.64.0.1", "fd7a:115c:a1e0::1"]
  ) {
    assert.equal(encryptedPath(ip), true, ip);
  }
  for (const ip of ["192.168.1.20", "100.128.0.1", "10.0.0.1", "fe80::1", "unknown"]) {
    assert.equal(encryptedPath(ip), false, ip);
  }
});

Deno.test("the login page over HTTP from the LAN points at the same page over HTTPS", () => {
  const url = new URL("http://192.168.1.10:7440/login");
  assert.equal(saferUrl(url, "192.168.1.20", 7443), "https://192.168.1.10:7443/login");
  assert.equal(saferUrl(url, "100.70.0.2", 7443), undefined);
  assert.equal(saferUrl(new URL("https://pi:7443/login"), "192.168.1.20", 7443), undefined);
  assert.equal(saferUrl(url, "192.168.1.20", undefined), undefined);
  assert.equal(
    saferUrl(new URL("http://[fd00::1]:7440/setup"), "fd00::2", 7443),
    "https://[fd00::1]:7443/setup",
  );
});
