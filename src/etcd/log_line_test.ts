import assert from "node:assert/strict";
import { parseEtcdLine } from "./log_line.ts";

Deno.test("etcd's JSON lines keep their level, message and fields", () => {
  const line =
    '{"level":"warn","ts":"2026-11-23T14:19:15.932Z","caller":"auth/store.go:1380","msg":"simple token is not cryptographically signed","took":"2ms"}';
  assert.deepEqual(parseEtcdLine(line), {
    level: "warn",
    msg: "simple token is not cryptographically signed",
    fields: { took: "2ms" },
  });
});

Deno.test("a Go panic from etcd is an error, grpc chatter is debug, blanks are dropped", () => {
  assert.equal(parseEtcdLine("panic: runtime error: index out of range")?.level, "error");
  assert.equal(parseEtcdLine('{"level":"fatal","msg":"cannot open database"}')?.level, "error");
  assert.equal(
    parseEtcdLine("WARNING: 2026/11/23 grpc: addrConn.createTransport failed")?.level,
    "debug",
  );
  assert.equal(parseEtcdLine("   "), undefined);
  assert.equal(parseEtcdLine("{not json")?.level, "info");
});
