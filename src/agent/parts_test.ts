import assert from "node:assert/strict";
import { GRPCUnavailableError } from "etcd3";
import { ApiError } from "../api/mod.ts";
import { ConflictError } from "../state/mod.ts";
import { etcdCall } from "./parts.ts";

const never = () => new Promise<never>(() => {});

Deno.test("a call that hangs past the timeout is answered with what diagnose says", async () => {
  const started = Date.now();
  const err = await etcdCall(
    never,
    () => Promise.resolve(new ApiError(503, "quorum_lost", "two voters are missing")),
    100,
  ).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, "quorum_lost");
  assert.ok(Date.now() - started < 1000);
});

Deno.test("with nothing to diagnose, a hanging call is etcd_unavailable with what to do", async () => {
  const err = await etcdCall(never, () => Promise.resolve(undefined), 50).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 503);
  assert.equal(err.code, "etcd_unavailable");
  assert.match(err.message, /no answer within 0\.05 s; try again in a few seconds/);
  // A diagnosis that itself fails does not hide the answer.
  const again = await etcdCall(never, () => Promise.reject(new Error("x")), 50).catch((e) => e);
  assert.equal(again.code, "etcd_unavailable");
});

Deno.test("a conflict is 409 and other errors pass through; a quick answer is returned as is", async () => {
  const conflict = await etcdCall(() => Promise.reject(new ConflictError("changed meanwhile")))
    .catch((e) => e);
  assert.equal(conflict.status, 409);
  const other = new TypeError("a bug");
  assert.equal(await etcdCall(() => Promise.reject(other)).catch((e) => e), other);
  assert.equal(await etcdCall(() => Promise.resolve(42)), 42);
});

Deno.test("a dropped gRPC connection is diagnosed like an etcd failure, not answered with a 500", async () => {
  const dropped = () =>
    Promise.reject(new GRPCUnavailableError("14 UNAVAILABLE: Connection dropped"));
  const lost = await etcdCall(
    dropped,
    () => Promise.resolve(new ApiError(503, "quorum_lost", "two voters are missing")),
  ).catch((e) => e);
  assert.equal(lost.code, "quorum_lost");
  const unknown = await etcdCall(dropped, () => Promise.resolve(undefined)).catch((e) => e);
  assert.equal(unknown.code, "etcd_unavailable");
  assert.match(unknown.message, /Connection dropped; try again in a few seconds/);
});

Deno.test("a call still pending after slowMs is answered at once when diagnose finds a problem", async () => {
  const started = Date.now();
  const err = await etcdCall(
    never,
    () => Promise.resolve(new ApiError(503, "quorum_lost", "two voters are missing")),
    10_000,
    50,
  ).catch((e) => e);
  assert.equal(err.code, "quorum_lost");
  assert.ok(Date.now() - started < 5000, "not after the timeout");
  // Nothing found: the call goes on, and its answer is the answer.
  let done: (v: number) => void = () => {};
  const slowCall = () => new Promise<number>((r) => done = r);
  const answer = etcdCall(slowCall, () => Promise.resolve(undefined), 10_000, 20);
  setTimeout(() => done(7), 100);
  assert.equal(await answer, 7);
});
