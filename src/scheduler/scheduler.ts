/**
 * The scheduler's driver: on the elected node, after every change of the mirror, plan and write
 * the assignments. Placement problems are kept for the API to show.
 * @module
 */
import {
  type ClusterEvent,
  EVENTS_KEPT,
  families,
  makeEvent,
  type Mirror,
  type Store,
} from "../state/mod.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { type Move, planSchedule, type ScheduleFacts } from "./plan.ts";
import type { ImagePlatforms } from "./platforms.ts";

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  store: Store;
  mirror: Mirror;
  /** True while this node holds the scheduler role. */
  leading: () => boolean;
  /** The platforms of services' images, learned in the background. */
  platforms?: Pick<ImagePlatforms, "get" | "pending">;
  log?: Logger;
}

/** Writes assignments so they match the services and nodes. */
export class Scheduler {
  #running = false;
  #again = false;
  readonly #log: Logger;
  /** The live nodes (id to name) at the last round this node led; undefined when it did not. */
  #seen: Map<string, string> | undefined;
  /**
   * The last move told per replica: a round that runs before the mirror shows the last round's
   * writes plans the same move again, and it should be told once.
   */
  readonly #told = new Map<string, string>();

  constructor(readonly options: SchedulerOptions) {
    this.#log = options.log ?? silentLogger;
  }

  /** Runs one round now, or right after the round in progress. */
  poke(): void {
    if (!this.options.leading()) {
      this.#seen = undefined;
      return;
    }
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#round()
      .catch((err) =>
        this.#log.warn("scheduling round failed; will retry on the next change", { err })
      )
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.poke();
        }
      });
  }

  /** Writes why services cannot be placed where the API shows it, and clears what is solved. */
  async #recordProblems(unplaced: Map<string, string>): Promise<void> {
    const { mirror, store } = this.options;
    for (const [service, reason] of unplaced) {
      if (mirror.view.placementProblem(service)?.reason === reason) continue;
      this.#log.warn("cannot place", { service, reason });
      await store.putPlacementProblem({ service, reason, since: new Date().toISOString() });
    }
    for (const p of mirror.view.placementProblems()) {
      if (!unplaced.has(p.service)) await store.deletePlacementProblem(p.service);
    }
  }

  /** A node's name, from its record, else its member record (a node that is down). */
  #name(id: string): string {
    const view = this.options.mirror.view;
    return view.node(id)?.name ?? view.members().find((m) => m.id === id)?.name ?? id;
  }

  #facts(): ScheduleFacts {
    const view = this.options.mirror.view;
    return {
      drained: (node) => view.drain(node) !== undefined,
      platforms: (image) => this.options.platforms?.get(image),
      platformsPending: (image) => this.options.platforms?.pending(image) ?? false,
      members: view.members(),
      ready: (service, replica, node, generation) =>
        view.replicasOf(service).some((r) =>
          r.replica === replica && r.node === node && r.generation === generation && r.ready
        ),
    };
  }

  /** Nodes that went down or came back since the last round, as events. */
  #nodeEvents(now: Map<string, string>): ClusterEvent[] {
    const view = this.options.mirror.view;
    const before = this.#seen;
    if (!before) return [];
    const left = new Set(view.members().filter((m) => m.leftAt).map((m) => m.id));
    const out: ClusterEvent[] = [];
    for (const [id, name] of before) {
      if (!now.has(id) && !left.has(id)) {
        out.push(makeEvent({ kind: "node-down", node: name, message: `${name} went down` }));
      }
    }
    for (const [id, name] of now) {
      if (!before.has(id) && view.members().some((m) => m.id === id && m.downAt)) {
        out.push(makeEvent({ kind: "node-up", node: name, message: `${name} is back` }));
      }
    }
    return out;
  }

  #moveEvent(m: Move): ClusterEvent {
    const from = this.#name(m.from);
    const to = this.#name(m.to);
    return makeEvent({
      kind: "moved",
      service: m.service,
      replica: m.replica,
      from,
      to,
      message: `replica ${m.replica} moved from ${from} to ${to}: ${m.why ?? `${from} went down`}` +
        (this.options.mirror.view.service(m.service)?.spec.volumes.length
          ? `; its volumes did not follow: it starts with ${to}'s copy of them, and ` +
            `${from}'s stay there`
          : ""),
    });
  }

  /** Writes events, then deletes the oldest beyond {@link EVENTS_KEPT}. */
  async #record(events: ClusterEvent[]): Promise<void> {
    const { mirror, store } = this.options;
    for (const e of events) {
      this.#log.info(e.message, { event: e.kind, service: e.service });
      await store.put(families.events, [e.id], e);
    }
    for (const old of mirror.view.events().slice(EVENTS_KEPT)) {
      await store.delete(families.events, old.id);
    }
  }

  async #round(): Promise<void> {
    const { mirror, store } = this.options;
    const live = new Map(mirror.view.nodes().map((n) => [n.id, n.name]));
    const nodeEvents = this.#nodeEvents(live);
    const plan = planSchedule(
      mirror.view.services(),
      mirror.view.nodes(),
      [...mirror.assignments.values()],
      this.#facts(),
    );
    await this.#recordProblems(plan.unplaced);
    for (const a of plan.put) {
      await store.putAssignment(a);
      this.#log.info("assigned", {
        service: a.service,
        replica: a.replica,
        node: a.node,
        generation: a.generation,
        ...(a.previous ? { previous: a.previous } : {}),
      });
    }
    for (const r of plan.remove) {
      await store.deleteAssignment(r.service, r.replica);
      this.#log.info("unassigned", { service: r.service, replica: r.replica });
    }
    const moves = plan.moves.filter((m) => {
      const key = `${m.service}/${m.replica}`;
      const move = `${m.from}>${m.to}`;
      if (this.#told.get(key) === move) return false;
      this.#told.set(key, move);
      return true;
    });
    await this.#record([...nodeEvents, ...moves.map((m) => this.#moveEvent(m))]);
    // Only now: a round that failed tells of these nodes again on the next one.
    this.#seen = live;
  }
}
