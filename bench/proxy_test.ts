import assert from "node:assert/strict";
import { nginxProxyConf, wrkArgs } from "./proxy.ts";

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
    "192.0.2.2",
  );
  assert.equal(direct.at(-1), "http://192.0.2.2:32769/");
});

Deno.test("nginx accepts the reference config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-test-" });
  try {
    await Deno.writeTextFile(`${dir}/nginx.conf`, nginxProxyConf(dir, 8081, ROUTES));
    const out = await new Deno.Command("nginx", {
      args: ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
