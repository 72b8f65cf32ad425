import assert from "node:assert/strict";
import { AGENT_FLAGS, agentHelp, envName } from "./flags.ts";

Deno.test("help lists every flag with its default and meaning", () => {
  const help = agentHelp();
  for (const f of AGENT_FLAGS) {
    assert.match(help, new RegExp(`^  --${f.name}\\b`, "m"), f.name);
    assert.ok(help.includes(f.help), `${f.name} meaning`);
    assert.ok(help.includes(`default: ${f.default}`), `${f.name} default`);
  }
});

Deno.test("every flag of SPEC.md is in the table", () => {
  const spec = [
    "data-dir",
    "name",
    "advertise-addr",
    "bind-addr",
    "api-port",
    "etcd-client-port",
    "etcd-peer-port",
    "http-port",
    "https-port",
    "trusted-proxies",
    "dns-port",
    "domain",
    "join",
    "discovery",
    "token",
    "token-file",
    "docker-host",
    "etcd-bin",
    "site",
    "label",
    "tailscale-socket",
  ];
  const names = AGENT_FLAGS.map((f) => f.name);
  for (const s of spec) assert.ok(names.includes(s), s);
});

Deno.test("env names are FOSSORA_ plus the flag in upper snake case", () => {
  assert.equal(envName("data-dir"), "FOSSORA_DATA_DIR");
  assert.equal(envName("etcd-client-port"), "FOSSORA_ETCD_CLIENT_PORT");
  assert.equal(envName("config"), "FOSSORA_CONFIG");
});
