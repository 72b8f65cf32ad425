import assert from "node:assert/strict";
import {
  createClusterCA,
  ensureNodeCerts,
  ETCD_SERVER_NAME,
  installNodeCert,
  loadOrCreateCA,
  newKeyAndRequest,
  nodeNames,
  parseSanOutput,
  signNodeRequest,
} from "./certs.ts";
import { openssl } from "./openssl.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-certs-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test("the CA is created once, its key private and its directory closed", async () => {
  await withDir(async (dir) => {
    const pki = `${dir}/pki`;
    const first = await loadOrCreateCA(pki);
    const again = await loadOrCreateCA(pki);
    assert.deepEqual(again, first);
    assert.match(first.certPem, /BEGIN CERTIFICATE/);
    assert.equal(mode(pki), 0o700);
    assert.equal(mode(`${pki}/ca.key`), 0o600);
    assert.equal(mode(`${pki}/ca.crt`), 0o644);
    assert.deepEqual([...Deno.readDirSync(pki)].map((e) => e.name).sort(), ["ca.crt", "ca.key"]);
    const text = await openssl(["x509", "-in", `${pki}/ca.crt`, "-noout", "-text"], "reading");
    assert.match(text, /CA:TRUE/);
    assert.match(text, /ASN1 OID: prime256v1/);
  });
});

Deno.test("half a CA or a key from another CA is refused, naming the file", async () => {
  await withDir(async (dir) => {
    await loadOrCreateCA(dir);
    const other = await createClusterCA();
    await Deno.writeTextFile(`${dir}/ca.key`, other.keyPem);
    await assert.rejects(loadOrCreateCA(dir), /ca\.key does not belong to .*ca\.crt/);
    await Deno.remove(`${dir}/ca.key`);
    await assert.rejects(loadOrCreateCA(dir), /ca\.key is missing but .*ca\.crt exists/);
  });
});

Deno.test("a node certificate names the shared server name, the node and its addresses", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    const certs = await ensureNodeCerts(dir, ca, {
      nodeName: "Pi-1",
      ips: ["10.0.0.7", "fd7a::1"],
    });
    const san = await openssl(
      ["x509", "-in", certs.certFile, "-noout", "-ext", "subjectAltName"],
      "",
    );
    assert.deepEqual(
      parseSanOutput(san),
      [`DNS:${ETCD_SERVER_NAME}`, "DNS:pi-1", "IP:10.0.0.7", "IP:127.0.0.1", "IP:fd7a::1"],
    );
    const usage = await openssl([
      "x509",
      "-in",
      certs.certFile,
      "-noout",
      "-ext",
      "extendedKeyUsage",
    ], "");
    assert.match(usage, /TLS Web Server Authentication, TLS Web Client Authentication/);
    await openssl(["verify", "-CAfile", certs.caFile, certs.certFile], "verifying");
    assert.equal(await Deno.readTextFile(certs.caFile), ca.certPem);
    assert.equal(mode(certs.keyFile), 0o600);
    assert.equal(mode(dir), 0o700);
  });
});

Deno.test("node certificates are reused while CA and names stay the same", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    const o = { nodeName: "n1", ips: ["192.168.1.20"] };
    const first = await ensureNodeCerts(dir, ca, o);
    const cert = await Deno.readTextFile(first.certFile);
    const key = await Deno.readTextFile(first.keyFile);
    await Deno.chmod(first.keyFile, 0o644);
    const second = await ensureNodeCerts(dir, ca, { nodeName: "N1", ips: ["192.168.1.20"] });
    assert.deepEqual(second, first);
    assert.equal(await Deno.readTextFile(second.certFile), cert);
    assert.equal(await Deno.readTextFile(second.keyFile), key);
    assert.equal(mode(second.keyFile), 0o600, "a loosened key mode is tightened again");
  });
});

Deno.test("node certificates are re-issued for new addresses, a new CA or a broken file", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    const certs = await ensureNodeCerts(dir, ca, { nodeName: "n1", ips: ["10.0.0.1"] });
    const read = () => Deno.readTextFile(certs.certFile);
    let before = await read();
    await ensureNodeCerts(dir, ca, { nodeName: "n1", ips: ["10.0.0.2"] });
    assert.notEqual(await read(), before);

    before = await read();
    const other = await createClusterCA();
    await ensureNodeCerts(dir, other, { nodeName: "n1", ips: ["10.0.0.2"] });
    assert.notEqual(await read(), before);
    await openssl(["verify", "-CAfile", certs.caFile, certs.certFile], "verifying with new CA");
    assert.equal(await Deno.readTextFile(certs.caFile), other.certPem);

    await Deno.writeTextFile(certs.keyFile, "not a key");
    await ensureNodeCerts(dir, other, { nodeName: "n1", ips: ["10.0.0.2"] });
    assert.match(await Deno.readTextFile(certs.keyFile), /BEGIN PRIVATE KEY/);
    assert.equal(mode(certs.keyFile), 0o600);
  });
});

