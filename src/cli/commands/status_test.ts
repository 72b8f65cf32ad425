import assert from "node:assert/strict";
import { statusText } from "./status.ts";
import { servicesTable } from "./services.ts";

Deno.test("statusText says when there is no leader and no service yet", () => {
  const text = statusText({
    id: null,
    domain: "home.arpa",
    version: "1",
    leader: null,
    node: { id: "n1", name: "pi-a" },
    members: [],
    resilience: {
      voters: 1,
      votersUp: 1,
      tolerates: 0,
      summary: "one voter (pi-a): if it fails, nothing can change until it is back",
    },
    warnings: [],
  }, { services: [] });
  assert.match(text, /^cluster +\(not formed yet\) \(domain home\.arpa\)$/m);
  assert.match(text, /^failures +one voter \(pi-a\): if it fails, nothing can change/m);
  assert.match(text, /^leader +none \(no etcd leader: is a majority of voters up\?\)$/m);
  assert.match(text, /^no services yet; deploy one with `fossora deploy FILE`$/m);
});

Deno.test("statusText shows the cluster's warnings under its head", () => {
  const text = statusText({
    id: "c-1",
    domain: "home.arpa",
    version: "1",
    leader: { id: "n1", name: "pi-a" },
    node: { id: "n1", name: "pi-a" },
    members: [],
    resilience: { voters: 1, votersUp: 1, tolerates: 0, summary: "one voter (pi-a)" },
    warnings: ["another cluster (c-2, node nas at 10.0.0.9:7440) runs services"],
  }, { services: [] });
  assert.match(
    text,
    /^failures +one voter \(pi-a\)\nwarning: another cluster \(c-2, node nas at 10\.0\.0\.9:7440\)/m,
  );
});

Deno.test("servicesTable shows - for a service on no node and without URL or ports", () => {
  const out = servicesTable([{
    name: "batch",
    image: "busybox",
    generation: 1,
    replicas: 0,
    running: 0,
    ready: 0,
    nodes: [],
    url: null,
    published: [],
    publishedUdp: [],
    state: "stopped",
    problem: null,
  }]);
  assert.equal(
    out,
    "NAME   STACK  IMAGE    REPLICAS  NODES  URL\nbatch  -      busybox  0/0       -      -\n",
  );
});

Deno.test("servicesTable lists what keeps a service from running below the table", () => {
  const out = servicesTable([{
    name: "arm",
    image: "busybox",
    generation: 1,
    replicas: 1,
    running: 0,
    ready: 0,
    nodes: [],
    url: null,
    published: [],
    publishedUdp: [],
    state: "pending",
    problem: "cannot be placed: no ready node has arch arm64",
  }]);
  assert.match(out, /\narm: cannot be placed: no ready node has arch arm64\n$/);
});
