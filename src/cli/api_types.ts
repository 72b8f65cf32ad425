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

/** `POST /api/v1/services`. */
export interface DeployAnswer {
  services: ApplyResult[];
  warnings: string[];
}
