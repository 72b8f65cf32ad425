import assert from "node:assert/strict";
import { bearerToken, isAuthorized, timingSafeEqual } from "./auth.ts";

Deno.test("timingSafeEqual is true only for identical strings", () => {
  assert.equal(timingSafeEqual("abc", "abc"), true);
  assert.equal(timingSafeEqual("abd", "abc"), false);
  assert.equal(timingSafeEqual("ab", "abc"), false);
  assert.equal(timingSafeEqual("abcd", "abc"), false);
  assert.equal(timingSafeEqual("", "abc"), false);
  assert.equal(timingSafeEqual("é", "é"), true);
});

Deno.test("bearerToken reads the token of a Bearer header, any case of the scheme", () => {
  assert.equal(bearerToken("Bearer s3cret"), "s3cret");
  assert.equal(bearerToken("bearer  s3cret "), "s3cret");
  assert.equal(bearerToken("Basic dXNlcjpwYXNz"), undefined);
  assert.equal(bearerToken("Bearer"), undefined);
  assert.equal(bearerToken("Bearer a b"), undefined);
  assert.equal(bearerToken(null), undefined);
});

Deno.test("isAuthorized refuses everything when the expected token is empty", () => {
  assert.equal(isAuthorized("Bearer x", "x"), true);
  assert.equal(isAuthorized("Bearer x", "y"), false);
  assert.equal(isAuthorized(undefined, ""), false);
  assert.equal(isAuthorized("Bearer ", ""), false);
});
