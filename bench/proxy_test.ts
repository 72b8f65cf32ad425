import assert from "node:assert/strict";
import { curlHttpsArgs, nginxProxyConf, parseCurlTls, wrkArgs } from "./proxy.ts";

const ROUTES = [
  { host: "bench.fossora.test", address: "127.0.0.1", port: 32769 },
  { host: "bench-ws.fossora.test", address: "192.0.2.2", port: 32770, websocket: true },
];

function serverOf(conf: string, host: string): string {
  const at = conf.indexOf(`server_name ${host};`);
  assert.ok(at > 0, `no server for ${host}`);
  return conf.slice(at, conf.indexOf("\n  }", at));
}

Deno.test("the reference nginx proxies each Host to its backend over kept-alive connections, one worker", () => {
  const conf = nginxProxyConf("/tmp/x", 8081, ROUTES);
  assert.match(conf, /^worker_processes 1;$/m);
  assert.match(conf, /upstream b0 \{\s+server 127\.0\.0\.1:32769;\s+keepalive 64;/);
  assert.equal(conf.match(/listen 127\.0\.0\.1:8081;/g)?.length, 2);
  assert.match(conf, /pid \/tmp\/x\/nginx\.pid;/);
  const http = serverOf(conf, "bench.fossora.test");
  assert.match(http, /proxy_pass http:\/\/b0;/);
  assert.match(http, /proxy_http_version 1\.1;/);
  assert.match(http, /proxy_set_header Connection "";/);
});

Deno.test("the reference nginx upgrades WebSockets on their own connection", () => {
  const conf = nginxProxyConf("/tmp/x", 8081, ROUTES);
  assert.match(conf, /upstream b1 \{\s+server 192\.0\.2\.2:32770;\s+\}/, "no keep-alive pool");
  const ws = serverOf(conf, "bench-ws.fossora.test");
  assert.match(ws, /proxy_pass http:\/\/b1;/);
  assert.match(ws, /proxy_set_header Upgrade \$http_upgrade;/);
  assert.match(ws, /proxy_set_header Connection "upgrade";/);
});

Deno.test("the reference nginx streams bodies of any size without temp files, 64 KiB buffers", () => {
  const conf = nginxProxyConf("/tmp/x", 8081, ROUTES);
  for (
    const line of [
      "client_max_body_size 0;",
      "proxy_request_buffering off;",
      "proxy_max_temp_file_size 0;",
      "proxy_buffers 8 64k;",
      "client_body_buffer_size 64k;",
    ]
  ) assert.ok(conf.includes(line), `missing ${line}`);
});

Deno.test("wrk is asked for latency percentiles with the service's Host header", () => {
  const args = wrkArgs(8080, "bench.fossora.test", { durationS: 10, connections: 64 });
  assert.deepEqual(args.slice(0, 4), ["-t1", "-c64", "-d10s", "--latency"]);
  assert.equal(args[args.indexOf("-H") + 1], "Host: bench.fossora.test");
  assert.equal(args.at(-1), "http://127.0.0.1:8080/");
  const direct = wrkArgs(
    32769,
    "bench.fossora.test",
    { durationS: 1, connections: 1 },
    { address: "192.0.2.2" },
  );
  assert.equal(direct.at(-1), "http://192.0.2.2:32769/");
});

Deno.test("wrk over HTTPS: an https:// URL at the address, the same load and Host header", () => {
  const load = { durationS: 10, connections: 64 };
  const args = wrkArgs(8443, "bench.fossora.test", load, { https: true });
  assert.equal(args.at(-1), "https://127.0.0.1:8443/");
  assert.deepEqual(args.slice(0, -1), wrkArgs(8443, "bench.fossora.test", load).slice(0, -1));
});

const TLS = { port: 8443, cert: "/d/pki/proxy.crt", key: "/d/pki/proxy.key" };

Deno.test("the reference nginx also listens with TLS, the given certificate, the same upstreams", () => {
  const plain = nginxProxyConf("/tmp/x", 8081, ROUTES);
  assert.doesNotMatch(plain, /ssl/, "no TLS unless asked");
  const conf = nginxProxyConf("/tmp/x", 8081, ROUTES, TLS);
  assert.match(conf, /^\s+ssl_certificate \/d\/pki\/proxy\.crt;$/m);
  assert.match(conf, /^\s+ssl_certificate_key \/d\/pki\/proxy\.key;$/m);
  assert.match(
    conf,
    /^\s+ssl_protocols TLSv1\.2 TLSv1\.3;$/m,
    "TLS 1.3 as the agent, on nginx 1.22 too",
  );
  assert.doesNotMatch(conf, /http2|ssl_verify|proxy_ssl/, "HTTP/1.1 clients, plain upstreams");
  for (const r of ROUTES) {
    const listens = new RegExp(
      `listen 127\\.0\\.0\\.1:8081;\\s+listen 127\\.0\\.0\\.1:8443 ssl;\\s+server_name ${
        r.host.replaceAll(".", "\\.")
      };`,
    );
    assert.match(conf, listens, `${r.host} listens on both ports`);
  }
  const upstreams = (c: string) => c.slice(c.indexOf("upstream"));
  assert.equal(
    upstreams(conf).replaceAll(/\n\s+listen 127\.0\.0\.1:8443 ssl;/g, ""),
    upstreams(plain),
    "the servers are the plain ones plus the TLS listener",
  );
});

Deno.test("curl checks HTTPS against the CA, naming the service, dialling 127.0.0.1", () => {
  const args = curlHttpsArgs(8443, "bench.fossora.test", "/d/pki/ca.crt");
  assert.equal(args[args.indexOf("--cacert") + 1], "/d/pki/ca.crt");
  assert.equal(args[args.indexOf("--resolve") + 1], "bench.fossora.test:8443:127.0.0.1");
  assert.equal(args.at(-1), "https://bench.fossora.test:8443/");
  assert.ok(!args.includes("-k") && !args.includes("--insecure"), "the certificate is checked");
  assert.ok(args.includes("-v"), "the TLS session is printed");
  assert.equal(args[args.indexOf("-w") + 1], "\n%{http_code}");
});

const CURL_V = `*   Trying 127.0.0.1:8443...
* Connected to bench.fossora.test (127.0.0.1) port 8443 (#0)
* ALPN: offers http/1.1
*  CAfile: /d/pki/ca.crt
*  CApath: /etc/ssl/certs
* TLSv1.3 (OUT), TLS handshake, Client hello (1):
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384
* ALPN: server accepted http/1.1
* Server certificate:
*  subject: CN=fossora proxy
*  start date: Dec  2 13:00:00 2026 GMT
*  expire date: Mar  2 13:00:00 2027 GMT
*  subjectAltName: host "bench.fossora.test" matched cert's "*.fossora.test"
*  issuer: CN=fossora cluster CA
*  SSL certificate verify ok.
> GET / HTTP/1.1
> Host: bench.fossora.test:8443
`;

Deno.test("the TLS session and the certificate are read from curl -v", () => {
  assert.deepEqual(parseCurlTls(CURL_V), {
    cipher: "TLSv1.3 / TLS_AES_256_GCM_SHA384",
    certificate:
      "CN=fossora proxy, Dec  2 13:00:00 2026 GMT to Mar  2 13:00:00 2027 GMT, issued by CN=fossora cluster CA",
  });
  assert.throws(
    () => parseCurlTls(CURL_V.replace(/^\* {2}issuer.*$/m, "")),
    /no TLS session or no server certificate/,
  );
  assert.throws(() => parseCurlTls("* Connected\n"), /no TLS session/);
});

async function runs(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd}: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test("nginx accepts the reference config, with TLS too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-test-" });
  try {
    const check = async (conf: string) => {
      await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
      await runs("nginx", ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`]);
    };
    await check(nginxProxyConf(dir, 8081, ROUTES));
    // nginx -t loads the certificate and key, so they must be real (a self-signed pair).
    const tls = { port: 8443, cert: `${dir}/proxy.crt`, key: `${dir}/proxy.key` };
    await runs("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=bench.fossora.test",
      "-keyout",
      tls.key,
      "-out",
      tls.cert,
    ]);
    await check(nginxProxyConf(dir, 8081, ROUTES, tls));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
