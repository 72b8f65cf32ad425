import assert from "node:assert/strict";
import { publicReason, Router, serviceFromHost, unavailableReason } from "./routes.ts";
import { replica, service, viewWith } from "./test_util.ts";

Deno.test("serviceFromHost takes NAME.DOMAIN and SERVICE.STACK.DOMAIN, ignoring port, case and a final dot", () => {
  const suffix = ".fossora.home.arpa";
  assert.equal(serviceFromHost("web.fossora.home.arpa", suffix), "web");
  assert.equal(serviceFromHost("WEB.Fossora.Home.Arpa.:8080", suffix), "web");
  assert.equal(serviceFromHost("db.nextcloud.fossora.home.arpa", suffix), "db.nextcloud");
  for (
    const bad of [
      undefined,
      "",
      "web",
      "fossora.home.arpa",
      "a.b.web.fossora.home.arpa",
      ".web.fossora.home.arpa",
      "[::1]:80",
    ]
  ) {
    assert.equal(serviceFromHost(bad, suffix), undefined, String(bad));
  }
  assert.equal(serviceFromHost("web.xfossora.home.arpa", suffix), undefined);
});

Deno.test("unavailableReason says scaled to zero, starting, or the last failure", () => {
  assert.match(unavailableReason(service("web", 0), []), /scaled to 0/);
  assert.match(unavailableReason(service("web"), []), /no replica has been placed/);
  const starting = replica("web", 0, 1, { state: "pulling", ready: false });
  assert.match(unavailableReason(service("web"), [starting]), /starting \(pulling\)/);
  const pull = replica("web", 0, 1, {
    state: "error",
    ready: false,
    message: "image pull failed: not found",
    since: "2026-01-02T00:00:00Z",
  });
  const exited = replica("web", 1, 1, {
    state: "exited",
    ready: false,
    exitCode: 3,
    since: "2026-01-03T00:00:00Z",
  });
  assert.match(
    unavailableReason(service("web"), [pull, exited]),
    /replica 1 .* exited with code 3/,
  );
  assert.match(unavailableReason(service("web"), [pull]), /image pull failed: not found/);
});

Deno.test("Router rotates over ready replicas and skips a marked-out one until it expires", () => {
  let now = 0;
  const view = viewWith(service("web"), [
    replica("web", 0, 1001),
    replica("web", 1, 1002),
    replica("web", 2, 1003, { ready: false }),
  ]);
  const router = new Router(view, "fossora.home.arpa", () => now, 5000);
  const first = () => {
    const r = router.route("web.fossora.home.arpa");
    assert.equal(r.kind, "proxy");
    return r.kind === "proxy" ? r.backends.map((b) => b.port) : [];
  };
  assert.deepEqual(first(), [1001, 1002]);
  assert.deepEqual(first(), [1002, 1001]);
  router.markOut({ key: "127.0.0.1:1001", host: "127.0.0.1", port: 1001 });
  assert.deepEqual(first(), [1002, 1001], "marked out goes last");
  assert.deepEqual(first(), [1002, 1001]);
  now += 5001;
  assert.deepEqual(first(), [1001, 1002], "back in rotation after outMs");
});

Deno.test("Router tells unknown hosts, services without HTTP port and unavailable ones", () => {
  const view = viewWith(service("web"), [replica("web", 0, 1, { ready: false })]);
  view.serviceMap.set("tcp", service("tcp", 1, false));
  const router = new Router(view, "fossora.home.arpa", () => 0, 5000);
  assert.equal(router.route("nope.fossora.home.arpa").kind, "unknown");
  assert.equal(router.route("web.example.com").kind, "unknown");
  assert.equal(router.route("tcp.fossora.home.arpa").kind, "no-http");
  assert.equal(router.route("web.fossora.home.arpa").kind, "unavailable");
});

Deno.test("publicReason says why in general words, never a node, address or message", () => {
  const cases: [Parameters<typeof publicReason>, RegExp][] = [
    [[service("web", 0), []], /switched off/],
    [[service("web"), []], /not been started/],
    [[service("web"), [replica("web", 0, 1, { state: "pulling", ready: false })]], /starting/],
    [
      [service("web"), [replica("web", 0, 1, { state: "running", ready: false })]],
      /does not answer/,
    ],
    [[service("web"), [
      replica("web", 0, 1, { state: "error", ready: false, message: "pull failed: 10.0.0.5" }),
    ]], /failed to start/],
  ];
  for (const [args, want] of cases) {
    const text = publicReason(...args);
    assert.match(text, want);
    assert.doesNotMatch(text, /node-|10\.0|127\.0|pull/);
  }
});

Deno.test("Router serves a stack's service as SERVICE.STACK and its front service as STACK too", () => {
  const front = service("app.cloud");
  front.spec = { ...front.spec, stack: "cloud", front: true };
  const view = viewWith(front, [replica("app.cloud", 0, 1001)]);
  const db = service("db.cloud");
  db.spec = { ...db.spec, stack: "cloud" };
  view.serviceMap.set("db.cloud", db);
  view.putReplica(replica("db.cloud", 0, 1002));
  const router = new Router(view, "fossora.home.arpa", () => 0, 5000);
  for (
    const [host, name] of [["app.cloud", "app.cloud"], ["cloud", "app.cloud"], [
      "db.cloud",
      "db.cloud",
    ]]
  ) {
    const r = router.route(`${host}.fossora.home.arpa`);
    assert.equal(r.kind === "proxy" && r.service, name, host);
  }
  assert.equal(router.route("cache.cloud.fossora.home.arpa").kind, "unknown");
  front.spec.front = undefined;
  assert.equal(router.route("cloud.fossora.home.arpa").kind, "unknown");
});
