import assert from "node:assert/strict";
import {
  bytesOf,
  endToEnd,
  fieldLines,
  HeadError,
  latin1,
  parseRequestHead,
  parseResponseHead,
  tokens,
} from "./head.ts";

const request = (text: string, max = 100) => parseRequestHead(bytesOf(text), max);

function refused(text: string, status: number, why: RegExp): void {
  assert.throws(
    () => request(text),
    (err) => err instanceof HeadError && err.status === status && why.test(err.message),
    JSON.stringify(text),
  );
}

Deno.test("a request head gives its method, target, fields as spelled and lower-cased names", () => {
  const r = request(
    "GET /a//b/../c?x=%2F HTTP/1.1\r\nHost: app.home.arpa\r\nX-Thing:  spaced \t\r\n" +
      "Accept:\r\nCookie: a=1; b=2",
  );
  assert.equal(r.method, "GET");
  assert.equal(r.target, "/a//b/../c?x=%2F");
  assert.equal(r.minor, 1);
  assert.equal(r.host, "app.home.arpa");
  assert.deepEqual(r.fields, [
    { name: "host", raw: "Host", value: "app.home.arpa" },
    { name: "x-thing", raw: "X-Thing", value: "spaced" },
    { name: "accept", raw: "Accept", value: "" },
    { name: "cookie", raw: "Cookie", value: "a=1; b=2" },
  ]);
  assert.equal(r.contentLength, undefined);
  assert.equal(r.chunked, false);
});

Deno.test("a request head with bare LF line ends reads as one with CRLF", () => {
  const r = request("POST /up HTTP/1.1\nHost: a\nContent-Length: 5\nConnection: Keep-Alive, TE");
  assert.equal(r.contentLength, 5);
  assert.deepEqual(r.connection, ["keep-alive", "te"]);
  assert.deepEqual(r.fields.map((f) => f.value), ["a", "5", "Keep-Alive, TE"]);
});

Deno.test("bytes above 0x7f in a field value survive the round trip", () => {
  const bytes = new Uint8Array([...bytesOf("GET / HTTP/1.1\r\nHost: a\r\nX-Name: "), 0xe9, 0xff]);
  const r = parseRequestHead(bytes, 100);
  assert.deepEqual(bytesOf(fieldLines(r.fields.slice(1))), bytesOf("X-Name: \xe9\xff\r\n"));
  assert.equal(latin1(bytesOf("\xe9\xff")), "\xe9\xff");
});

Deno.test("malformed request heads are refused with the status and the reason", () => {
  refused("GET / HTTP/1.1\r\nHost: a\r\n folded", 400, /obs-fold/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb", 400, /bare CR/);
  refused("GET /\r HTTP/1.1\r\nHost: a", 400, /bare CR/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b", 400, /control character/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb", 400, /control character/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX-A : b", 400, /not a token/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX\x01A: b", 400, /not a token/);
  refused("GET / HTTP/1.1\r\nHost: a\r\n: b", 400, /without a name/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nno colon here", 400, /without a name/);
  refused("GET / HTTP/1.1\r\nHost: a\r\n\r\nX: b", 400, /without a name/);
  refused("GET  / HTTP/1.1\r\nHost: a", 400, /request line/);
  refused("GET / HTTP/1.1 x\r\nHost: a", 400, /request line/);
  refused("GET / HTTP/2.0\r\nHost: a", 505, /HTTP\/1.0 and HTTP\/1.1/);
  refused("GET / HTTX/1.1\r\nHost: a", 400, /HTTP version/);
  refused("G(T / HTTP/1.1\r\nHost: a", 400, /method/);
  refused("GET /\x7f HTTP/1.1\r\nHost: a", 400, /control character/);
  refused("GET / HTTP/1.1\r\nX: b", 400, /no Host/);
  refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a", 400, /two Host/);
  refused("GET / HTTP/1.1\r\nHost: a b", 400, /host name/);
  refused("CONNECT a:443 HTTP/1.1\r\nHost: a", 405, /forward proxy/);
  refused("GET a.b/c HTTP/1.1\r\nHost: a", 400, /neither a path nor a URL/);
  refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1", 400, /two/);
  refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1", 400, /not a number/);
  refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1", 400, /not a number/);
  refused(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked",
    400,
    /both/,
  );
  refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked", 501, /other than/);
  refused(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    501,
    /other than/,
  );
  refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked", 400, /HTTP\/1.0/);
});

Deno.test("more fields than the limit get 431", () => {
  const head = "GET / HTTP/1.1\r\nHost: a\r\n" + "X: 1\r\n".repeat(3) + "Y: 2";
  assert.equal(request(head, 5).fields.length, 5);
  assert.throws(() => request(head, 4), (e) => e instanceof HeadError && e.status === 431);
});

Deno.test("an absolute-form target gives the host and the path", () => {
  const r = request("GET http://Other.Example:8080?q=1 HTTP/1.1\r\nHost: a");
  assert.equal(r.host, "Other.Example:8080");
  assert.equal(r.target, "/?q=1");
  assert.equal(request("OPTIONS * HTTP/1.1\r\nHost: a").target, "*");
  assert.equal(request("GET / HTTP/1.0").host, undefined);
  assert.equal(request("GET / HTTP/1.1\r\nHost: [::1]:80").host, "[::1]:80");
});

Deno.test("a response head gives status, reason, framing and its Connection tokens", () => {
  const r = parseResponseHead(
    bytesOf(
      "HTTP/1.1 200 OK fine\r\nContent-Length: 3\r\ncontent-length: 3\r\nConnection: close\r\nX: y",
    ),
    100,
  );
  assert.ok(typeof r !== "string");
  assert.equal(r.status, 200);
  assert.equal(r.reason, "OK fine");
  assert.equal(r.contentLength, 3);
  assert.deepEqual(r.connection, ["close"]);
  const bare = parseResponseHead(bytesOf("HTTP/1.0 204"), 100);
  assert.ok(typeof bare !== "string");
  assert.equal(bare.reason, "");
  assert.equal(bare.minor, 0);
  const chunked = parseResponseHead(bytesOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked"), 9);
  assert.ok(typeof chunked !== "string" && chunked.chunked);
});

Deno.test("malformed response heads give the reason", () => {
  const reason = (text: string, max = 100) => parseResponseHead(bytesOf(text), max);
  assert.match(String(reason("HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\nB: 3", 2)), /more than 2/);
  assert.match(String(reason("HTTP/1.1 20 OK")), /malformed status line/);
  assert.match(String(reason("HTTP/1.1 200 O\x01K")), /malformed status line/);
  assert.match(String(reason("HTTP/1.1 200 OK\r\nX:\x00")), /control character/);
  assert.match(String(reason("HTTP/1.1 200 OK\r\nX: a\rb")), /bare CR/);
  assert.match(String(reason("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2")), /two/);
  assert.match(String(reason("HTTP/1.1 200 OK\r\n x: folded")), /obs-fold/);
});

Deno.test("Connection may name hop-by-hop fields but never the framing ones or Host", () => {
  const r = request(
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: content-length, x-secret, host, upgrade\r\n" +
      "X-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nX-Kept: 2",
  );
  assert.deepEqual(tokens(r.fields, "connection"), [
    "content-length",
    "x-secret",
    "host",
    "upgrade",
  ]);
  const kept = endToEnd(r.fields, r.connection, new Set(["host"]));
  assert.deepEqual(kept.map((f) => f.name), ["x-kept"]);
  assert.equal(fieldLines(kept), "X-Kept: 2\r\n");
});
