/**
 * The shapes of the API's answers as the client reads them. Type-only imports of the server's
 * own types, so a change of the API breaks the client at type-check time, not at run time.
 * @module
 */
import type {
  ApplyResult,
  ClusterSummary,
  DrainAnswer,
  NodeSummary,
  ServiceDetail,
  ServiceSummary,
} from "../api/mod.ts";
import type { ClusterEvent } from "../state/types.ts";
import type { SpecChange } from "../state/spec_diff.ts";

export type { DrainAnswer, ServiceDetail };

/** `GET /api/v1/services`. */
export interface ServicesAnswer {
  services: ServiceSummary[];
}

/** `GET /api/v1/nodes`. */
export interface NodesAnswer {
  nodes: NodeSummary[];
}

/** `GET /api/v1/events`. */
export interface EventsAnswer {
  events: ClusterEvent[];
}

/** `GET /api/v1/cluster`. */
export type ClusterAnswer = Omit<ClusterSummary, "resilience"> & {
  resilience?: ClusterSummary["resilience"];
};

/** One service of a deploy; a preview also says what changes and whether replicas roll. */
export type DeployedService = ApplyResult & {
  changes?: SpecChange[];
  /** Its replicas are replaced (one at a time) by the change. */
  rolls?: boolean;
};

/** `POST /api/v1/services`. */
export interface DeployAnswer {
  services: DeployedService[];
  /** True when nothing was written: a preview (`?dryRun=1`). */
  dryRun?: boolean;
  warnings: string[];
  /** For a compose file: the stack deployed, and its services the file no longer has. */
  stack?: string;
  removed?: string[];
}

/** `GET /api/v1/stacks`. */
export interface StacksAnswer {
  stacks: StackSummary[];
}

/** One stack: its services and how they are. */
export interface StackSummary {
  name: string;
  /** `http://STACK.DOMAIN/` when the stack has a front service. */
  url: string | null;
  /** `ready` when every service is; else the worst of them. */
  state: string;
  services: ServiceSummary[];
}
