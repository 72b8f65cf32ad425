/**
 * The bench's backend image: the host's nginx (Debian's nginx-light), its echo module and the
 * libraries they link, imported into Docker as a one-layer image, because no image can be pulled
 * here. nginx keeps connections alive and answers static files fast, so the proxy's own cost
 * shows. It serves the 100-byte body at `/`, a 50 MB file for downloads, and reads whole uploads.
 *
 * The WebSocket backend is the test image `fossora-test/deno:1` running {@link ECHO_SERVER}:
 * nginx cannot echo WebSockets.
 * @module
 */
import { run, runOk } from "./exec.ts";

/** The image the bench deploys as its HTTP backend service. */
export const BENCH_IMAGE = "fossora-bench/nginx:1";
/** The body of `GET /`: exactly 100 bytes, the small response. */
export const BENCH_BODY = "fossora bench: the 100-byte response".padEnd(99, ".") + "\n";
/** The path of the download file. */
export const BIG_PATH = "/50m";
/** Size of the download file and of each upload: 50 MB. */
export const BIG_BYTES = 50_000_000;
/** POST here sends a body that nginx reads whole before it answers `read N` (N ≥ body size). */
export const UPLOAD_PATH = "/upload";
/** The busybox image the idle services run (built by scripts/lib.sh for the tests). */
export const BUSYBOX_IMAGE = "fossora-test/busybox:1";
/** The deno image the WebSocket echo backend runs (built by scripts/lib.sh for the tests). */
export const DENO_IMAGE = "fossora-test/deno:1";
/** The port {@link ECHO_SERVER} listens on inside its container. */
export const ECHO_PORT = 8080;
/** `deno eval` code of the WebSocket echo backend: every message goes back as it came. */
export const ECHO_SERVER = `
Deno.serve({ port: ${ECHO_PORT}, onListen() {} }, (req) => {
  if (req.headers.get("upgrade") !== "websocket") return new Response("echo backend\\n");
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});`;

const NGINX = "/usr/sbin/nginx";
/** Debian's nginx-light depends on libnginx-mod-http-echo, which puts the module here. */
const ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so";
const HASH_LABEL = "fossora.bench.inputs";

/** The shared libraries an `ldd` listing names, as absolute paths (the vDSO has no file). */
export function parseLdd(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m && !paths.includes(m[1])) paths.push(m[1]);
  }
  return paths;
}

/**
 * The container's nginx.conf: one worker, long keep-alive, static files with sendfile on port 80.
 * The upload location reads the whole body before answering: a `return` would answer at once and
 * discard the body behind the answer, so a proxy could be timed on less than 50 MB, and the
 * answer's $request_length (head and body bytes read) proves it all arrived. The body goes to a
 * temp file nginx deletes after answering: here that reads twice as fast as one 50 MB buffer,
 * whose fresh pages fault in on every upload.
 */
export function backendConf(): string {
  return `load_module ${ECHO_MODULE};
user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr error;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  sendfile on;
  client_body_temp_path /tmp/body;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 80;
    root /www;
    location = ${UPLOAD_PATH} {
      client_max_body_size 0;
      client_body_buffer_size 128k;
      echo_read_request_body;
      echo "read $request_length";
    }
  }
}
`;
}

/** The byte count in the upload location's answer (`read N`), or undefined if it is not one. */
export function parseUploadAnswer(text: string): number | undefined {
  const m = text.match(/^read (\d+)\s*$/);
  return m ? Number(m[1]) : undefined;
}

/** Files of the image besides nginx and its libraries: path -> content. */
export function rootFiles(): Record<string, string> {
  return {
    "etc/nginx/nginx.conf": backendConf(),
    "www/index.html": BENCH_BODY,
    "etc/passwd": "root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
  };
}

/**
 * Builds the test images the bench deploys besides its own ({@link BUSYBOX_IMAGE},
 * {@link DENO_IMAGE}) with scripts/lib.sh, the one recipe the tests use too; a no-op when both
 * exist.
 */
export async function ensureTestImages(): Promise<void> {
  const lib = new URL("../scripts/lib.sh", import.meta.url).pathname;
  await runOk("bash", ["-c", `. "${lib}" && build_test_image && build_deno_test_image`], 180_000);
}

/** Directories nginx expects at start. */
const DIRS = ["run", "tmp", "var/log/nginx", "var/lib/nginx", "usr/share/nginx"];

/** The download file's bytes: a cheap pattern (nothing compresses on the way, so any will do). */
export function bigFile(size = BIG_BYTES): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** Builds {@link BENCH_IMAGE} unless one built from the same inputs exists; returns its tag. */
export async function ensureBenchImage(): Promise<string> {
  const echo = await Deno.stat(ECHO_MODULE).catch(() => undefined);
  if (!echo) {
    throw new Error(
      `${ECHO_MODULE} is missing: install libnginx-mod-http-echo (nginx-light brings it)`,
    );
  }
  const binaries = [NGINX, ECHO_MODULE];
  const libs = parseLdd(await runOk("ldd", binaries, 10_000));
  const hash = await inputsHash([...binaries, ...libs]);
  const have = await run("docker", [
    "image",
    "inspect",
    "-f",
    `{{index .Config.Labels "${HASH_LABEL}"}}`,
    BENCH_IMAGE,
  ], 20_000);
  if (have.code === 0 && have.stdout.trim() === hash) return BENCH_IMAGE;
  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-image-" });
  try {
    await layout(dir, [...binaries, ...libs]);
    const tar = `${dir}.tar`;
    try {
      await runOk("tar", ["-C", dir, "-cf", tar, "."], 30_000);
      await runOk("docker", [
        "import",
        "-c",
        'CMD ["/usr/sbin/nginx","-c","/etc/nginx/nginx.conf","-g","daemon off;"]',
        "-c",
        `LABEL ${HASH_LABEL}=${hash}`,
        tar,
        BENCH_IMAGE,
      ], 60_000);
    } finally {
      await Deno.remove(tar).catch(() => {});
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return BENCH_IMAGE;
}

async function layout(dir: string, binaries: string[]): Promise<void> {
  for (const d of DIRS) await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  // The worker runs as nobody and keeps upload bodies under /tmp.
  await Deno.chmod(`${dir}/tmp`, 0o1777);
  for (const file of binaries) {
    const target = `${dir}${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    // copyFile follows symlinks (the loader is one), so the image gets the real bytes.
    await Deno.copyFile(file, target);
    await Deno.chmod(target, 0o755);
  }
  for (const [path, text] of Object.entries(rootFiles())) {
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  await Deno.writeFile(`${dir}/www${BIG_PATH}`, bigFile());
}

/** A digest of everything that goes into the image, so a changed input rebuilds it. */
async function inputsHash(binaries: string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const file of binaries) {
    const st = await Deno.stat(file);
    parts.push(enc.encode(`${file}:${st.size}:${st.mtime?.getTime()}\n`));
  }
  parts.push(enc.encode(JSON.stringify({ files: rootFiles(), big: [BIG_PATH, BIG_BYTES] })));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}
