/**
 * The proxy figure: wrk against the agent's proxy and against nginx as a reverse proxy in front
 * of the same backend replica. nginx runs with one worker and a keep-alive upstream, the setup a
 * home user would reach for.
 * @module
 */
import { httpRequest } from "../test/helpers/http.ts";
import { freePort } from "../test/helpers/ports.ts";
import { Daemon, run, tcpOpen } from "./exec.ts";
import { parseWrk, type WrkResult } from "./tools.ts";

/** How one wrk run is shaped. */
export interface WrkLoad {
  durationS: number;
  connections: number;
}

/** nginx.conf for the reference proxy: one worker, keep-alive to the backend, files in `dir`. */
export function nginxProxyConf(dir: string, listenPort: number, backendPort: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`;
}

/** The wrk arguments for one run against 127.0.0.1:port with `Host: host`. */
export function wrkArgs(port: number, host: string, load: WrkLoad): string[] {
  return [
    "-t1",
    `-c${load.connections}`,
    `-d${load.durationS}s`,
    "--latency",
    "--timeout",
    "2s",
    "-H",
    `Host: ${host}`,
    `http://127.0.0.1:${port}/`,
  ];
}

/** Runs wrk once and parses its report. */
export async function runWrk(port: number, host: string, load: WrkLoad): Promise<WrkResult> {
  const r = await run("wrk", wrkArgs(port, host, load), (load.durationS + 20) * 1000);
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr.trim()}`);
  return parseWrk(r.stdout);
}

/** A warm-up run (not reported) followed by the measured one. */
export async function measureProxy(
  port: number,
  host: string,
  load: WrkLoad,
  warmupS: number,
): Promise<WrkResult> {
  if (warmupS > 0) await runWrk(port, host, { ...load, durationS: warmupS });
  return await runWrk(port, host, load);
}

/** Fails unless GET / through 127.0.0.1:port with `Host: host` answers 200 with `body`. */
export async function expectBody(port: number, host: string, body: string): Promise<void> {
  const res = await httpRequest(port, host);
  if (res.status !== 200 || res.body !== body) {
    throw new Error(
      `GET http://${host}/ via 127.0.0.1:${port} answered ${res.status} ${
        JSON.stringify(res.body.slice(0, 200))
      }, expected 200 ${JSON.stringify(body)}`,
    );
  }
}

/** A running reference nginx; disposing it stops nginx and removes its files. */
export interface NginxProxy extends AsyncDisposable {
  port: number;
}

/** Starts nginx on a free loopback port as a reverse proxy to 127.0.0.1:backendPort. */
export async function startNginxProxy(backendPort: number): Promise<NginxProxy> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-nginx-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxProxyConf(dir, port, backendPort));
  const conf = `${dir}/nginx.conf`;
  const check = await run("nginx", ["-t", "-q", "-p", dir, "-c", conf], 10_000);
  if (check.code !== 0) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`nginx rejected the reference config: ${check.stderr.trim()}`);
  }
  const daemon = new Daemon("nginx", "nginx", ["-p", dir, "-c", conf, "-g", "daemon off;"]);
  const dispose = async () => {
    await daemon[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await daemon.ready(() => tcpOpen(port));
  } catch (err) {
    await dispose();
    throw err;
  }
  return { port, [Symbol.asyncDispose]: dispose };
}
