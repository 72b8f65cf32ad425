import assert from "node:assert/strict";
import { backendConf, BENCH_BODY, parseLdd, rootFiles } from "./images.ts";

// `ldd /usr/sbin/nginx` on Debian 12 (nginx-light).
const LDD = `	linux-vdso.so.1 (0x00007fc6ab266000)
	libcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007fc6ab0c5000)
	libpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007fc6ab02b000)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007fc6aaf63000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fc6aa81e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007fc6ab268000)
`;

Deno.test("ldd output gives each library path and the loader, not the vDSO", () => {
  assert.deepEqual(parseLdd(LDD), [
    "/lib/x86_64-linux-gnu/libcrypt.so.1",
    "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
    "/lib/x86_64-linux-gnu/libz.so.1",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/ld-linux-x86-64.so.2",
  ]);
  assert.deepEqual(parseLdd("\tnot a dynamic executable\n"), []);
});

Deno.test("the backend config serves the static file on 80 with one worker, in the foreground-safe way", () => {
  const conf = backendConf();
  assert.match(conf, /^worker_processes 1;$/m);
  assert.match(conf, /listen 80;/);
  assert.match(conf, /root \/www;/);
  assert.doesNotMatch(conf, /daemon/, "daemon off comes from the image's CMD");
  const files = rootFiles();
  assert.equal(files["www/index.html"], BENCH_BODY);
  assert.match(files["etc/passwd"], /^nobody:x:65534:65534:/m);
  assert.match(files["etc/group"], /^nogroup:x:65534:/m);
  assert.match(conf, /user nobody nogroup;/);
});
