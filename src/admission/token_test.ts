import assert from "node:assert/strict";
import { createClusterCA } from "../etcd/certs.ts";
import { caFingerprint, formatJoinToken, newSecret, parseJoinToken } from "./token.ts";

Deno.test("a token names its CA's fingerprint and carries a secret, and reads back", async () => {
  const ca = await createClusterCA();
  const secret = newSecret();
  assert.match(secret, /^[a-z2-7]{26}$/);
  assert.notEqual(newSecret(), secret);
  const token = formatJoinToken(ca.certPem, secret);
  assert.match(token, /^FOSSORA-1-[0-9a-f]{64}-[a-z2-7]{26}$/);
  assert.deepEqual(parseJoinToken(` ${token}\n`), { caHash: caFingerprint(ca.certPem), secret });
  const other = await createClusterCA();
  assert.notEqual(caFingerprint(other.certPem), caFingerprint(ca.certPem));
});

Deno.test("a mistyped or foreign token says what to do", () => {
  assert.match(parseJoinToken("SWMTKN-1-abc-def") as string, /starts with FOSSORA-1-/);
  assert.match(parseJoinToken(`FOSSORA-1-${"a".repeat(63)}-abcdefghijklmnop`) as string, /cut/);
  assert.match(parseJoinToken(`FOSSORA-1-${"a".repeat(64)}-short`) as string, /cut/);
  assert.match(parseJoinToken(`FOSSORA-1-${"a".repeat(64)}-UPPERCASEUPPERCASE`) as string, /cut/);
});
