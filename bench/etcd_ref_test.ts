import assert from "node:assert/strict";
import { referenceEtcdArgs, type RefMember } from "./etcd_ref.ts";

/** A founder's arguments as fossora's supervisor writes them, with two tuning flags. */
const TEMPLATE = [
  "/usr/bin/etcd",
  "--name=7c8aa09b8f10e66c",
  "--data-dir=/h/n1/data/etcd",
  "--listen-client-urls=https://0.0.0.0:2379",
  "--advertise-client-urls=https://10.231.0.1:2379",
  "--listen-peer-urls=https://0.0.0.0:2380",
  "--initial-advertise-peer-urls=https://10.231.0.1:2380",
  "--initial-cluster=7c8aa09b8f10e66c=https://10.231.0.1:2380",
  "--initial-cluster-state=new",
  "--initial-cluster-token=fossora-7c8aa09b8f10e66c",
  "--logger=zap",
  "--log-level=warn",
  "--auto-compaction-retention=1h",
  "--heartbeat-interval=150",
  "--election-timeout=1500",
  "--cert-file=/h/n1/data/pki/node.crt",
  "--key-file=/h/n1/data/pki/node.key",
  "--trusted-ca-file=/h/n1/data/pki/ca.crt",
  "--client-cert-auth",
  "--peer-cert-file=/h/n1/data/pki/node.crt",
  "--peer-key-file=/h/n1/data/pki/node.key",
  "--peer-trusted-ca-file=/h/n1/data/pki/ca.crt",
  "--peer-client-cert-auth",
];

const MEMBER: RefMember = {
  name: "ref-node3",
  dataDir: "/h/n3/ref-etcd",
  address: "10.231.0.3",
  clientPort: 12379,
  peerPort: 12380,
  certs: {
    caFile: "/h/n3/pki/ca.crt",
    certFile: "/h/n3/pki/node.crt",
    keyFile: "/h/n3/pki/node.key",
  },
};

Deno.test("a reference member keeps fossora's etcd tuning and sets its own name, ports, data and certificates", () => {
  const args = referenceEtcdArgs(TEMPLATE, {
    ...MEMBER,
    initialCluster: "ref-node1=https://10.231.0.1:12380,ref-node3=https://10.231.0.3:12380",
  });
  for (
    const kept of [
      "--logger=zap",
      "--log-level=warn",
      "--auto-compaction-retention=1h",
      "--heartbeat-interval=150",
      "--election-timeout=1500",
      "--client-cert-auth",
      "--peer-client-cert-auth",
    ]
  ) assert.ok(args.includes(kept), kept);
  const flag = (name: string) => args.filter((a) => a.startsWith(`--${name}=`));
  assert.deepEqual(flag("name"), ["--name=ref-node3"]);
  assert.deepEqual(flag("data-dir"), ["--data-dir=/h/n3/ref-etcd"]);
  assert.deepEqual(flag("listen-client-urls"), [
    "--listen-client-urls=https://10.231.0.3:12379,https://127.0.0.1:12379",
  ]);
  assert.deepEqual(flag("initial-advertise-peer-urls"), [
    "--initial-advertise-peer-urls=https://10.231.0.3:12380",
  ]);
  assert.deepEqual(flag("initial-cluster-state"), ["--initial-cluster-state=existing"]);
  assert.deepEqual(flag("cert-file"), ["--cert-file=/h/n3/pki/node.crt"]);
  assert.deepEqual(flag("peer-trusted-ca-file"), ["--peer-trusted-ca-file=/h/n3/pki/ca.crt"]);
  assert.ok(!args.some((a) => a.includes("/h/n1/") || a.includes(":2379") || a.includes(":2380")));
  assert.ok(!args.includes("/usr/bin/etcd"), "the program is not an argument");
});

Deno.test("a reference founder starts a new cluster of itself", () => {
  const args = referenceEtcdArgs(TEMPLATE, MEMBER);
  assert.ok(args.includes("--initial-cluster=ref-node3=https://10.231.0.3:12380"));
  assert.ok(args.includes("--initial-cluster-state=new"));
});

Deno.test("a template word that is not a --flag is refused rather than passed on", () => {
  assert.throws(
    () => referenceEtcdArgs([...TEMPLATE, "--name", "x"], MEMBER),
    /unexpected etcd argument "x"/,
  );
});