Deno.test("a node certificate about to expire is re-issued", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    const o = { nodeName: "n1", ips: [] };
    const certs = await ensureNodeCerts(dir, ca, o);
    // Sign the same key and names for 2 days only: valid, but inside the renewal window.
    await Deno.writeTextFile(`${dir}/ca.key.test`, ca.keyPem);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      `[v]\nextendedKeyUsage = serverAuth,clientAuth\n` +
        `subjectAltName = ${nodeNames("n1", []).join(",")}\n`,
    );
    const csr = `${dir}/n1.csr`;
    await openssl(
      ["req", "-new", "-key", certs.keyFile, "-subj", "/CN=n1", "-out", csr],
      "making a request",
    );
    await openssl(
      ["x509", "-req", "-in", csr, "-CA", certs.caFile, "-CAkey", `${dir}/ca.key.test`]
        .concat(["-set_serial", "7", "-days", "2", "-extfile", `${dir}/ext.cnf`])
        .concat(["-extensions", "v", "-out", certs.certFile]),
      "making a short-lived certificate",
    );
    await openssl(["verify", "-CAfile", certs.caFile, certs.certFile], "checking it is valid");
    const short = await Deno.readTextFile(certs.certFile);
    await ensureNodeCerts(dir, ca, o);
    assert.notEqual(await Deno.readTextFile(certs.certFile), short);
    await openssl(["x509", "-in", certs.certFile, "-noout", "-checkend", String(365 * 86400)], "");
  });
});

Deno.test("a bad node name or address is refused with a message saying what to pass", async () => {
  const ca = { certPem: "", keyPem: "" };
  await assert.rejects(
    ensureNodeCerts("/nonexistent", ca, { nodeName: "bad name", ips: [] }),
    /node name "bad name" is not a DNS name/,
  );
  await assert.rejects(
    ensureNodeCerts("/nonexistent", ca, { nodeName: "n1", ips: ["10.0.0.300"] }),
    /"10\.0\.0\.300" is not an IP address/,
  );
});

Deno.test("IPv6 names read back from openssl compare equal to the requested ones", () => {
  const text = "X509v3 Subject Alternative Name: \n" +
    "    DNS:Etcd.Fossora.Internal, IP Address:FD7A:0:0:0:0:0:0:1, IP Address:127.0.0.1\n";
  assert.deepEqual(parseSanOutput(text), [
    "DNS:etcd.fossora.internal",
    "IP:127.0.0.1",
    "IP:fd7a::1",
  ]);
  assert.deepEqual(nodeNames("etcd.fossora.internal", ["FD7A::0:1", "127.0.0.1"]), [
    "DNS:etcd.fossora.internal",
    "IP:127.0.0.1",
    "IP:fd7a::1",
  ]);
});

Deno.test("a missing openssl is reported with what to install", async () => {
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", "/nonexistent");
  try {
    await assert.rejects(createClusterCA(), /openssl is not installed .*apt-get install openssl/);
  } finally {
    Deno.env.set("PATH", path);
  }
});

Deno.test("a joiner's key stays with it: the CA signs its request with the names it decides", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    const other = await createClusterCA();
    const key = `${dir}/join.key`;
    const csr = await newKeyAndRequest(key, "Pi-2");
    assert.equal(mode(key), 0o600);
    assert.doesNotMatch(csr, /PRIVATE KEY/);
    const certPem = await signNodeRequest(ca, csr, "pi-2", ["10.0.0.8"]);
    const certs = await installNodeCert(`${dir}/pki`, ca.certPem, certPem, key);
    const san = await openssl(
      ["x509", "-in", certs.certFile, "-noout", "-ext", "subjectAltName"],
      "",
    );
    assert.deepEqual(parseSanOutput(san), nodeNames("pi-2", ["10.0.0.8"]));
    assert.equal(mode(certs.keyFile), 0o600);
    await openssl(["verify", "-CAfile", certs.caFile, certs.certFile], "verifying");
    // What a joiner is handed must be from the CA it pinned and for its own key.
    const stranger = await signNodeRequest(other, csr, "pi-2", ["10.0.0.8"]);
    await assert.rejects(installNodeCert(`${dir}/x`, ca.certPem, stranger, key), /CA/);
    const theirs = await signNodeRequest(ca, await newKeyAndRequest(`${dir}/b.key`, "b"), "b", []);
    await assert.rejects(installNodeCert(`${dir}/y`, ca.certPem, theirs, key), /key/);
  });
});

Deno.test("a request that is not one, or is altered, is not signed", async () => {
  await withDir(async (dir) => {
    const ca = await createClusterCA();
    await assert.rejects(signNodeRequest(ca, "hello", "a", []), /not a PEM request/);
    const csr = await newKeyAndRequest(`${dir}/k`, "a");
    const lines = csr.trim().split("\n");
    const body = lines[3];
    lines[3] = body.slice(0, 10) + (body[10] === "A" ? "B" : "A") + body.slice(11);
    await assert.rejects(signNodeRequest(ca, lines.join("\n"), "a", []), /request/);
    await assert.rejects(signNodeRequest(ca, csr, "not a name", []), /DNS name/);
  });
});
