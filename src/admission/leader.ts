/**
 * The admission leader's driver: on the elected node, it reads the queue, the admission in
 * progress and etcd's members, asks {@link admissionStep} for one action and performs it against
 * etcd, writing each step to the admission log. All of its state is in etcd, so the next leader
 * carries on from there.
 * @module
 */
import type { Store, Versioned } from "../state/store.ts";
import { families } from "../state/keys.ts";
import type { MemberRecord } from "../state/types.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { randomHex } from "../util/random.ts";
import { initialCluster, type Membership } from "./membership.ts";
import {
  type AdmissionAction,
  type AdmissionSettings,
  admissionStep,
  DEFAULT_ADMISSION,
} from "./step.ts";
import { type RolesAction, rolesStep } from "./roles.ts";
import type { AdmissionEvent, CurrentAdmission, QueuedJoin } from "./types.ts";

/** Where the one admission in progress is kept. */
export const CURRENT = ["current", "0"];
/** Log lines kept; older ones are trimmed. */
export const LOG_KEEP = 500;

/** What the driver needs. */
export interface AdmissionLeaderOptions {
  store: Store;
  membership: Membership;
  /** Signs a joiner's certificate request for its name and addresses. */
  sign: (csr: string, name: string, ips: string[]) => Promise<string>;
  /** Ids of the nodes whose lease-backed record is live (the mirror's). */
  liveNodes: () => ReadonlySet<string>;
  /** True while this node holds the leader role. */
  leading: () => boolean;
  /** This node's id, for the log. */
  nodeId: string;
  settings?: Partial<AdmissionSettings & { voterGraceMs: number; promoteCooldownMs: number }>;
  now?: () => number;
  log?: Logger;
  /** Pause between steps while there is work, ms; default 500. */
  everyMs?: number;
}

/** Runs admission steps while this node leads. */
export class AdmissionLeader {
  readonly #o: AdmissionLeaderOptions;
  readonly #settings: AdmissionSettings;
  readonly #now: () => number;
  readonly #log: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Since when each voter has been seen down (by this leader: a new one starts counting). */
  readonly #downSince = new Map<string, number>();
  /** Workers whose promotion failed lately, and until when they are left alone. */
  readonly #cooldown = new Map<string, number>();

  constructor(o: AdmissionLeaderOptions) {
    this.#o = o;
    this.#settings = { ...DEFAULT_ADMISSION, ...o.settings };
    this.#now = o.now ?? Date.now;
    this.#log = o.log ?? silentLogger;
  }

  /** Steps now, and again every `everyMs` (a watch would miss a joiner that stopped asking). */
  start(): void {
    this.#stopped = false;
    this.poke();
  }

