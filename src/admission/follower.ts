/**
 * Every node follows what the admission leader decided about it: a worker the leader is making
 * a voter starts its etcd member; a voter whose member was removed (it was down too long, it was
 * over the count, it left) stops it and goes on as a worker. And every node follows the voters'
 * addresses, so its etcd client keeps reaching whichever nodes vote now.
 * @module
 */
import { type Logger, silentLogger } from "../util/log.ts";
import type { CurrentAdmission, Member, Role } from "./types.ts";

/** What {@link followStep} sees. */
export interface FollowState {
  self: string;
  /** This node's etcd peer URL. */
  peerUrl: string;
  role: Role;
  members: readonly Member[];
  current: CurrentAdmission | undefined;
}

/** What this node does next. */
export type FollowAction =
  | { kind: "none" }
  /** The leader added this worker as a learner: start the member with this cluster list. */
  | { kind: "start-member"; initialCluster: string }
  /** This voter's member is gone from etcd: stop it, go on as a worker. */
  | { kind: "stop-member"; why: string };

/** The next action. */
export function followStep(s: FollowState): FollowAction {
  const mine = s.members.find((m) => m.name === s.self || m.peerUrls.includes(s.peerUrl));
  const admitting = s.current?.id === s.self;
  if (s.role === "worker") {
    if (
      admitting && s.current?.step === "learner" && s.current.initialCluster && mine?.isLearner
    ) {
      return { kind: "start-member", initialCluster: s.current.initialCluster };
    }
    return { kind: "none" };
  }
  // A voter being re-added (its promotion is under way) is not gone.
  if (mine || admitting || s.members.length === 0) return { kind: "none" };
  return {
    kind: "stop-member",
    why: "its etcd member was removed from the cluster (it was replaced, demoted or left)",
  };
}

/** The client URLs of the voters (learners serve no clients yet). */
export function voterClientUrls(members: readonly Member[]): string[] {
  return members.filter((m) => !m.isLearner).flatMap((m) => m.clientUrls).sort();
}

/** What the follower needs from the agent. */
export interface RoleFollowerOptions extends Pick<FollowState, "self" | "peerUrl"> {
  role: () => Role;
  members: () => Promise<Member[]>;
  current: () => Promise<CurrentAdmission | undefined>;
  startMember: (initialCluster: string) => Promise<void>;
  stopMember: (why: string) => Promise<void>;
  /** The voters' client URLs, each time they are read. */
  voters: (clientUrls: string[]) => void;
  /** Pause between looks, ms; default 2000. */
  everyMs?: number;
  log?: Logger;
}

/** Looks every few seconds and acts on {@link followStep}'s answer. */
export class RoleFollower {
  readonly #o: RoleFollowerOptions;
  readonly #log: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** A voter's member must be seen gone twice in a row: one answer could come from a stale peer. */
  #goneSeen = 0;

  constructor(o: RoleFollowerOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Looks again now (the state changed). */
  poke(): void {
    if (!this.#running && !this.#stopped) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.once().then(() => {}).finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule(this.#o.everyMs ?? 2000);
      });
    }, ms);
  }

  /** One look (tests call it directly). */
  async once(): Promise<FollowAction> {
    let members: Member[], current: CurrentAdmission | undefined;
    try {
      [members, current] = await Promise.all([this.#o.members(), this.#o.current()]);
    } catch (err) {
      this.#log.debug("cannot read the members; trying again", { err });
      return { kind: "none" };
    }
    if (members.length) this.#o.voters(voterClientUrls(members));
    const action = followStep({ ...this.#o, role: this.#o.role(), members, current });
    this.#goneSeen = action.kind === "stop-member" ? this.#goneSeen + 1 : 0;
    if (this.#stopped) return action;
    try {
      if (action.kind === "start-member") {
        this.#log.info("the leader is making this node a voter; starting its etcd member");
        await this.#o.startMember(action.initialCluster);
      } else if (action.kind === "stop-member" && this.#goneSeen >= 2) {
        this.#log.warn("this node no longer votes; going on as a worker", { why: action.why });
        await this.#o.stopMember(action.why);
        this.#goneSeen = 0;
      }
    } catch (err) {
      this.#log.error("cannot change this node's role; trying again", { err });
    }
    return action;
  }
}
