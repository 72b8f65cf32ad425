/**
 * The cluster's certificate authority and each node's etcd certificate (EC P-256, made with the
 * `openssl` CLI). One certificate per node serves both as etcd's server and peer certificate and
 * as the agent's client certificate, so a node needs exactly one key.
 * @module
 */
import { isIP } from "node:net";
import { readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import { isDnsLabel } from "../util/names.ts";
import { randomHex } from "../util/random.ts";
import { ensurePrivateDir } from "./files.ts";
import { openssl, runOpenssl } from "./openssl.ts";

/** The cluster CA: its certificate and private key, PEM. */
export interface ClusterCA {
  certPem: string;
  keyPem: string;
}

/** Paths (in `DATA_DIR/pki/`) of the files etcd and the etcd client need. */
export interface NodeCerts {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * An HTTP client that trusts only the cluster CA and shows this node's certificate: what etcd's
 * `/health` answers, with TLS on.
 */
export async function nodeHttpClient(tls: NodeCerts): Promise<Deno.HttpClient> {
  const [ca, cert, key] = await Promise.all(
    [tls.caFile, tls.certFile, tls.keyFile].map((path) =>
      Deno.readTextFile(path).catch((err) => {
        throw new Error(
          `cannot read ${path} for etcd's TLS: ${err.message}; re-create the node certificates`,
        );
      })
    ),
  );
  return Deno.createHttpClient({ caCerts: [ca], cert, key });
}

/**
 * The DNS name every etcd server certificate carries. Clients verify against it instead of an
 * IP address because Deno's `node:tls` refuses an IP as TLS server name.
 */
export const ETCD_SERVER_NAME = "etcd.fossora.internal";

const CA_DAYS = 3650;
const NODE_DAYS = 1825;
/** A certificate this close to expiry is re-issued rather than reused. */
const RENEW_BEFORE_SECONDS = 30 * 24 * 3600;

const CA_CONFIG = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = fossora cluster CA
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

/** Makes a new cluster CA, valid 10 years. Nothing is written to disk. */
export async function createClusterCA(): Promise<ClusterCA> {
  return await inTempDir(async (tmp) => {
    const key = `${tmp}/ca.key`;
    const cert = `${tmp}/ca.crt`;
    await Deno.writeTextFile(`${tmp}/ca.cnf`, CA_CONFIG);
    await generateKey(key);
    await openssl(
      [
        "req",
        "-x509",
        "-new",
        "-key",
        key,
        "-sha256",
        "-days",
        String(CA_DAYS),
        "-config",
        `${tmp}/ca.cnf`,
        "-out",
        cert,
      ],
      "making the cluster CA certificate",
    );
    return { certPem: await Deno.readTextFile(cert), keyPem: await Deno.readTextFile(key) };
  });
}

/** Writes the CA to `dir/ca.crt` (0644) and `dir/ca.key` (0600), for a node that was given it. */
export async function saveCA(dir: string, ca: ClusterCA): Promise<void> {
  await ensurePrivateDir(dir);
  await writeFileAtomic(`${dir}/ca.key`, ca.keyPem, { mode: 0o600 });
  await writeFileAtomic(`${dir}/ca.crt`, ca.certPem, { mode: 0o644 });
}

/**
 * Loads the CA from `dir` (`DATA_DIR/pki`), creating it the first time. Half a CA (one file
 * without the other) or a key that does not belong to the certificate is an error, never a
 * silent new CA: that would cut this node off from the rest of its cluster.
 */
export async function loadOrCreateCA(dir: string): Promise<ClusterCA> {
  await ensurePrivateDir(dir);
  const certPath = `${dir}/ca.crt`;
  const keyPath = `${dir}/ca.key`;
  const certPem = await readTextFileIfExists(certPath);
  const keyPem = await readTextFileIfExists(keyPath);
  if (certPem === undefined && keyPem === undefined) {
    const ca = await createClusterCA();
    await saveCA(dir, ca);
    return ca;
  }
  if (certPem === undefined || keyPem === undefined) {
    const [missing, present] = certPem === undefined ? [certPath, keyPath] : [keyPath, certPath];
    throw new Error(
      `${missing} is missing but ${present} exists: restore it from a backup, or delete both ` +
        `to make a new cluster CA (every node certificate must then be re-issued)`,
    );
  }
  const certKey = await certPublicKey(certPath);
  const keyKey = await keyPublicKey(keyPath);
  if (certKey === undefined) {
    throw new Error(`${certPath} is not a PEM certificate: restore it from a backup`);
  }
  if (keyKey === undefined) throw new Error(`${keyPath} is not a PEM private key: restore it`);
  if (certKey !== keyKey) {
    throw new Error(`${keyPath} does not belong to ${certPath}: restore the matching pair`);
  }
  await Deno.chmod(keyPath, 0o600);
  return { certPem, keyPem };
}

/**
 * Makes sure `dir` holds this node's certificate (`node.crt`, `node.key`) signed by `ca`, for
 * server and client use, with SAN = {@link ETCD_SERVER_NAME}, the node name, 127.0.0.1 and `ips`.
 * Existing files are reused when they are valid for the same CA and names and not about to
 * expire; otherwise a new key and certificate (5 years) replace them. Also writes `ca.crt`.
 */
export async function ensureNodeCerts(
  dir: string,
  ca: ClusterCA,
  o: { nodeName: string; ips: string[] },
): Promise<NodeCerts> {
  const names = nodeNames(o.nodeName, o.ips);
  await ensurePrivateDir(dir);
  const files: NodeCerts = {
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/node.crt`,
    keyFile: `${dir}/node.key`,
  };
  if ((await readTextFileIfExists(files.caFile)) !== ca.certPem) {
    await writeFileAtomic(files.caFile, ca.certPem, { mode: 0o644 });
  }
  if (await nodeCertUsable(files, names)) {
    await Deno.chmod(files.keyFile, 0o600);
    return files;
  }
  const issued = await issueNodeCert(ca, o.nodeName, names);
  // Key first: a crash between the two leaves a pair that fails the check above and is re-issued.
  await writeFileAtomic(files.keyFile, issued.keyPem, { mode: 0o600 });
  await writeFileAtomic(files.certFile, issued.certPem, { mode: 0o644 });
  return files;
}

/** The subject alternative names of a node certificate, canonical and sorted, as `DNS:x`/`IP:y`. */
export function nodeNames(nodeName: string, ips: string[]): string[] {
  const name = nodeName.toLowerCase();
  if (!name.split(".").every(isDnsLabel)) {
    throw new Error(
      `node name ${JSON.stringify(nodeName)} is not a DNS name: use letters, digits and hyphens`,
    );
  }
  const out = new Set([`DNS:${ETCD_SERVER_NAME}`, `DNS:${name}`, "IP:127.0.0.1"]);
  for (const ip of ips) {
    const canonical = canonicalIp(ip);
    if (canonical === undefined) {
      throw new Error(`${JSON.stringify(ip)} is not an IP address: pass plain IPv4 or IPv6`);
    }
    out.add(`IP:${canonical}`);
  }
  return [...out].sort();
}

/** One spelling per address, so names read back from a certificate compare equal. */
function canonicalIp(ip: string): string | undefined {
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version !== 6 || ip.includes("%")) return undefined;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The names in a certificate's SAN, in the form {@link nodeNames} makes. */
export function parseSanOutput(text: string): string[] {
  const body = text.split("\n").slice(1).join(" ").trim();
  if (!body) return [];
  return body.split(/,\s*/).map((entry) => {
    if (entry.startsWith("DNS:")) return `DNS:${entry.slice(4).toLowerCase()}`;
    if (entry.startsWith("IP Address:")) {
      const raw = entry.slice("IP Address:".length);
      return `IP:${canonicalIp(raw) ?? raw}`;
    }
    return entry;
  }).sort();
}

async function nodeCertUsable(files: NodeCerts, names: string[]): Promise<boolean> {
  if ((await readTextFileIfExists(files.certFile)) === undefined) return false;
  if ((await readTextFileIfExists(files.keyFile)) === undefined) return false;
  const verify = await runOpenssl(["verify", "-CAfile", files.caFile, files.certFile]);
  if (!verify.ok) return false;
  const fresh = await runOpenssl([
    "x509",
    "-in",
    files.certFile,
    "-noout",
    "-checkend",
    String(RENEW_BEFORE_SECONDS),
  ]);
  if (!fresh.ok) return false;
  const san = await runOpenssl(["x509", "-in", files.certFile, "-noout", "-ext", "subjectAltName"]);
  if (!san.ok || parseSanOutput(san.stdout).join() !== names.join()) return false;
  const certKey = await certPublicKey(files.certFile);
  return certKey !== undefined && certKey === await keyPublicKey(files.keyFile);
}

function issueNodeCert(ca: ClusterCA, nodeName: string, names: string[]) {
  return issueCert(ca, {
    commonName: nodeName.toLowerCase(),
    names,
    usage: "serverAuth,clientAuth",
    days: NODE_DAYS,
  });
}

/** A served certificate and its key, PEM. */
export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

/**
 * A TLS server certificate from the cluster CA for `dnsNames` (wildcards allowed), valid `days`,
 * with a new EC P-256 key: what the service proxy serves on its HTTPS port.
 */
export function issueServerCert(
  ca: ClusterCA,
  dnsNames: string[],
  days: number,
): Promise<IssuedCert> {
  for (const n of dnsNames) {
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(n)) {
      throw new Error(`${JSON.stringify(n)} is not a DNS name for a certificate`);
    }
  }
  return issueCert(ca, {
    commonName: dnsNames[0],
    names: dnsNames.map((n) => `DNS:${n}`),
    usage: "serverAuth",
    days,
  });
}

interface CertProfile {
  commonName: string;
  names: string[];
  usage: string;
  days: number;
}

/** openssl's config for a certificate request and the extensions the CA signs it with. */
function profileConfig(o: CertProfile): string {
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${o.commonName}
[v3_node]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${o.usage}
subjectAltName = ${o.names.join(",")}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;
}

async function issueCert(ca: ClusterCA, o: CertProfile): Promise<IssuedCert> {
  return await inTempDir(async (tmp) => {
    await generateKey(`${tmp}/node.key`);
    const csrPem = await makeCsr(tmp, `${tmp}/node.key`, o.commonName);
    return {
      certPem: await signCsr(ca, csrPem, o),
      keyPem: await Deno.readTextFile(`${tmp}/node.key`),
    };
  });
}

async function makeCsr(tmp: string, keyPath: string, commonName: string): Promise<string> {
  await Deno.writeTextFile(
    `${tmp}/req.cnf`,
    `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ${commonName}\n`,
  );
  await openssl(
    ["req", "-new", "-key", keyPath, "-config", `${tmp}/req.cnf`, "-out", `${tmp}/req.csr`],
    "making the certificate request",
  );
  return await Deno.readTextFile(`${tmp}/req.csr`);
}

/**
 * Signs a request with the CA. Only the request's public key is used (after its signature is
 * checked, which proves the sender holds the key): the name, addresses and uses come from `o`,
 * what the CA decided, never from the request.
 */
async function signCsr(ca: ClusterCA, csrPem: string, o: CertProfile): Promise<string> {
  return await inTempDir(async (tmp) => {
    await Deno.writeTextFile(`${tmp}/node.cnf`, profileConfig(o));
    await Deno.writeTextFile(`${tmp}/ca.key`, ca.keyPem, { mode: 0o600 });
    await Deno.writeTextFile(`${tmp}/ca.crt`, ca.certPem);
    await Deno.writeTextFile(`${tmp}/node.csr`, csrPem);
    const valid = await runOpenssl(["req", "-in", `${tmp}/node.csr`, "-noout", "-verify"]);
    if (!valid.ok) {
      throw new Error("the certificate request is not a PEM request signed by its own key");
    }
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${tmp}/node.csr`,
        "-CA",
        `${tmp}/ca.crt`,
        "-CAkey",
        `${tmp}/ca.key`,
        "-set_serial",
        randomSerial(),
        "-days",
        String(o.days),
        "-sha256",
        "-extfile",
        `${tmp}/node.cnf`,
        "-extensions",
        "v3_node",
        "-out",
        `${tmp}/node.crt`,
      ],
      "signing the certificate with the cluster CA (is the CA key valid?)",
    );
    return await Deno.readTextFile(`${tmp}/node.crt`);
  });
}

