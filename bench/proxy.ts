/**
 * The request figures: wrk against the agent's proxy and against nginx as a reverse proxy in
 * front of the same backend replicas. nginx runs with one worker (the agent is one process too),
 * keep-alive upstreams, and streams bodies both ways as fossora does, so both do the same work.
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

/** A backend nginx proxies to, by the Host it is asked for. */
export interface NginxRoute {
  /** The Host (server_name) clients use: the service's name under the agent's domain. */
  host: string;
  /** The replica's published address and port. */
  address: string;
  port: number;
  /** WebSocket backend: pass Upgrade on, one connection per client, no keep-alive pool. */
  websocket?: boolean;
}

/**
 * nginx.conf for the reference proxy: one worker, files in `dir`, one server per route. Bodies
 * are streamed (no request buffering, no temp files for responses), as fossora streams them,
 * through 64 KiB buffers as fossora's (nginx's default 4-8 KiB ones halve its download rate
 * here); the upstream pool keeps 64 idle connections, fossora's default per replica.
 */
export function nginxProxyConf(dir: string, listenPort: number, routes: NginxRoute[]): string {
  const blocks = routes.map((r, i) => {
    const common = `proxy_pass http://b${i};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;`;
    const location = r.websocket
      ? `${common}
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;`
      : `${common}
      proxy_set_header Connection "";`;
    return `  upstream b${i} {
    server ${r.address}:${r.port};${
      r.websocket ? "" : `
    keepalive 64;
    keepalive_requests 1000000;`
    }
  }
  server {
    listen 127.0.0.1:${listenPort};
    server_name ${r.host};
    location / {
      ${location}
    }
  }`;
  });
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_buffer_size 64k;
  proxy_request_buffering off;
  proxy_buffer_size 64k;
  proxy_buffers 8 64k;
  proxy_busy_buffers_size 128k;
  proxy_max_temp_file_size 0;
${blocks.join("\n")}
}
`;
}

/** The wrk arguments for one run against address:port with `Host: host`. */
export function wrkArgs(
  port: number,
  host: string,
  load: WrkLoad,
  address = "127.0.0.1",
): string[] {
  return [
    "-t1",
    `-c${load.connections}`,
    `-d${load.durationS}s`,
    "--latency",
    "--timeout",
    "2s",
    "-H",
    `Host: ${host}`,
    `http://${address}:${port}/`,
  ];
}

/** Runs wrk once (against 127.0.0.1 unless `address` is given) and parses its report. */
export async function runWrk(
  port: number,
  host: string,
  load: WrkLoad,
  address?: string,
): Promise<WrkResult> {
  const r = await run("wrk", wrkArgs(port, host, load, address), (load.durationS + 20) * 1000);
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr.trim()}`);
  return parseWrk(r.stdout);
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
  /** The master process's id (its workers are its children). */
  pid: number;
}

/** Starts nginx on a free loopback port as a reverse proxy to the routes' backends. */
export async function startNginxProxy(routes: NginxRoute[]): Promise<NginxProxy> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-nginx-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxProxyConf(dir, port, routes));
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
  return { port, pid: daemon.pid, [Symbol.asyncDispose]: dispose };
}
