/**
 * Leader election for a role (`leader`, `scheduler`) on etcd's election recipe: the oldest lease
 * holding a key under `election/<role>/` leads. A failed campaign is retried with backoff.
 * @module
 */
import { type Campaign, Election, type ElectionObserver } from "etcd3";
import { Backoff } from "../util/backoff.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { ROOT } from "./keys.ts";
import { LIVENESS_TTL_S } from "./lease.ts";
import type { Store } from "./store.ts";

/** Options of a {@link LeaderElection}. */
export interface LeaderElectionOptions {
  store: Store;
  role: string;
  /** What this node campaigns with: its node id. */
  value: string;
  /** Seconds the role outlives a holder that died (default {@link LIVENESS_TTL_S}). */
  ttl?: number;
  log?: Logger;
  /** Called with true when this node becomes leader, false when it stops being leader. */
  onChange?: (leading: boolean) => void;
}

/** Campaigns for a role and tracks who holds it. */
export class LeaderElection {
  readonly #election: Election;
  #campaign: Campaign | undefined;
  #observer: ElectionObserver | undefined;
  #leading = false;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Campaign retries: 1 s doubling to 10 s, for the life of this election. */
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 10_000 });
  readonly #log: Logger;

  constructor(readonly options: LeaderElectionOptions) {
    this.#election = new Election(
      options.store.client.namespace(ROOT),
      options.role,
      options.ttl ?? LIVENESS_TTL_S,
    );
    this.#log = options.log ?? silentLogger;
  }

  /** True while this node holds the role. */
  get leading(): boolean {
    return this.#leading;
  }

  /** The value (node id) of the current holder, as last observed. */
  leader(): string | undefined {
    return this.#observer?.leader() ?? (this.#leading ? this.options.value : undefined);
  }

  /**
   * Starts campaigning and observing; returns at once. A key this node left in the election
   * before it was killed is deleted first: it would otherwise keep the role empty until its lease
   * ran out (a killed scheduler that restarted was not elected again for 13 s).
   */
  start(): void {
    this.#forgetOldSelf().finally(() => {
      if (this.#stopped) return;
      this.#campaignNow();
      this.#observe();
    });
  }

  async #forgetOldSelf(): Promise<void> {
    const candidates = this.options.store.client.namespace(`${ROOT}election/${this.options.role}/`);
    try {
      const keys = await candidates.getAll().strings();
      for (const [key, value] of Object.entries(keys)) {
        if (value !== this.options.value) continue;
        await candidates.delete().key(key);
        this.#log.info("removed this node's key left from before a restart", {
          role: this.options.role,
        });
      }
    } catch (err) {
      // etcd away: the old key ends with its lease, as it did before.
      this.#log.debug("could not look for an old election key", { role: this.options.role, err });
    }
  }

  /** Resigns the role if held, and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#setLeading(false);
    await this.#campaign?.resign().catch(() => {});
    await this.#observer?.cancel().catch(() => {});
  }

  #campaignNow(): void {
    if (this.#stopped) return;
    const campaign = this.#election.campaign(this.options.value);
    this.#campaign = campaign;
    campaign.on("elected", () => this.#setLeading(true));
    campaign.on("error", (err) => {
      // etcd3 can report one failure twice (lease lost, then campaign start); only the first
      // error of the current campaign schedules the next one, or campaigns multiply.
      if (this.#campaign !== campaign) return;
      this.#campaign = undefined;
      campaign.removeAllListeners();
      campaign.on("error", () => {});
      campaign.resign().catch(() => {});
      const delay = this.#backoff.next(Date.now());
      this.#log.warn("election campaign failed; campaigning again", {
        role: this.options.role,
        err,
        delayMs: delay,
      });
      this.#setLeading(false);
      if (this.#stopped) return;
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.#campaignNow(), delay);
    });
  }

  #observe(): void {
    this.#election.observe().then((observer) => {
      if (this.#stopped) return void observer.cancel().catch(() => {});
      this.#observer = observer;
      observer.on("error", () => {
        if (!this.#stopped) this.#retry = setTimeout(() => this.#observe(), 2000);
      });
    }).catch(() => {
      if (!this.#stopped) this.#retry = setTimeout(() => this.#observe(), 2000);
    });
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info(leading ? "elected" : "no longer elected", { role: this.options.role });
    this.options.onChange?.(leading);
  }
}
