/**
 * Request smuggling: raw requests of every known shape against the real proxy, in front of a
 * kept-alive backend that records what it reads. Each case says what the backend must see: the
 * request the client meant (with its body as a body), or nothing at all because the proxy
 * refused it. After each case a plain request on a new connection must arrive alone, so no byte
 * of the case was left on the pooled backend connection to prefix it.
 */
import assert from "node:assert/strict";
import { rawExchange, type Recorded, startRecordingBackend } from "./raw_test_util.ts";
import { replica, service, until, viewWith, withProxyOf } from "./test_util.ts";
import { ServiceProxy } from "./server.ts";

const domain = "fossora.home.arpa";
const H = `web.${domain}`;
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${H}\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`;

interface Case {
  name: string;
  raw: string;
  /** The status the client must get first. */
  status: number;
  /** What the backend must have read, in order; none when refused. */
  seen: Partial<Pick<Recorded, "method" | "target" | "body">>[];
  /** Header checks on the one request the backend saw. */
  headers?: Record<string, string | undefined>;
}

const req = (line: string, ...fields: string[]) =>
  `${line}\r\n${[`Host: ${H}`, ...fields].join("\r\n")}\r\n\r\n`;

const CASES: Case[] = [
  {
    name: "Connection naming Content-Length keeps the body framed (GET)",
    raw: req("GET / HTTP/1.1", "Connection: content-length", `Content-Length: ${SMUGGLED.length}`) +
      SMUGGLED,
    status: 200,
    seen: [{ method: "GET", target: "/", body: SMUGGLED }],
  },
  ...["HEAD", "DELETE", "OPTIONS"].map((m) => ({
    name: `Connection naming Content-Length keeps the body framed (${m})`,
    raw:
      req(`${m} / HTTP/1.1`, "Connection: Content-Length", `Content-Length: ${SMUGGLED.length}`) +
      SMUGGLED,
    status: 200,
    seen: [{ method: m, target: "/", body: SMUGGLED }],
  })),
  {
    name: "Connection naming Transfer-Encoding keeps the chunks framed",
    raw: req("POST / HTTP/1.1", "Connection: transfer-encoding", "Transfer-Encoding: chunked") +
      `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    status: 200,
    seen: [{ method: "POST", target: "/", body: SMUGGLED }],
  },
  {
    name: "Connection naming Host keeps the Host",
    raw: req("GET /h HTTP/1.1", "Connection: host"),
    status: 200,
    seen: [{ method: "GET", target: "/h", body: "" }],
    headers: { host: H },
  },
  {
    name: "Content-Length and Transfer-Encoding together",
    raw: req("POST / HTTP/1.1", "Content-Length: 4", "Transfer-Encoding: chunked") +
      `0\r\n\r\n${SMUGGLED}`,
    status: 400,
    seen: [],
  },
  {
    name: "two equal Content-Length fields",
    raw: req("POST / HTTP/1.1", "Content-Length: 3", "Content-Length: 3") + "abc",
    status: 400,
    seen: [],
  },
  {
    name: "two different Content-Length fields",
    raw: req("POST / HTTP/1.1", "Content-Length: 3", "Content-Length: 40") + "abc" + SMUGGLED,
    status: 400,
    seen: [],
  },
  {
    name: "a Content-Length list",
    raw: req("POST / HTTP/1.1", "Content-Length: 3, 3") + "abc",
    status: 400,
    seen: [],
  },
  ...["+3", "-1", "0x3", "3 3", "3.0", "99999999999999999999"].map((v) => ({
    name: `Content-Length ${JSON.stringify(v)}`,
    raw: req("POST / HTTP/1.1", `Content-Length: ${v}`) + "abc",
    status: 400,
    seen: [],
  })),
  ...[
    "chunked, chunked",
    "gzip, chunked",
    "chunked, identity",
    "identity",
    "xchunked",
    "chunked;q=1",
    '"chunked"',
  ].map((v) => ({
    name: `Transfer-Encoding ${JSON.stringify(v)}`,
    raw: req("POST / HTTP/1.1", `Transfer-Encoding: ${v}`) + `0\r\n\r\n${SMUGGLED}`,
    status: 501,
    seen: [],
  })),
  {
    name: "two Transfer-Encoding fields",
    raw: req("POST / HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") +
      "0\r\n\r\n",
    status: 501,
    seen: [],
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    raw: req("POST / HTTP/1.0", "Transfer-Encoding: chunked") + `0\r\n\r\n${SMUGGLED}`,
    status: 400,
    seen: [],
  },
  {
    name: "Transfer-Encoding with a vertical tab",
    raw: req("POST / HTTP/1.1", "Transfer-Encoding:\x0bchunked") + "0\r\n\r\n",
    status: 400,
    seen: [],
  },
  {
    name: "a folded header line (obs-fold)",
    raw: req("POST / HTTP/1.1", "Content-Length: 0", " 44", "X-A: b") + SMUGGLED,
    status: 400,
    seen: [],
  },
  {
    name: "a space before the colon",
    raw: req("POST / HTTP/1.1", "Content-Length : 4") + "abcd",
    status: 400,
    seen: [],
  },
  {
    name: "a bare CR in a field",
    raw: req("GET / HTTP/1.1", "X-A: a\rContent-Length: 4") + "abcd",
    status: 400,
    seen: [],
  },
  {
    name: "a NUL in a field value",
    raw: req("GET / HTTP/1.1", "X-A: a\x00b"),
    status: 400,
    seen: [],
  },
  {
    name: "a control character in a field name",
    raw: req("GET / HTTP/1.1", "Content-Length\x0b: 4") + "abcd",
    status: 400,
    seen: [],
  },
  {
    name: "two Host fields",
    raw: req("GET / HTTP/1.1", `Host: other.${domain}`),
    status: 400,
    seen: [],
  },
  {
    name: "no Host in HTTP/1.1",
    raw: "GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
    status: 400,
    seen: [],
  },
  {
    name: "a request line with extra spaces",
    raw: req("GET  / HTTP/1.1"),
    status: 400,
    seen: [],
  },
  {
    name: "HTTP/2 prior knowledge",
    raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    status: 505,
    seen: [],
  },
  {
    name: "CONNECT (no open proxy)",
    raw: `CONNECT ${H}:443 HTTP/1.1\r\nHost: ${H}:443\r\n\r\n`,
    status: 405,
    seen: [],
  },
  {
    name: "an absolute-form target for another host (no open proxy)",
    raw: req("GET http://example.com/ HTTP/1.1"),
    status: 404,
    seen: [],
  },
  {
    name: "an absolute-form target is routed by its authority and sent as a path",
    raw: `GET http://${H}/abs?q=1 HTTP/1.1\r\nHost: other.${domain}\r\n\r\n`,
    status: 200,
    seen: [{ method: "GET", target: "/abs?q=1", body: "" }],
    headers: { host: H },
  },
  ...[
    ["a chunk size that is not hex", "zz\r\nabc\r\n0\r\n\r\n"],
    ["a 0x chunk size", "0x3\r\nabc\r\n0\r\n\r\n"],
    ["an overlong chunk size", "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"],
    ["a chunk size line ending in a lone LF", "3\nabc\r\n0\r\n\r\n"],
    ["chunk data not followed by CRLF", `3\r\nabcX${SMUGGLED}`],
    ["a negative chunk size", "-3\r\nabc\r\n0\r\n\r\n"],
    ["a space inside the chunk size", "3 3\r\nabc\r\n0\r\n\r\n"],
  ].map(([what, body]) => ({
    name: what,
    raw: req("POST / HTTP/1.1", "Transfer-Encoding: chunked") + body,
    status: 400,
    seen: [],
  })),
  {
    name: "chunk extensions and trailers are accepted, trailers not passed on",
    raw: req("POST / HTTP/1.1", "Transfer-Encoding: chunked") +
      "3;name=value\r\nabc\r\n0\r\nContent-Length: 99\r\nX-T: 1\r\n\r\n",
    status: 200,
    seen: [{ method: "POST", target: "/", body: "abc" }],
    headers: { "content-length": undefined, "x-t": undefined },
  },
  {
    name: "pipelined requests arrive as the same requests, in order",
    raw: req("GET /1 HTTP/1.1") + req("POST /2 HTTP/1.1", "Content-Length: 2") + "hi" +
      req("GET /3 HTTP/1.1"),
    status: 200,
    seen: [
      { method: "GET", target: "/1", body: "" },
      { method: "POST", target: "/2", body: "hi" },
      { method: "GET", target: "/3", body: "" },
    ],
  },
  {
    name: "an h2c upgrade is served as HTTP/1.1",
    raw: req(
      "GET /h2c HTTP/1.1",
      "Connection: Upgrade, HTTP2-Settings",
      "Upgrade: h2c",
      "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA",
    ),
    status: 200,
    seen: [{ method: "GET", target: "/h2c", body: "" }],
    headers: { upgrade: undefined, "http2-settings": undefined, connection: undefined },
  },
  {
    name: "lone LF line endings in a head are read and written anew with CRLF",
    raw: `GET /lf HTTP/1.1\nHost: ${H}\nX-A: 1\n\n`,
    status: 200,
    seen: [{ method: "GET", target: "/lf", body: "" }],
    headers: { "x-a": "1" },
  },
  {
    name: "a path passes byte for byte",
    raw: req("GET //a/../b/%2e%2e/%2F?x=//y HTTP/1.1"),
    status: 200,
    seen: [{ method: "GET", target: "//a/../b/%2e%2e/%2F?x=//y", body: "" }],
  },
];

