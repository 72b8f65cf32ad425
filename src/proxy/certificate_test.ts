import assert from "node:assert/strict";
import type { ServingCert } from "../state/types.ts";
import { createClusterCA, issueServerCert } from "../etcd/certs.ts";
import {
  CertIssuer,
  keyPairProblem,
  RENEW_BEFORE_MS,
  renewalReason,
  wantedNames,
} from "./certificate.ts";

const DAY = 24 * 3600 * 1000;
const names = wantedNames("Fossora.Home.Arpa.");

function cert(notAfter: number, n = names): ServingCert {
  return {
    names: n,
    certPem: "C",
    keyPem: "K",
    notAfter: new Date(notAfter).toISOString(),
    issuedAt: new Date(0).toISOString(),
  };
}

Deno.test("the certificate covers the domain and every name one level under it", () => {
  assert.deepEqual(names, ["*.fossora.home.arpa", "fossora.home.arpa"]);
  assert.deepEqual(wantedNames("d.x", ["*.media.d.x"]), ["*.d.x", "*.media.d.x", "d.x"]);
});

Deno.test("a new certificate is due when none, other names, unreadable or within 30 days", () => {
  const now = 1000 * DAY;
  assert.match(renewalReason(undefined, names, now)!, /none/);
  assert.match(renewalReason(cert(now + 60 * DAY, ["x"]), names, now)!, /names/);
  assert.match(renewalReason({ ...cert(now), notAfter: "soon" }, names, now)!, /cannot be read/);
  assert.equal(renewalReason(cert(now + RENEW_BEFORE_MS + 1), names, now), undefined);
  assert.match(renewalReason(cert(now + RENEW_BEFORE_MS - 1), names, now)!, /30 days/);
});

Deno.test("the issuer issues only when due and allowed, and stores against what it read", async () => {
  let now = 1000 * DAY;
  let stored: ServingCert | undefined;
  let allowed = false;
  let issued = 0;
  const previous: (ServingCert | undefined)[] = [];
  const issuer = new CertIssuer({
    domain: "fossora.home.arpa",
    current: () => stored,
    canIssue: () => allowed,
    issue: (n, days) => {
      issued++;
      assert.deepEqual(n, names);
      assert.equal(days, 90);
      return Promise.resolve({ certPem: `cert ${issued}`, keyPem: `key ${issued}` });
    },
    store: (c, prev) => {
      previous.push(prev);
      stored = c;
      return Promise.resolve(true);
    },
    now: () => now,
  });
  assert.equal(await issuer.step(), "not-issuer");
  allowed = true;
  assert.equal(await issuer.step(), "issued");
  assert.equal(stored?.certPem, "cert 1");
  assert.equal(stored?.notAfter, new Date(now + 90 * DAY).toISOString());
  assert.equal(await issuer.step(), "current");
  now += 61 * DAY;
  assert.equal(await issuer.step(), "issued", "renewed 29 days before the end");
  assert.equal(previous[1]?.certPem, "cert 1");
  assert.equal(issued, 2);
});

Deno.test("an issuer that fails keeps serving and says why", async () => {
  const lines: string[] = [];
  const log = {
    debug() {},
    info() {},
    warn: (m: string) => void lines.push(m),
    error() {},
    child() {
      return log;
    },
  };
  const issuer = new CertIssuer({
    domain: "d.x",
    current: () => undefined,
    canIssue: () => true,
    issue: () => Promise.reject(new Error("openssl failed")),
    store: () => Promise.resolve(true),
    log,
  });
  await issuer.poke();
  assert.match(lines[0], /cannot issue/);
});

Deno.test("a saved pair that is cut short, mismatched or expired is not served", async () => {
  const ca = await createClusterCA();
  const a = await issueServerCert(ca, names, 90);
  const b = await issueServerCert(ca, names, 90);
  assert.equal(keyPairProblem(a), undefined);
  assert.match(keyPairProblem({ ...a, certPem: a.certPem.slice(0, 200) })!, /certificate/);
  assert.match(keyPairProblem({ ...a, keyPem: a.keyPem.slice(0, 60) })!, /key is not/);
  assert.match(keyPairProblem({ certPem: a.certPem, keyPem: b.keyPem })!, /another's/);
  assert.match(keyPairProblem(a, Date.now() + 91 * DAY)!, /expired/);
});
