/**
 * The request figures: wrk against the agent's proxy and against nginx as a reverse proxy in
 * front of the same backend replicas. nginx runs with one worker (the agent is one process too),
 * keep-alive upstreams, and streams bodies both ways as fossora does, so both do the same work.
 * Over HTTPS nginx serves the agent's own certificate and key (the same files), HTTP/1.1 as the
 * agent; curl checks each against the cluster CA before wrk (which checks nothing) measures it.
 * @module
 */
import { httpRequest } from "../test/helpers/http.ts";
import { freePort } from "../test/helpers/ports.ts";
import { GiveUp } from "../test/helpers/wait.ts";
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

/** The TLS listener of the reference nginx: its port, and the certificate and key files. */
export interface NginxTls {
  port: number;
  /** PEM files: the agent's own `pki/proxy.crt` and `pki/proxy.key`, so both serve one. */
  cert: string;
  key: string;
}

/**
 * nginx.conf for the reference proxy: one worker, files in `dir`, one server per route. Bodies
 * are streamed (no request buffering, no temp files for responses), as fossora streams them,
 * through 64 KiB buffers as fossora's (nginx's default 4-8 KiB ones halve its download rate
 * here); the upstream pool keeps 64 idle connections, fossora's default per replica. With `tls`,
 * every server also listens there with TLS (HTTP/1.1, kept-alive clients, the same upstreams),
 * TLS 1.2 and 1.3 as the agent (nginx before 1.23.4 offers no TLS 1.3 unless told, and would be
 * measured on TLS 1.2 against the agent's 1.3).
 */
export function nginxProxyConf(
  dir: string,
  listenPort: number,
  routes: NginxRoute[],
  tls?: NginxTls,
): string {
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
    listen 127.0.0.1:${listenPort};${
      tls
        ? `
    listen 127.0.0.1:${tls.port} ssl;`
        : ""
    }
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
${
    tls
      ? `  ssl_certificate ${tls.cert};
  ssl_certificate_key ${tls.key};
  ssl_protocols TLSv1.2 TLSv1.3;
`
      : ""
  }${blocks.join("\n")}
}
`;
}

/** Where wrk sends its requests, besides the port: 127.0.0.1 over plain HTTP unless told. */
export interface WrkTarget {
  address?: string;
  /**
   * https:// to the address: wrk does TLS (with the address as SNI; both proxies serve one
   * certificate whatever the name) and does not check the certificate; see {@link checkHttps}.
   */
  https?: boolean;
}

/** The wrk arguments for one run against address:port with `Host: host`. */
export function wrkArgs(
  port: number,
  host: string,
  load: WrkLoad,
  target: WrkTarget = {},
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
    `${target.https ? "https" : "http"}://${target.address ?? "127.0.0.1"}:${port}/`,
  ];
}

/** Runs wrk once (against http://127.0.0.1 unless `target` says otherwise), parses its report. */
export async function runWrk(
  port: number,
  host: string,
  load: WrkLoad,
  target?: WrkTarget,
): Promise<WrkResult> {
  const r = await run("wrk", wrkArgs(port, host, load, target), (load.durationS + 20) * 1000);
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

/** What curl saw of a TLS connection. */
export interface TlsSession {
  /** Protocol and cipher, as `TLSv1.3 / TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** The certificate curl checked: its subject, validity and issuer, one line. */
  certificate: string;
}

/**
 * curl arguments for one GET https://host:port/ dialled at 127.0.0.1, trusting `caFile`: the
 * name is checked against the certificate as a browser would. `-v` prints the TLS session and
 * the certificate on stderr; stdout is the body, a newline and the status.
 */
export function curlHttpsArgs(port: number, host: string, caFile: string): string[] {
  return [
    "-sS",
    "-v",
    "--http1.1",
    "--max-time",
    "5",
    "--cacert",
    caFile,
    "--resolve",
    `${host}:${port}:127.0.0.1`,
    "-w",
    "\n%{http_code}",
    `https://${host}:${port}/`,
  ];
}

/** The TLS session in what `curl -v` printed on stderr. */
export function parseCurlTls(stderr: string): TlsSession {
  const cipher = stderr.match(/^\* SSL connection using (.+?)\s*$/m)?.[1];
  const cert = ["subject", "start date", "expire date", "issuer"].map((k) =>
    stderr.match(new RegExp(`^\\*\\s+${k}: (.+?)\\s*$`, "m"))?.[1]
  );
  if (!cipher || cert.some((c) => c === undefined)) {
    throw new Error(`curl -v printed no TLS session or no server certificate:\n${stderr}`);
  }
  const [subject, start, end, issuer] = cert;
  return { cipher, certificate: `${subject}, ${start} to ${end}, issued by ${issuer}` };
}

/** curl's exit codes for a certificate it refused (60) or a peer it could not verify (51). */
const CERT_REFUSED = [51, 60];

/**
 * Fails unless GET https://host:port/ through 127.0.0.1, checked against the CA in `caFile`,
 * answers 200 with `body`; returns the TLS session. A refused certificate throws {@link GiveUp}:
 * waiting would not mend it.
 */
export async function checkHttps(
  port: number,
  host: string,
  caFile: string,
  body: string,
): Promise<TlsSession> {
  const r = await run("curl", curlHttpsArgs(port, host, caFile), 10_000);
  const url = `https://${host}:${port}/ (at 127.0.0.1, trusting ${caFile})`;
  const why = r.stderr.split("\n").filter((l) => /^curl: /.test(l)).join("; ");
  if (CERT_REFUSED.includes(r.code)) {
    throw new GiveUp(`curl refused the certificate of ${url}: ${why || `exit ${r.code}`}`);
  }
  if (r.code !== 0) throw new Error(`curl ${url} exited ${r.code}: ${why}`);
  const cut = r.stdout.lastIndexOf("\n");
  const got = r.stdout.slice(0, cut);
  const status = r.stdout.slice(cut + 1);
  if (status !== "200" || got !== body) {
    throw new Error(
      `GET ${url} answered ${status} ${JSON.stringify(got.slice(0, 200))}, expected 200 ${
        JSON.stringify(body)
      }`,
    );
  }
  return parseCurlTls(r.stderr);
}

/** A running reference nginx; disposing it stops nginx and removes its files. */
export interface NginxProxy extends AsyncDisposable {
  port: number;
  /** The TLS port, when started with a certificate. */
  httpsPort?: number;
  /** The master process's id (its workers are its children). */
  pid: number;
}

/**
 * Starts nginx on a free loopback port as a reverse proxy to the routes' backends; with `tls`
 * (the certificate and key files), on a second free port with TLS too.
 */
export async function startNginxProxy(
  routes: NginxRoute[],
  tls?: { cert: string; key: string },
): Promise<NginxProxy> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-nginx-" });
  const port = freePort();
  const listenTls = tls && { ...tls, port: freePort() };
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxProxyConf(dir, port, routes, listenTls));
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
    await daemon.ready(async () =>
      await tcpOpen(port) && (!listenTls || await tcpOpen(listenTls.port))
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    port,
    httpsPort: listenTls?.port,
    pid: daemon.pid,
    [Symbol.asyncDispose]: dispose,
  };
}
