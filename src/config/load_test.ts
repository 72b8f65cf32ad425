import assert from "node:assert/strict";
import { type AgentConfig, ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from "./mod.ts";

const DEFAULTS = { hostname: "My_Host.lan", advertiseAddr: () => "10.1.2.3" };

function load(
  argv: string[] = [],
  env: Record<string, string | undefined> = {},
  files: Record<string, string> = {},
): AgentConfig {
  return loadConfig(argv, env, (p) => files[p], DEFAULTS);
}

/** Asserts loading fails with a single-line ConfigError matching every pattern. */
function fails(patterns: RegExp[], ...args: Parameters<typeof load>): string {
  try {
    load(...args);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message has several lines: ${e.message}`);
    assert.match(e.message, /^config: /);
    for (const p of patterns) assert.match(e.message, p);
    return e.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("defaults apply when nothing is set and the default config file is missing", () => {
  assert.deepEqual(load(), {
    dataDir: "/var/lib/fossora",
    name: "my-host",
    advertiseAddr: "10.1.2.3",
    bindAddr: "0.0.0.0",
    apiPort: 7440,
    apiTlsPort: 7443,
    meshPort: 7441,
    etcdClientPort: 2379,
    etcdPeerPort: 2380,
    httpPort: 80,
    httpsPort: 443,
    trustedProxies: [],
    dnsPort: 53,
    domain: "fossora.home.arpa",
    join: [],
    discovery: ["tailscale", "mdns"],
    dockerHost: "unix:///var/run/docker.sock",
    etcdBin: "etcd",
    site: "default",
    labels: {},
    tailscaleSocket: "/var/run/tailscale/tailscaled.sock",
    tailscaleApiUrl: "https://api.tailscale.com",
    maxVoters: 5,
    etcdTuneInterval: 60,
    configFile: DEFAULT_CONFIG_FILE,
    debug: false,
  });
});

Deno.test("advertise address detection runs only when no address is configured", () => {
  let calls = 0;
  const defaults = { hostname: "h", advertiseAddr: () => (calls++, "10.0.0.9") };
  const cfg = loadConfig(["--advertise-addr", "192.168.1.5"], {}, () => undefined, defaults);
  assert.equal(cfg.advertiseAddr, "192.168.1.5");
  assert.equal(calls, 0);
});

Deno.test("precedence: flag beats env beats file beats default, for every level", async (t) => {
  const file = { [DEFAULT_CONFIG_FILE]: 'http-port = 8003\nsite = "file-site"\n' };
  await t.step("file beats default", () => {
    assert.equal(load([], {}, file).httpPort, 8003);
  });
  await t.step("env beats file", () => {
    assert.equal(load([], { FOSSORA_HTTP_PORT: "8002" }, file).httpPort, 8002);
  });
  await t.step("flag beats env", () => {
    const cfg = load(["--http-port", "8001"], { FOSSORA_HTTP_PORT: "8002" }, file);
    assert.equal(cfg.httpPort, 8001);
  });
  await t.step("levels are per key", () => {
    const cfg = load(["--http-port=8001"], { FOSSORA_HTTP_PORT: "8002" }, file);
    assert.equal(cfg.site, "file-site");
  });
  await t.step("an empty env value counts as unset", () => {
    assert.equal(load([], { FOSSORA_HTTP_PORT: "" }, file).httpPort, 8003);
  });
  await t.step("lists are replaced whole, not merged", () => {
    const f = { [DEFAULT_CONFIG_FILE]: 'label = ["disk=ssd", "zone=a"]' };
    assert.deepEqual(load([], { FOSSORA_LABEL: "gpu=yes" }, f).labels, { gpu: "yes" });
    assert.deepEqual(load([], {}, f).labels, { disk: "ssd", zone: "a" });
  });
});

Deno.test("config file path comes from --config, then FOSSORA_CONFIG, then the default", () => {
  const files = {
    "/a.toml": 'name = "from-a"',
    "/b.toml": 'name = "from-b"',
    [DEFAULT_CONFIG_FILE]: 'name = "from-default"',
  };
  const both = load(["--config", "/a.toml"], { FOSSORA_CONFIG: "/b.toml" }, files);
  assert.equal(both.name, "from-a");
  assert.equal(both.configFile, "/a.toml");
  assert.equal(load([], { FOSSORA_CONFIG: "/b.toml" }, files).name, "from-b");
  assert.equal(load([], {}, files).name, "from-default");
});

Deno.test("every key can be set from the config file", () => {
  const toml = `
data-dir = "/srv/f"
name = "pi-1"
advertise-addr = "192.168.1.20"
bind-addr = "::"
api-port = 1
api-tls-port = 7
etcd-client-port = 2
etcd-peer-port = 3
http-port = 4
https-port = 6
trusted-proxies = ["192.168.1.1", "fd00::/8"]
dns-port = 5
dns-upstream = ["192.168.1.1", "[fd00::1]:5353"]
domain = "home.example."
join = ["192.168.1.2:7440", "pi-2.local:7440"]
discovery = "none"
token = "abc"
docker-host = "tcp://127.0.0.1:2375"
etcd-bin = "/usr/bin/etcd"
site = "house-b"
label = { disk = "ssd" }
tailscale-socket = "/run/ts.sock"
tailscale-tag = "tag:fossora"
tailscale-api-key-file = "/etc/fossora/ts-api-key"
tailscale-api-url = "http://127.0.0.1:9000"
max-voters = 3
etcd-tune-interval = 30
debug = true

[image]
hostname = "ignored-by-the-agent"
`;
  const got = load(["--config=/c.toml"], {}, {
    "/c.toml": toml,
    "/etc/fossora/ts-api-key": "tskey-api-abc\n",
  });
  assert.deepEqual(got, {
    dataDir: "/srv/f",
    name: "pi-1",
    advertiseAddr: "192.168.1.20",
    bindAddr: "::",
    apiPort: 1,
    apiTlsPort: 7,
    meshPort: 7441,
    etcdClientPort: 2,
    etcdPeerPort: 3,
    httpPort: 4,
    httpsPort: 6,
    trustedProxies: ["192.168.1.1", "fd00::/8"],
    dnsPort: 5,
    dnsUpstream: ["192.168.1.1:53", "[fd00::1]:5353"],
    domain: "home.example",
    join: ["192.168.1.2:7440", "pi-2.local:7440"],
    discovery: [],
    token: "abc",
    dockerHost: "tcp://127.0.0.1:2375",
    etcdBin: "/usr/bin/etcd",
    site: "house-b",
    labels: { disk: "ssd" },
    tailscaleSocket: "/run/ts.sock",
    tailscaleTag: "tag:fossora",
    tailscaleApiKey: "tskey-api-abc",
    tailscaleApiKeyFile: "/etc/fossora/ts-api-key",
    tailscaleApiUrl: "http://127.0.0.1:9000",
    maxVoters: 3,
    etcdTuneInterval: 30,
    configFile: "/c.toml",
    debug: true,
  });
});

Deno.test("flags: --flag value, --flag=value, repeatable --label and --join, bare --debug", () => {
  const cfg = load([
    "--data-dir",
    "/d",
    "--label=disk=ssd",
    "--label",
    "zone=a",
    "--join",
    "10.0.0.1:7440,10.0.0.2:7440",
    "--join=10.0.0.3:7440",
    "--discovery=mdns",
    "--debug",
    "--api-port=0",
  ]);
  assert.equal(cfg.dataDir, "/d");
  assert.deepEqual(cfg.labels, { disk: "ssd", zone: "a" });
  assert.deepEqual(cfg.join, ["10.0.0.1:7440", "10.0.0.2:7440", "10.0.0.3:7440"]);
  assert.deepEqual(cfg.discovery, ["mdns"]);
  assert.equal(cfg.debug, true);
  assert.equal(cfg.apiPort, 0);
  assert.equal(load(["--debug=false"], { FOSSORA_DEBUG: "1" }).debug, false);
  assert.equal(load([], { FOSSORA_DEBUG: "true" }).debug, true);
});

Deno.test("env: lists are comma-separated and client/logging variables are ignored", () => {
  const cfg = load([], {
    FOSSORA_JOIN: "a.lan:7440, b.lan:7440",
    FOSSORA_LABEL: "disk=ssd,zone=a",
    FOSSORA_API: "http://x",
    FOSSORA_API_TOKEN: "t",
    FOSSORA_LOG_LEVEL: "debug",
    FOSSORA_DENO: "/opt/deno",
    FOSSORA_TEST_VERBOSE: "1",
    PATH: "/bin",
  });
  assert.deepEqual(cfg.join, ["a.lan:7440", "b.lan:7440"]);
  assert.deepEqual(cfg.labels, { disk: "ssd", zone: "a" });
});

Deno.test("dns-upstream: a comma-separated list from flag or env, port 53 unless given", () => {
  assert.deepEqual(load(["--dns-upstream=192.168.1.1,10.0.0.2:5353"]).dnsUpstream, [
    "192.168.1.1:53",
    "10.0.0.2:5353",
  ]);
  assert.deepEqual(
    load([], { FOSSORA_DNS_UPSTREAM: "fd00::53, [fd00::1]:5353" }).dnsUpstream,
    ["[fd00::53]:53", "[fd00::1]:5353"],
  );
  assert.equal(load().dnsUpstream, undefined, "unset: the node's resolv.conf");
});

Deno.test("token-file is read and trimmed; token and token-file are exclusive", () => {
  const files = { "/tok": "  s3cret\n" };
  const cfg = load(["--token-file", "/tok"], {}, files);
  assert.equal(cfg.token, "s3cret");
  assert.equal(cfg.tokenFile, "/tok");
  fails(
    [/token \(from FOSSORA_TOKEN\)/, /token-file \(from --token-file\)/, /exclusive/],
    [
      "--token-file",
      "/tok",
    ],
    { FOSSORA_TOKEN: "x" },
    files,
  );
  fails([/token-file \(from --token-file\)/, /"\/missing" does not exist/], [
    "--token-file=/missing",
  ]);
  fails([/token-file/, /is empty/], ["--token-file=/empty"], {}, { "/empty": "\n" });
});

Deno.test("token-file read errors other than missing are reported, not thrown raw", () => {
  const readFile = (p: string) => {
    if (p === "/tok") throw new Error("permission denied");
    return undefined;
  };
  assert.throws(
    () => loadConfig(["--token-file=/tok"], {}, readFile, DEFAULTS),
    (e) => e instanceof ConfigError && /token-file.*permission denied/.test(e.message),
  );
});

Deno.test("each error kind gives one line naming the key and the reason", async (t) => {
  const cases: [string, RegExp[], ...Parameters<typeof load>][] = [
    ["unknown flag with a hint", [/unknown flag --htp-port/, /did you mean --http-port\?/], [
      "--htp-port",
      "1",
    ]],
    ["unknown flag without a close match", [/unknown flag --zzzzzz;/], ["--zzzzzz"]],
    ["positional argument", [/unexpected argument "extra"/], ["extra"]],
    ["missing flag value", [/name \(from --name\): missing value/], ["--name"]],
    ["flag followed by a flag", [/data-dir \(from --data-dir\): missing value/], [
      "--data-dir",
      "--debug",
    ]],
    ["scalar flag given twice", [/name \(from --name\): given more than once/], [
      "--name=a",
      "--name=b",
    ]],
    ["bad boolean", [/debug \(from --debug\): expected true or false, got "maybe"/], [
      "--debug=maybe",
    ]],
    [
      "unknown env var",
      [/unknown environment variable FOSSORA_HTTP_PROT/, /FOSSORA_HTTP_PORT\?/],
      [],
      {
        FOSSORA_HTTP_PROT: "1",
      },
    ],
    [
      "bad port from env",
      [/http-port \(from FOSSORA_HTTP_PORT\): expected a port number 0\.\.65535.*got "abc"/],
      [],
      { FOSSORA_HTTP_PORT: "abc" },
    ],
    ["port out of range", [/etcd-peer-port \(from --etcd-peer-port\): .*1\.\.65535.*"70000"/], [
      "--etcd-peer-port=70000",
    ]],
    ["etcd port 0", [/etcd-client-port .*1\.\.65535, got "0"/], ["--etcd-client-port=0"]],
    ["bad trusted proxy", [
      /trusted-proxies \(from --trusted-proxies\): .*CIDRs.*"10\.0\.0\.0\/33"/,
    ], [
      "--trusted-proxies=192.168.1.1,10.0.0.0/33",
    ]],
    ["bad DNS upstream", [
      /dns-upstream \(from --dns-upstream\): expected IP or IP:PORT.*"resolver\.lan"/,
    ], ["--dns-upstream=192.168.1.1,resolver.lan"]],
    [
      "bad DNS upstream port",
      [/dns-upstream \(from FOSSORA_DNS_UPSTREAM\): .*"1\.1\.1\.1:0"/],
      [],
      {
        FOSSORA_DNS_UPSTREAM: "1.1.1.1:0",
      },
    ],
    ["bad name", [/name \(from --name\): expected a DNS label.*got "Pi_1"/], ["--name=Pi_1"]],
    ["bad site", [/site \(from FOSSORA_SITE\): expected a DNS label/], [], {
      FOSSORA_SITE: "-x",
    }],
    ["bad domain", [/domain \(from --domain\): expected a DNS name.*"a\.\.b"/], [
      "--domain=a..b",
    ]],
    ["bad advertise address", [/advertise-addr \(from --advertise-addr\): expected an IPv4/], [
      "--advertise-addr=256.1.1.1",
    ]],
    ["bad bind address", [/bind-addr \(from --bind-addr\): expected an IPv4 address or ::/], [
      "--bind-addr=localhost",
    ]],
    ["bad join item", [/join \(from --join\): expected host:port.*got "b"/], ["--join=a:1,b"]],
    ["join port out of range", [/join .*got "a:99999"/], ["--join=a:99999"]],
    ["unknown discovery", [/discovery \(from --discovery\): expected tailscale, mdns.*"dht"/], [
      "--discovery=dht",
    ]],
    ["none mixed with others", [/discovery .*"none" cannot be combined/], [
      "--discovery=none,mdns",
    ]],
    ["bad label key", [/label \(from --label\): expected key=value.*"Disk=ssd"/], [
      "--label=Disk=ssd",
    ]],
    ["label without =", [/label .*got "disk"/], ["--label=disk"]],
    ["label key twice", [/label .*"disk" is given twice/], ["--label=disk=a", "--label=disk=b"]],
    ["bad docker host", [/docker-host \(from --docker-host\): expected unix:\/\/\//], [
      "--docker-host=/var/run/docker.sock",
    ]],
    ["empty data dir", [/data-dir \(from --data-dir\): expected a non-empty value/], [
      "--data-dir=",
    ]],
    ["bad tailscale tag", [/tailscale-tag \(from --tailscale-tag\): expected a tailnet tag/], [
      "--tailscale-tag=fossora",
    ]],
    ["even max-voters", [/max-voters \(from --max-voters\): expected 1, 3, 5 or 7/], [
      "--max-voters=4",
    ]],
    ["tune interval under a second", [/etcd-tune-interval .*from 1 to 86400, or 0 for never/], [
      "--etcd-tune-interval=0.5",
    ]],
    ["token with spaces", [/token \(from --token\): expected a token without spaces/], [
      "--token=a b",
    ]],
    ["explicit config file missing", [/config \(from --config\): file "\/nope" does not exist/], [
      "--config",
      "/nope",
    ]],
    ["config file from env missing", [/config \(from FOSSORA_CONFIG\): file "\/nope"/], [], {
      FOSSORA_CONFIG: "/nope",
    }],
  ];
  for (const [title, patterns, ...args] of cases) {
    await t.step(title, () => void fails(patterns, ...args));
  }
});

Deno.test("config file errors name the key, the file and the reason", async (t) => {
  const cases: [string, RegExp[], string][] = [
    [
      "unknown key",
      [/unknown key "htp-port" in \/etc\/fossora\/fossora\.toml/, /"http-port"\?/],
      "htp-port = 1",
    ],
    ["snake_case key", [/unknown key "data_dir"/, /did you mean "data-dir"\?/], 'data_dir = "/x"'],
    [
      "string for a port",
      [/http-port \(from \/etc\/fossora\/fossora\.toml\): expected an integer/],
      'http-port = "8080"',
    ],
    ["number for a string", [/name \(from .*\): expected a string, got number 5/], "name = 5"],
    ["string for a bool", [/debug .*expected true or false/], 'debug = "yes"'],
    ["number for a list", [/join .*expected an array of strings/], "join = 5"],
    ["non-string label value", [/label .*label "disk": expected a string/], "label = { disk = 1 }"],
    [
      "config key in the file",
      [/config \(from .*\): cannot be set inside the config file/],
      'config = "/x"',
    ],
    ["foreign table name used as a scalar", [/unknown key "image"/], 'image = "x"'],
    ["fractional port", [/http-port .*got number 80\.5/], "http-port = 80.5"],
  ];
  for (const [title, patterns, toml] of cases) {
    await t.step(title, () => void fails(patterns, [], {}, { [DEFAULT_CONFIG_FILE]: toml }));
  }
});

Deno.test("a TOML syntax error names the file and the line", () => {
  const toml = 'data-dir = "/x"\nname = "ok"\nhttp-port = \n';
  const msg = fails([/config: \/etc\/fossora\/fossora\.toml:3:\d+: invalid TOML: /], [], {}, {
    [DEFAULT_CONFIG_FILE]: toml,
  });
  assert.ok(msg.length < 200, msg);
});

Deno.test("a config file that cannot be read is reported against the config key", () => {
  const readFile = () => {
    throw new Error("permission denied");
  };
  assert.throws(
    () => loadConfig([], {}, readFile, DEFAULTS),
    (e) =>
      e instanceof ConfigError &&
      e.message === 'config: config (from default): cannot read "/etc/fossora/fossora.toml": ' +
          "permission denied",
  );
});

Deno.test("the default name is the host name made into a DNS label", () => {
  const name = (hostname: string) =>
    loadConfig([], {}, () => undefined, { hostname, advertiseAddr: () => "10.0.0.1" }).name;
  assert.equal(name("Raspberry_Pi.local"), "raspberry-pi");
  assert.equal(name("--weird--"), "weird");
  assert.equal(name("é"), "node");
  assert.equal(name("a".repeat(80)), "a".repeat(63));
});

Deno.test("the Tailscale API key file must exist and hold one token; the URL must be http(s)", () => {
  assert.throws(
    () => load(["--tailscale-api-key-file=/nope"]),
    /tailscale-api-key-file .*"\/nope" does not exist; create it \(mode 600\)/,
  );
  assert.throws(
    () => load(["--tailscale-api-key-file=/k"], {}, { "/k": "two words" }),
    /must hold only a Tailscale API access token .* more than one word/,
  );
  assert.throws(() => load(["--tailscale-api-key-file=/k"], {}, { "/k": "\n" }), /it is empty/);
  assert.throws(() => load(["--tailscale-api-url=ftp://x"]), /expected an http\(s\) URL/);
  assert.throws(() => load(["--tailscale-api-url=https://u:p@x"]), /without credentials/);
});