/**
 * A joining node's first step: a new key written to `keyPath` (0600; it never leaves this node)
 * and a certificate request for it, which the cluster's leader signs.
 */
export async function newKeyAndRequest(keyPath: string, nodeName: string): Promise<string> {
  await generateKey(keyPath);
  return await inTempDir((tmp) => makeCsr(tmp, keyPath, nodeName.toLowerCase()));
}

/**
 * The leader's side: a node certificate for a joiner's request, for `nodeName` and `ips` (what
 * the join request says, checked by the caller), as {@link ensureNodeCerts} would make it.
 * @throws {Error} when the request is not a valid, self-signed request.
 */
export async function signNodeRequest(
  ca: ClusterCA,
  csrPem: string,
  nodeName: string,
  ips: string[],
): Promise<string> {
  if (csrPem.length > 16_384 || !csrPem.includes("-----BEGIN CERTIFICATE REQUEST-----")) {
    throw new Error("the certificate request is not a PEM request");
  }
  return await signCsr(ca, csrPem, {
    commonName: nodeName.toLowerCase(),
    names: nodeNames(nodeName, ips),
    usage: "serverAuth,clientAuth",
    days: NODE_DAYS,
  });
}

/**
 * Writes what a joiner was given (the CA certificate and its signed certificate) beside the key
 * it made, as `ensureNodeCerts` lays them out. The certificate must belong to the key.
 */
