import assert from "node:assert/strict";
import {
  backendConf,
  BENCH_BODY,
  BIG_BYTES,
  BIG_PATH,
  bigFile,
  ECHO_SERVER,
  parseLdd,
  parseUploadAnswer,
  rootFiles,
  UPLOAD_PATH,
} from "./images.ts";

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

Deno.test("ldd of several files lists each library once, headers left out", () => {
  const two = `/usr/sbin/nginx:\n${LDD}/usr/lib/nginx/modules/x.so:\n` +
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n";
  assert.equal(parseLdd(two).length, 5);
});

Deno.test("the backend config serves the static file on 80 with one worker, in the foreground-safe way", () => {
  const conf = backendConf();
  assert.match(conf, /^worker_processes 1;$/m);
  assert.match(conf, /listen 80;/);
  assert.match(conf, /root \/www;/);
  assert.match(conf, /sendfile on;/);
  assert.doesNotMatch(conf, /daemon/, "daemon off comes from the image's CMD");
  const files = rootFiles();
  assert.equal(files["www/index.html"], BENCH_BODY);
  assert.match(files["etc/passwd"], /^nobody:x:65534:65534:/m);
  assert.match(files["etc/group"], /^nogroup:x:65534:/m);
  assert.match(conf, /user nobody nogroup;/);
});

Deno.test("the small response is exactly 100 bytes", () => {
  assert.equal(new TextEncoder().encode(BENCH_BODY).length, 100);
});

Deno.test("the upload location reads the whole body before it answers, and says how much", () => {
  const conf = backendConf();
  assert.match(conf, /^load_module \/usr\/lib\/nginx\/modules\/ngx_http_echo_module\.so;$/m);
  const loc = conf.slice(conf.indexOf(`location = ${UPLOAD_PATH}`));
  assert.match(loc, /client_max_body_size 0;/);
  assert.match(loc, /echo_read_request_body;/);
  assert.match(loc, /echo "read \$request_length";/);
  assert.doesNotMatch(loc, /return/, "return answers before the body is read");
  assert.equal(parseUploadAnswer("read 50000161\n"), 50000161);
  assert.equal(parseUploadAnswer("<html>413</html>"), undefined);
});

Deno.test("the download file is 50 MB of the same bytes every build", () => {
  assert.equal(BIG_BYTES, 50_000_000);
  assert.equal(BIG_PATH, "/50m");
  assert.deepEqual(bigFile(1000), bigFile(1000));
  assert.equal(bigFile(1000).length, 1000);
  assert.ok(new Set(bigFile(1000)).size > 200, "not one repeated byte");
});

Deno.test("the WebSocket echo server is valid code that echoes on its port", () => {
  // deno eval gets it as is: it must at least parse.
  new Function(`return async () => {${ECHO_SERVER}}`);
  assert.match(ECHO_SERVER, /port: 8080/);
  assert.match(ECHO_SERVER, /socket\.send\(e\.data\)/);
});
