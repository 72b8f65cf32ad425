import assert from "node:assert/strict";
import { signedIn } from "./fixtures.ts";

Deno.test("a service's page shows its replicas, nodes, address, ports and what happened", async () => {
  const { b } = await signedIn();
  const page = await b.go("/services/whoami");
  assert.equal(page.status, 200);
  assert.match(page.text_, /<a href="\/nodes\/pi-b">pi-b<\/a>/);
  assert.match(page.text_, /href="http:\/\/whoami\.home\.test\/"/);
  assert.match(page.text_, /8080\/tcp \(web, through every node/);
  assert.match(page.text_, /2 ready of 2 wanted/);
  const failing = await b.go("/services/mc");
  assert.match(failing.text_, /replica 0: boom/);
  assert.match(failing.text_, /published on every node at 25565/);
  const missing = await b.go("/services/ghost");
  assert.equal(missing.status, 404);
  assert.match(missing.text_, /no service named &quot;ghost&quot;/);
});

Deno.test("scale changes the replicas; a bad count is shown on the page and changes nothing", async () => {
  const { b, view } = await signedIn();
  await b.go("/services/whoami");
  const done = await b.post("/services/whoami/scale", { replicas: "3" });
  assert.equal(done.status, 303);
  assert.equal(view.service("whoami")?.spec.replicas, 3);
  const bad = await b.post("/services/whoami/scale", { replicas: "500" });
  assert.equal(bad.status, 400);
  assert.match(
    bad.text_,
    /role="alert"[^>]*>send \{&quot;replicas&quot;: N\} with N a whole number from 0 to 100/,
  );
  assert.equal(view.service("whoami")?.spec.replicas, 3);
});

Deno.test("restart and remove ask first; the confirmed form does it, a forged one does not", async () => {
  const { b, view, store } = await signedIn();
  const ask = await b.go("/services/mc/remove");
  assert.match(ask.text_, /Remove mc\?/);
  assert.equal(view.service("mc") !== undefined, true, "asking removes nothing");
  const forged = await b.go("/services/mc/remove", { csrf: "forged" });
  assert.equal(forged.status, 403);
  const noToken = await b.go("/services/mc/remove", {});
  assert.equal(noToken.status, 403);
  assert.equal(store.writes, 0);
  const removed = await b.post("/services/mc/remove");
  assert.equal(removed.status, 303);
  assert.equal(view.service("mc"), undefined);
  await b.go("/services/whoami/restart");
  const restarted = await b.post("/services/whoami/restart");
  assert.equal(restarted.status, 303);
  assert.equal(view.service("whoami")?.generation, 2);
});

Deno.test("without a session, service pages and their live streams go to the login page", async () => {
  const { app } = await signedIn();
  for (
    const path of ["/services", "/services/whoami", "/live/services", "/services/whoami/logs/live"]
  ) {
    const res = await app.request(`http://pi-a:7440${path}`);
    assert.equal(res.status, 303, path);
    assert.equal(res.headers.get("location"), "/login");
  }
});

Deno.test("logs stream as events: the lines, then the end; a service with no logs says why", async () => {
  const { b } = await signedIn({
    api: {
      logs: (service, replica) =>
        service === "mc" ? Promise.reject(new Error("the container is gone")) : Promise.resolve(
          ReadableStream.from([new TextEncoder().encode(`one from ${replica}\ntwo`)]),
        ),
    },
  });
  const page = await b.go("/services/whoami/logs");
  assert.match(page.text_, /data-stream="\/services\/whoami\/logs\/live"/);
  const live = await b.go("/services/whoami/logs/live");
  assert.equal(live.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.match(live.text_, /event: lines\ndata: \[replica \d\] one from \d/);
  assert.match(live.text_, /event: end\n/);
  const none = await b.go("/services/mc/logs/live");
  assert.match(none.text_, /event: problem\ndata: cannot read the logs of mc/);
});
