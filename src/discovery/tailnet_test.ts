import assert from "node:assert/strict";
import {
  checkTailscaleTag,
  tailnetCandidates,
  tailnetTrust,
  tailscaleAdvertiseAddr,
} from "./tailnet.ts";
import {
  TailscaleError,
  type TailscalePeerStatus,
  type TailscaleStatus,
  type TailscaleUserProfile,
  type TailscaleWhois,
} from "./tailscale.ts";

const ALICE: TailscaleUserProfile = {
  ID: "6104512347893214561",
  LoginName: "alice@example.com",
  DisplayName: "Alice",
};
const BOB: TailscaleUserProfile = {
  ID: "6104512347893214562",
  LoginName: "bob@example.com",
  DisplayName: "Bob",
};
const TAGGED: TailscaleUserProfile = {
  ID: "7012345",
  LoginName: "tagged-devices",
  DisplayName: "Tagged Devices",
};

function peer(p: Partial<TailscalePeerStatus> & { ips?: string[] } = {}): TailscalePeerStatus {
  return {
    ID: "nX1CNTRL",
    HostName: "h",
    DNSName: "h.tail4f2a1c.ts.net.",
    TailscaleIPs: p.ips ?? [],
    Tags: [],
    Online: true,
    UserID: ALICE.ID,
    ShareeNode: false,
    ...p,
  };
}

function status(o: {
  state?: string;
  ips?: string[];
  self?: Partial<TailscalePeerStatus>;
  peers?: TailscalePeerStatus[];
  users?: TailscaleUserProfile[];
} = {}): TailscaleStatus {
  const ips = o.ips ?? ["100.101.1.1", "fd7a:115c:a1e0::1"];
  return {
    BackendState: o.state ?? "Running",
    TailscaleIPs: ips,
    Self: peer({ HostName: "nas", TailscaleIPs: ips, ...o.self }),
    Peer: new Map((o.peers ?? []).map((p, i) => [`nodekey:${String(i).padStart(64, "0")}`, p])),
    User: new Map((o.users ?? [ALICE, BOB, TAGGED]).map((u) => [u.ID, u])),
    CertDomains: [],
  };
}

function whois(
  o: { user?: TailscaleUserProfile; tags?: string[]; sharer?: string; nodeUser?: string } = {},
): TailscaleWhois {
  const user = o.user ?? ALICE;
  return {
    Node: {
      ID: "1001",
      Name: "laptop.tail4f2a1c.ts.net.",
      User: o.nodeUser ?? user.ID,
      Sharer: o.sharer ?? "0",
      Tags: o.tags ?? [],
      Addresses: ["100.101.1.2/32"],
      Hostinfo: { Hostname: "Laptop" },
    },
    UserProfile: user,
  };
}

Deno.test("the advertise address is the first Tailscale IPv4 while Running, else none", () => {
  assert.equal(tailscaleAdvertiseAddr(status()), "100.101.1.1");
  assert.equal(
    tailscaleAdvertiseAddr(status({ ips: ["fd7a:115c:a1e0::1", "100.70.0.9"] })),
    "100.70.0.9",
  );
  assert.equal(tailscaleAdvertiseAddr(status({ ips: ["fd7a:115c:a1e0::1"] })), undefined);
  for (const state of ["NoState", "NeedsLogin", "NeedsMachineAuth", "Stopped", "Starting"]) {
    assert.equal(tailscaleAdvertiseAddr(status({ state })), undefined, state);
  }
  const fromSelf = status();
  fromSelf.TailscaleIPs = [];
  assert.equal(tailscaleAdvertiseAddr(fromSelf), "100.101.1.1", "Self's addresses as fallback");
});

Deno.test("candidates are the online peers' IPv4s, without this node, sharees or repeats", () => {
  const s = status({
    peers: [
      peer({ ips: ["100.101.1.2", "fd7a:115c:a1e0::2"] }),
      peer({ ips: ["100.101.1.3"], Tags: ["tag:fossora"], UserID: TAGGED.ID }),
      peer({ ips: ["100.101.1.6"], Online: false }),
      peer({ ips: ["100.101.1.7"], ShareeNode: true, UserID: BOB.ID }),
      peer({ ips: ["100.101.1.2"] }), // listed twice (a re-keyed machine)
      peer({ ips: ["100.101.1.1"] }), // this node's own address
      peer({ ips: ["100.101.1", "not an ip", "100.101.1.08"] }),
      peer({ ips: ["100.101.1.5"], UserID: BOB.ID }),
    ],
  });
  assert.deepEqual(tailnetCandidates(s), ["100.101.1.2", "100.101.1.3", "100.101.1.5"]);
  assert.deepEqual(tailnetCandidates({ ...s, BackendState: "Stopped" }), []);
});

Deno.test("a machine of this node's user is trusted", () => {
  const d = tailnetTrust(whois(), status());
  assert.deepEqual(d, {
    trusted: true,
    why: "laptop.tail4f2a1c.ts.net. belongs to alice@example.com, as this node does",
  });
});

