import assert from "node:assert/strict";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  type Heartbeat,
  MAX_HEARTBEAT_BYTES,
} from "./heartbeat.ts";

const key = new TextEncoder().encode("cluster secret");
const hb: Heartbeat = { from: "a1", boot: "b-1", seq: 7, heard: { b2: 120, c3: 0 } };

Deno.test("a heartbeat signed with the cluster's key reads back as sent", () => {
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb, key), key), hb);
});

Deno.test("a heartbeat signed with another key, altered, or cut short is refused, saying why", () => {
  const bytes = encodeHeartbeat(hb, key);
  assert.match(
    decodeHeartbeat(bytes, new TextEncoder().encode("other")) as string,
    /bad signature/,
  );
  const altered = bytes.slice();
  altered[altered.length - 3] ^= 1;
  assert.match(decodeHeartbeat(altered, key) as string, /bad signature/);
  assert.match(decodeHeartbeat(bytes.subarray(0, 20), key) as string, /too short/);
  assert.match(
    decodeHeartbeat(new Uint8Array(MAX_HEARTBEAT_BYTES + 1), key) as string,
    /larger than/,
  );
});

Deno.test("a correctly signed body that is not a heartbeat is refused field by field", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...hb, v: 2 }, /version 1/],
    [{ ...hb, from: "a/b" }, /sender id/],
    [{ ...hb, boot: "" }, /boot id/],
    [{ ...hb, seq: 0 }, /sequence/],
    [{ ...hb, seq: 1.5 }, /sequence/],
    [{ ...hb, heard: [1] }, /heard map/],
    [{ ...hb, heard: { b2: -1 } }, /heard entry/],
    [{ ...hb, heard: { b2: "1" } }, /heard entry/],
    [{ ...hb, heard: { "../x": 1 } }, /heard entry/],
  ];
  for (const [body, why] of cases) {
    // Signed with the right key (the body's own fields override the version), so only the
    // checks of the body can refuse it.
    const bytes = encodeHeartbeat(body as Heartbeat, key);
    assert.match(decodeHeartbeat(bytes, key) as string, why, JSON.stringify(body));
  }
});
