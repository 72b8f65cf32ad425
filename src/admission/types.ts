/**
 * The admission records kept in etcd (`admission/…`), so that any member can take a join
 * request and any new leader can carry on where the last one stopped.
 * @module
 */

/** How a queued joiner came to be trusted, or that it waits for a person. */
export type Trust = "token" | "tailnet" | "approved" | "pending";

/** What a node is in the control plane: an etcd voter, or a client of the voters. */
export type Role = "voter" | "worker";

/** What a joiner says about itself: the same in its request and in the queue. */
export interface JoinerFacts {
  /** The joiner's node id (it keeps it across restarts). */
  id: string;
  name: string;
  /** The address other nodes reach it at. */
  address: string;
  apiPort: number;
  etcdPeerPort: number;
  etcdClientPort: number;
  arch: string;
  site: string;
  version: string;
  /** Its certificate request: the key stays on the joiner. */
  csr: string;
}

/** A join request as queued (`admission/queue/<id>`) by the member that received it. */
export interface QueuedJoin extends JoinerFacts {
  /** sha256 (hex) of the ticket the joiner chose; status polls must show the ticket itself. */
  ticketHash: string;
  trust: Trust;
  /** Words for the log: which token, which tailnet identity, who approved. */
  trustWhy: string;
  /** When it was first queued (ms): the queue's order. */
  queuedAt: number;
  /** When it last asked (ms): a request nobody renews is dropped. */
  seenAt: number;
}

/** The one admission in progress (`admission/current/0`), written only by the leader. */
export interface CurrentAdmission {
  id: string;
  name: string;
  role: Role;
  /**
   * `adding`: written before the learner is added, so a new leader finds a learner it would
   * otherwise not know; `learner`: added, waiting for it to catch up; `issued`: a worker holds
   * its certificate, waiting for it to connect.
   */
  step: "adding" | "learner" | "issued";
  /** The joiner's etcd peer URL (a voter's). */
  peerUrl: string;
  /** The learner's etcd member id, hex. */
  memberId?: string;
  /** Its signed certificate, PEM. */
  cert: string;
  /** For a voter: etcd's `--initial-cluster` to start with. */
  initialCluster?: string;
  /** The voters' client URLs, for a worker to reach etcd. */
  clientUrls: string[];
  /** A worker of the cluster made a voter (it has its certificate and its record already). */
  promotion?: boolean;
  startedAt: number;
  /** The last step's time (ms): timeouts count from here. */
  progressAt: number;
}

/** One line of the admission log (`admission/log/<seq>`), what `fossora nodes --history` shows. */
export interface AdmissionEvent {
  at: number;
  id: string;
  name: string;
  event:
    | "queued"
    | "pending"
    | "approved"
    | "admitting"
    | "learner-added"
    | "certificate-issued"
    | "promoted"
    | "admitted"
    | "timed-out"
    | "aborted"
    | "dropped"
    | "orphan-removed"
    | "promoting"
    | "voter-removed"
    | "replaced"
    | "removed"
    | "leaving"
    | "left";
  detail: string;
  /** The node (id) that acted. */
  by: string;
}

/** An etcd member, as the step sees it. */
export interface Member {
  /** Hex id. */
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}