  /** Runs a step soon (a join request came, leadership changed). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      const delay = this.#again ? 0 : this.#o.everyMs ?? 500;
      this.#again = false;
      this.#timer = setTimeout(() => this.poke(), delay);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Steps until there is nothing to do right now. */
  async #loop(): Promise<void> {
    for (let i = 0; i < 20 && this.#o.leading() && !this.#stopped; i++) {
      let action: AdmissionAction | RolesAction;
      try {
        action = await this.step();
      } catch (err) {
        this.#log.warn("admission step failed; trying again", { err });
        return;
      }
      if (action.kind === "none" || action.kind === "wait" || action.kind === "promote") return;
    }
  }

  /**
   * Reads the state, performs one action and returns it (tests drive it directly). An admission
   * under way comes first, then a dead voter's replacement, then the queue, then the shape of the
   * control plane (voter count, sites, leaving nodes).
   */
  async step(): Promise<AdmissionAction | RolesAction> {
    const { store, membership } = this.#o;
    const [queue, current, members, records] = await Promise.all([
      store.list<QueuedJoin>(families.admission, "queue"),
      store.get<CurrentAdmission>(families.admission, ...CURRENT),
      membership.list(),
      store.list<MemberRecord>(families.members),
    ]);
    const now = this.#now();
    const liveNodes = this.#o.liveNodes();
    await this.#markDown(records, liveNodes, now);
    this.#trackDown(
      members.filter((m) => !m.isLearner).map((m) => m.name),
      liveNodes,
      now,
      records.map((r) => r.value),
    );
    const roles = () =>
      rolesStep({
        members,
        records: records.map((r) => r.value),
        liveNodes,
        downSince: this.#downSince,
        cooldown: this.#cooldown,
        self: this.#o.nodeId,
        now,
      }, {
        maxVoters: this.#settings.maxVoters,
        voterGraceMs: this.#o.settings?.voterGraceMs ?? VOTER_GRACE_MS,
      });
    if (!current) {
      // A dead voter is replaced before anyone else is admitted.
      const first = roles();
      if (first.kind === "remove-voter" || first.kind === "forget") {
        await this.#performRoles(first, records.map((r) => r.value));
        return first;
      }
    }
    const action = admissionStep({
      queue: queue.map((q) => q.value),
      current: current?.value,
      members,
      liveNodes,
      now,
    }, this.#settings);
    if (action.kind === "wait" && !current) {
      const next = roles();
      await this.#performRoles(next, records.map((r) => r.value));
      return next;
    }
    await this.#perform(action, current?.value, current?.modRevision ?? 0);
    return action;
  }

  /**
   * Notes on each record when a node was first seen down (what `fossora nodes` shows as its last
   * sighting, and where a new leader's grace period counts from), and clears it when it is back.
   */
  async #markDown(
    records: Versioned<MemberRecord>[],
    live: ReadonlySet<string>,
    now: number,
  ): Promise<void> {
    for (const { value: r, modRevision } of records) {
      if (r.leftAt) continue;
      const up = live.has(r.id);
      if (up === (r.downAt === undefined)) continue;
      const { downAt: _, ...back } = r;
      const next: MemberRecord = up ? back : { ...r, downAt: now };
      if (await this.#o.store.putIf(families.members, [r.id], modRevision, next)) {
        Object.assign(r, next);
        if (up) delete r.downAt;
      }
    }
  }

  #trackDown(
    voters: string[],
    live: ReadonlySet<string>,
    now: number,
    records: MemberRecord[],
  ): void {
    for (const id of [...this.#downSince.keys()]) {
      if (live.has(id) || !voters.includes(id)) this.#downSince.delete(id);
    }
    for (const id of voters) {
      if (id && !live.has(id) && !this.#downSince.has(id)) {
        this.#downSince.set(id, records.find((r) => r.id === id)?.downAt ?? now);
      }
    }
  }

  async #performRoles(a: RolesAction, records: MemberRecord[]): Promise<void> {
    const { store, membership } = this.#o;
    const now = this.#now();
    const record = (id: string) => records.find((r) => r.id === id);
    switch (a.kind) {
      case "none":
        return;
      case "remove-voter": {
        await membership.remove(a.memberId);
        const r = record(a.id);
        if (r) await store.put(families.members, [a.id], { ...r, role: "worker" });
        this.#downSince.delete(a.id);
        return await this.#event(a, "voter-removed", `${a.why}; it goes on as a worker`);
      }
      case "promote-worker": {
        const r = a.record;
        const members = await membership.list();
        const next: CurrentAdmission = {
          id: r.id,
          name: r.name,
          role: "voter",
          step: "adding",
          peerUrl: peerUrlOf({ address: r.address, etcdPeerPort: r.etcdPeerPort }),
          cert: "",
          clientUrls: members.filter((m) => !m.isLearner).flatMap((m) => m.clientUrls),
          promotion: true,
          startedAt: now,
          progressAt: now,
        };
        if (!await store.putIf(families.admission, CURRENT, 0, next)) return;
        await this.#event(r, "promoting", `to a voter: ${a.why}`);
        return await this.#addLearner(next, await this.#revision());
      }
      case "release": {
        const r = record(a.id);
        if (r) await store.put(families.members, [a.id], { ...r, leftAt: now });
        return await this.#event(a, "left", "it held no vote; it may go");
      }
      case "forget":
        if (a.memberId) await membership.remove(a.memberId);
        await store.delete(families.members, a.id);
        return await this.#event(a, "replaced", a.why);
    }
  }

  async #perform(
    a: AdmissionAction,
    current: CurrentAdmission | undefined,
    rev: number,
  ): Promise<void> {
    const { store, membership } = this.#o;
    const now = this.#now();
    switch (a.kind) {
      case "wait":
        return;
      case "start": {
        const j = a.join;
        const members = await membership.list();
        const clientUrls = members.filter((m) => !m.isLearner).flatMap((m) => m.clientUrls);
        const cert = await this.#o.sign(j.csr, j.name, [j.address]);
        const next: CurrentAdmission = {
          id: j.id,
          name: j.name,
          role: a.role,
          step: a.role === "voter" ? "adding" : "issued",
          peerUrl: peerUrlOf(j),
          cert,
          clientUrls,
          startedAt: now,
          progressAt: now,
        };
        if (!await store.putIf(families.admission, CURRENT, 0, next)) return;
        await this.#event(j, "admitting", `as a ${a.role} (${j.trustWhy})`);
        if (a.role === "worker") {
          await this.#event(j, "certificate-issued", "waiting for it to connect");
          return;
        }
        return await this.#addLearner(next, await this.#revision());
      }
      case "add-learner":
        return await this.#addLearner(current!, rev);
      case "adopt-learner": {
        const c = current!;
        const members = await membership.list();
        await store.putIf(families.admission, CURRENT, rev, {
          ...c,
          step: "learner",
          memberId: a.memberId,
          initialCluster: initialCluster(members, c.id, c.peerUrl),
          progressAt: now,
        });
        return await this.#event(c, "learner-added", `found learner ${a.memberId}`);
      }
      case "promote":
        if (await membership.promote(a.memberId) === "promoted") {
          await this.#event(current!, "promoted", "its etcd member caught up and votes");
        }
        return;
      case "finish": {
        const c = current!;
        const q = await store.get<QueuedJoin>(families.admission, "queue", a.id);
        const old = await store.get<MemberRecord>(families.members, a.id);
        if (q) await store.put(families.members, [a.id], memberRecordOf(q.value, a.role, now));
        else if (old) await store.put(families.members, [a.id], { ...old.value, role: a.role });
        await this.#clear(a.id, rev);
        return await this.#event(
          c,
          "admitted",
          c.promotion ? "as a voter, from worker" : `as a ${a.role}`,
        );
      }
      case "abort":
        if (a.memberId) await membership.remove(a.memberId);
        if (current?.promotion) {
          this.#cooldown.set(a.id, now + (this.#o.settings?.promoteCooldownMs ?? COOLDOWN_MS));
        }
        // A joiner that timed out is likely gone; one stopped by the cluster's state (a voter
        // down, its learner lost) asks again and keeps its place.
        await this.#clear(a.id, rev, !a.timedOut);
        return await this.#event(current!, a.timedOut ? "timed-out" : "aborted", a.why);
      case "remove-orphan":
        await membership.remove(a.memberId);
        return await this.#event(
          { id: a.memberId, name: a.name || "(unstarted)" },
          "orphan-removed",
          "a learner no admission owned",
        );
      case "drop": {
        const q = await store.get<QueuedJoin>(families.admission, "queue", a.id);
        await store.delete(families.admission, "queue", a.id);
        return await this.#event(q?.value ?? { id: a.id, name: a.id }, "dropped", a.why);
      }
    }
  }

  async #addLearner(c: CurrentAdmission, rev: number): Promise<void> {
    let added;
    try {
      added = await this.#o.membership.addLearner(c.peerUrl);
    } catch (err) {
      // etcd adds a member only once its leader has been connected to every voter for 5 s (its
      // strict reconfig check): right after a change, or while a voter is unreachable. The
      // admission stays at "adding" and the next step tries again; a voter that is down undoes
      // it (the joiner then comes in as a worker), and so does the learner timeout.
      if (!/unhealthy cluster|active quorum/i.test(String(err))) throw err;
      this.#log.debug("etcd is not ready for a new member yet", { node: c.name });
      return;
    }
    const { id, members } = added;
    const next: CurrentAdmission = {
      ...c,
      step: "learner",
      memberId: id,
      initialCluster: initialCluster(members, c.id, c.peerUrl),
      progressAt: this.#now(),
    };
    if (!await this.#o.store.putIf(families.admission, CURRENT, rev, next)) {
      this.#log.warn("the admission changed while its learner was added", { node: c.name });
    }
    await this.#event(c, "learner-added", `etcd member ${id}`);
  }

  async #revision(): Promise<number> {
    return (await this.#o.store.get(families.admission, ...CURRENT))?.modRevision ?? 0;
  }

  /** Ends the admission of `id`: the record of it (if still this one) and its queue entry. */
  /**
   * Ends the admission of `id`: the record of it (if still this one) and, unless `keepQueued`,
   * its queue entry. An admission undone for a passing reason keeps its place and its approval.
   */
  async #clear(id: string, rev: number, keepQueued = false): Promise<void> {
    const { client } = this.#o.store;
    const key = (ids: string[]) => families.admission.prefix + ids.join("/");
    const deletes = [client.delete().key(key(CURRENT))];
    if (!keepQueued) deletes.push(client.delete().key(key(["queue", id])));
    await client.if(key(CURRENT), "Mod", "==", rev).then(...deletes).commit();
  }

  async #event(
    who: { id: string; name: string },
    event: AdmissionEvent["event"],
    detail: string,
  ): Promise<void> {
    await appendEvent(this.#o.store, {
      at: this.#now(),
      id: who.id,
      name: who.name,
      event,
      detail,
      by: this.#o.nodeId,
    });
    this.#log.info(`admission: ${event}`, { node: who.name, detail });
  }
}