Deno.test("the backend sees exactly the requests the client meant", async (t) => {
  const backend = startRecordingBackend();
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  try {
    await withProxyOf(ServiceProxy, domain, view, async (proxy) => {
      for (const c of CASES) {
        await t.step(c.name, async () => {
          backend.requests.length = 0;
          const got = await rawExchange(proxy.port, c.raw, { wantResponses: c.seen.length || 1 });
          assert.equal(got.statuses[0], c.status, got.text.slice(0, 300));
          const seen = backend.requests.map((r) => ({
            method: r.method,
            target: r.target,
            body: r.body,
          }));
          assert.deepEqual(seen, c.seen.map((s) => ({ body: "", ...s })));
          for (const [k, v] of Object.entries(c.headers ?? {})) {
            assert.equal(backend.requests[0]?.headers[k], v, `header ${k}`);
          }
          for (const r of backend.requests) {
            assert.equal(r.headers["x-forwarded-for"], "127.0.0.1", "no forged client address");
          }
          // A clean request on a new connection arrives alone: nothing was left on the pool.
          backend.requests.length = 0;
          const next = await rawExchange(proxy.port, req("GET /next HTTP/1.1"));
          assert.equal(next.statuses[0], 200);
          assert.deepEqual(backend.requests.map((r) => r.target), ["/next"]);
        });
      }
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a smuggled request cannot answer another visitor behind a slow response", async () => {
  // The attack of the issue: the first response is slow, a second visitor comes on another
  // connection; with smuggling, the visitor would get the smuggled request's answer.
  const backend = startRecordingBackend(async (r) => {
    if (r.target === "/slow") await new Promise((res) => setTimeout(res, 200));
    const body = `for ${r.target}`;
    return `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  });
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  try {
    await withProxyOf(ServiceProxy, domain, view, async (proxy) => {
      const attack = rawExchange(
        proxy.port,
        req(
          "GET /slow HTTP/1.1",
          "Connection: content-length",
          `Content-Length: ${SMUGGLED.length}`,
        ) +
          SMUGGLED,
      );
      await until(
        "the slow request at the backend",
        () => backend.requests.some((r) => r.target === "/slow"),
      );
      const visitor = await rawExchange(proxy.port, req("GET /mine HTTP/1.1"));
      assert.match(visitor.text, /for \/mine$/);
      assert.match((await attack).text, /for \/slow$/);
      assert.ok(!backend.requests.some((r) => r.target === "/smuggled"));
    });
  } finally {
    await backend.close();
  }
});