export async function installNodeCert(
  dir: string,
  caPem: string,
  certPem: string,
  keyPath: string,
): Promise<NodeCerts> {
  await ensurePrivateDir(dir);
  const files: NodeCerts = {
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/node.crt`,
    keyFile: `${dir}/node.key`,
  };
  await inTempDir(async (tmp) => {
    await Deno.writeTextFile(`${tmp}/node.crt`, certPem);
    await Deno.writeTextFile(`${tmp}/ca.crt`, caPem);
    const verify = await runOpenssl(["verify", "-CAfile", `${tmp}/ca.crt`, `${tmp}/node.crt`]);
    if (!verify.ok) throw new Error("the certificate given is not from the cluster's CA");
    if (await certPublicKey(`${tmp}/node.crt`) !== await keyPublicKey(keyPath)) {
      throw new Error("the certificate given is not for this node's key");
    }
  });
  if (keyPath !== files.keyFile) {
    await writeFileAtomic(files.keyFile, await Deno.readTextFile(keyPath), { mode: 0o600 });
  }
  await writeFileAtomic(files.caFile, caPem, { mode: 0o644 });
  await writeFileAtomic(files.certFile, certPem, { mode: 0o644 });
  return files;
}

async function generateKey(path: string): Promise<void> {
  await openssl(
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path],
    "generating an EC P-256 key",
  );
  await Deno.chmod(path, 0o600);
}

async function certPublicKey(path: string): Promise<string | undefined> {
  const r = await runOpenssl(["x509", "-in", path, "-noout", "-pubkey"]);
  return r.ok ? r.stdout.trim() : undefined;
}

async function keyPublicKey(path: string): Promise<string | undefined> {
  const r = await runOpenssl(["pkey", "-in", path, "-pubout"]);
  return r.ok ? r.stdout.trim() : undefined;
}

/** A random positive 127-bit serial, as RFC 5280 asks for unpredictable serials. */
function randomSerial(): string {
  const hex = randomHex(16);
  // Clearing the top bit keeps the serial positive (DER integers are signed).
  return `0x${(parseInt(hex[0], 16) & 0x7).toString(16)}${hex.slice(1)}`;
}

/** Runs `fn` in a private temp directory (where a CA key may sit briefly) and removes it after. */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-pki-" });
  try {
    await Deno.chmod(dir, 0o700);
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
