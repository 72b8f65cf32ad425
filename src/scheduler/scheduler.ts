/**
 * The scheduler's driver: on the elected node, after every change of the mirror, plan and write
 * the assignments. Placement problems are kept for the API to show.
 * @module
 */
import type { Mirror, Store } from "../state/mod.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { planSchedule } from "./plan.ts";

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  store: Store;
  mirror: Mirror;
  /** True while this node holds the scheduler role. */
  leading: () => boolean;
  log?: Logger;
}

/** Writes assignments so they match the services and nodes. */
export class Scheduler {
  #running = false;
  #again = false;
  readonly #log: Logger;

  constructor(readonly options: SchedulerOptions) {
    this.#log = options.log ?? silentLogger;
  }

  /** Runs one round now, or right after the round in progress. */
  poke(): void {
    if (!this.options.leading()) return;
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

  async #round(): Promise<void> {
    const { mirror, store } = this.options;
    const plan = planSchedule(mirror.view.services(), mirror.view.nodes(), [
      ...mirror.assignments.values(),
    ]);
    await this.#recordProblems(plan.unplaced);
    for (const a of plan.put) {
      await store.putAssignment(a);
      this.#log.info("assigned", {
        service: a.service,
        replica: a.replica,
        node: a.node,
        generation: a.generation,
      });
    }
    for (const r of plan.remove) {
      await store.deleteAssignment(r.service, r.replica);
      this.#log.info("unassigned", { service: r.service, replica: r.replica });
    }
  }
}