/** How long a voter may be down before its vote goes to another node (issue: 30 s). */
export const VOTER_GRACE_MS = 30_000;
/** A worker whose promotion failed is not tried again for this long. */
const COOLDOWN_MS = 5 * 60_000;

/** The lasting record of an admitted node, from its request. */
export function memberRecordOf(
  j: Omit<QueuedJoin, "csr" | "ticketHash" | "trust" | "trustWhy" | "queuedAt" | "seenAt">,
  role: MemberRecord["role"],
  joinedAt: number,
): MemberRecord {
  return {
    id: j.id,
    name: j.name,
    address: j.address,
    site: j.site,
    arch: j.arch,
    apiPort: j.apiPort,
    etcdPeerPort: j.etcdPeerPort,
    etcdClientPort: j.etcdClientPort,
    role,
    joinedAt,
  };
}

/** A joiner's etcd peer URL, from what it sent. */
export function peerUrlOf(j: Pick<QueuedJoin, "address" | "etcdPeerPort">): string {
  const host = j.address.includes(":") ? `[${j.address}]` : j.address;
  return `https://${host}:${j.etcdPeerPort}`;
}

let appended = 0;

/**
 * Appends to the admission log, trimming old lines. Keys sort by time, then by this process's
 * count (two steps in one millisecond keep their order), then a random tail (two leaders).
 */
export async function appendEvent(store: Store, e: AdmissionEvent): Promise<void> {
  const seq = `${String(e.at).padStart(15, "0")}-${String(++appended).padStart(9, "0")}-` +
    randomHex(2);
  await store.put(families.admission, ["log", seq], e);
  if (appended % 50 === 0) await trimLog(store);
}

async function trimLog(store: Store): Promise<void> {
  const res = await store.client.getAll().prefix(`${families.admission.prefix}log/`).keys();
  const keys = res.map((k) => k.toString()).sort();
  for (const k of keys.slice(0, Math.max(0, keys.length - LOG_KEEP))) {
    await store.client.delete().key(k).exec();
  }
}

/** The admission log, oldest first. */
export async function admissionLog(store: Store): Promise<AdmissionEvent[]> {
  const entries = await store.list<AdmissionEvent>(families.admission, "log");
  return entries.sort((a, b) => (a.ids[1] < b.ids[1] ? -1 : 1)).map((e) => e.value);
}
