import assert from "node:assert/strict";
import { nginxProxyConf, wrkArgs } from "./proxy.ts";

Deno.test("the reference nginx proxies to the backend over kept-alive connections, one worker", () => {
  const conf = nginxProxyConf("/tmp/x", 8081, 32769);
  assert.match(conf, /^worker_processes 1;$/m);
  assert.match(conf, /server 127\.0\.0\.1:32769;\s+keepalive 32;/);
  assert.match(conf, /listen 127\.0\.0\.1:8081;/);
  assert.match(conf, /proxy_http_version 1\.1;/);
  assert.match(conf, /proxy_set_header Connection "";/);
  assert.match(conf, /pid \/tmp\/x\/nginx\.pid;/);
});

Deno.test("wrk is asked for latency percentiles with the service's Host header", () => {
  const args = wrkArgs(8080, "bench.fossora.test", { durationS: 10, connections: 32 });
  assert.deepEqual(args.slice(0, 4), ["-t1", "-c32", "-d10s", "--latency"]);
  assert.equal(args[args.indexOf("-H") + 1], "Host: bench.fossora.test");
  assert.equal(args.at(-1), "http://127.0.0.1:8080/");
});