Deno.test("another user's machine is not trusted, even when its ID rounds to ours", () => {
  assert.equal(Number(BOB.ID), Number(ALICE.ID));
  const d = tailnetTrust(whois({ user: BOB }), status());
  assert.deepEqual(d, {
    trusted: false,
    why: "laptop.tail4f2a1c.ts.net. belongs to bob@example.com, not to alice@example.com",
  });
  // An old tailscaled sends no users with peers=false: the exact ID alone decides.
  const noUsers = status({ users: [] });
  assert.equal(tailnetTrust(whois({ user: BOB }), noUsers).trusted, false);
  assert.match(tailnetTrust(whois({ user: BOB }), noUsers).why, /not to user 6104512347893214561/);
  assert.equal(tailnetTrust(whois(), noUsers).trusted, true);
});

Deno.test("an answer whose IDs and names disagree is not trusted", () => {
  const sameIdOtherLogin = whois({ user: { ...ALICE, LoginName: "mallory@example.com" } });
  assert.equal(tailnetTrust(sameIdOtherLogin, status()).trusted, false);
  const nodeOfBob = whois({ user: ALICE, nodeUser: BOB.ID });
  assert.match(tailnetTrust(nodeOfBob, status()).why, /names two different users/);
  const selfWithoutUser = status({ self: { UserID: "0" } });
  assert.deepEqual(tailnetTrust(whois(), selfWithoutUser), {
    trusted: false,
    why: "tailscale did not say which user this node belongs to",
  });
});

Deno.test("a tagged machine is trusted by the configured tag only, matched exactly", () => {
  const tagged = whois({ user: TAGGED, tags: ["tag:fossora"] });
  assert.deepEqual(tailnetTrust(tagged, status(), "tag:fossora"), {
    trusted: true,
    why: "laptop.tail4f2a1c.ts.net. carries tag:fossora",
  });
  assert.match(tailnetTrust(tagged, status()).why, /--tailscale-tag is not set/);
  assert.equal(tailnetTrust(tagged, status()).trusted, false);
  const near = whois({ user: TAGGED, tags: ["tag:fossora-dev"] });
  assert.equal(tailnetTrust(near, status(), "tag:fossora").trusted, false);
  assert.equal(tailnetTrust(near, status(), "tag:fossora-").trusted, false);
  // Owned by tagged-devices but no tags listed: still a tagged machine, never the owner's.
  const taggedNoTags = whois({ user: TAGGED });
  assert.equal(tailnetTrust(taggedNoTags, status(), "tag:fossora").trusted, false);
  // A user's machine carrying the tag is trusted by it as well.
  const userTagged = whois({ user: BOB, tags: ["tag:fossora"] });
  assert.equal(tailnetTrust(userTagged, status(), "tag:fossora").trusted, true);
});

Deno.test("a tagged node trusts tagged machines by tag only, never by their shared owner", () => {
  const self = status({ self: { UserID: TAGGED.ID, Tags: ["tag:fossora"] } });
  const sameOwner = whois({ user: TAGGED, tags: ["tag:server"] });
  assert.equal(tailnetTrust(sameOwner, self).trusted, false);
  assert.match(tailnetTrust(sameOwner, self).why, /is a tagged machine \(tag:server\)/);
  assert.match(tailnetTrust(whois(), self).why, /this node is a tagged machine/);
  assert.equal(tailnetTrust(whois(), self).trusted, false, "a user's machine without the tag");
  assert.equal(tailnetTrust(whois(), self, "tag:fossora").trusted, false);
  const withTag = whois({ user: TAGGED, tags: ["tag:server", "tag:fossora"] });
  assert.equal(tailnetTrust(withTag, self, "tag:fossora").trusted, true);
  // Self tagged as the users map says, even when Self lists no tags.
  const selfByLogin = status({ self: { UserID: TAGGED.ID } });
  assert.equal(tailnetTrust(whois({ user: TAGGED }), selfByLogin).trusted, false);
});

Deno.test("a machine shared in from another tailnet is never trusted", () => {
  const shared = whois({ user: ALICE, tags: ["tag:fossora"], sharer: BOB.ID });
  const d = tailnetTrust(shared, status(), "tag:fossora");
  assert.equal(d.trusted, false);
  assert.match(d.why, /shared in from another tailnet/);
});

Deno.test("a failed lookup or a node whose tailscale is not running is never trusted", () => {
  const err = new TailscaleError("not_found", "100.1.2.3:5 is not a machine of this tailnet");
  assert.deepEqual(tailnetTrust(err, status(), "tag:fossora"), {
    trusted: false,
    why: "tailscale could not say who it is: 100.1.2.3:5 is not a machine of this tailnet",
  });
  assert.equal(tailnetTrust(new Error("boom"), status()).trusted, false);
  assert.deepEqual(tailnetTrust(whois(), status({ state: "Stopped" })), {
    trusted: false,
    why: "this node's tailscale is Stopped, not Running",
  });
});

Deno.test("--tailscale-tag takes tag:NAME as Tailscale does", () => {
  for (const ok of ["tag:fossora", "tag:a", "tag:Home-Lab-2"]) {
    assert.equal(checkTailscaleTag(ok), undefined, ok);
  }
  for (const bad of ["fossora", "tag:", "tag:-x", "tag:2x", "tag:a_b", "tag:a b", "Tag:x"]) {
    assert.match(checkTailscaleTag(bad) ?? "", /is not a Tailscale tag; write it as tag:NAME/, bad);
  }
});
