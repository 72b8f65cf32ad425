/**
 * The bench's backend image: the host's nginx (Debian's nginx-light) and the libraries it links,
 * imported into Docker as a one-layer image, because no image can be pulled here. nginx keeps
 * connections alive and answers a static file fast, so the proxy's own cost shows.
 * @module
 */
import { run, runOk } from "./exec.ts";

/** The image the bench deploys as a service. */
export const BENCH_IMAGE = "fossora-bench/nginx:1";
/** The file every backend request gets. */
export const BENCH_BODY = "hello from fossora-bench\n";

const NGINX = "/usr/sbin/nginx";
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

/** The container's nginx.conf: one worker, long keep-alive, a small static file on port 80. */
export function backendConf(): string {
  return `user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 80;
    root /www;
  }
}
`;
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

/** Directories nginx expects at start. */
const DIRS = ["run", "tmp", "var/log/nginx", "var/lib/nginx", "usr/share/nginx"];

/** Builds {@link BENCH_IMAGE} unless one built from the same inputs exists; returns its tag. */
export async function ensureBenchImage(): Promise<string> {
  const libs = parseLdd(await runOk("ldd", [NGINX], 10_000));
  const hash = await inputsHash([NGINX, ...libs]);
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
    await layout(dir, [NGINX, ...libs]);
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
}

/** A digest of everything that goes into the image, so a changed input rebuilds it. */
async function inputsHash(binaries: string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const file of binaries) {
    const st = await Deno.stat(file);
    parts.push(enc.encode(`${file}:${st.size}:${st.mtime?.getTime()}\n`));
  }
  parts.push(enc.encode(JSON.stringify(rootFiles())));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}
