/**
 * The overview's warnings, in plain words for someone who has never heard of etcd: what is
 * wrong, what it means for their services, and what to do.
 * @module
 */
import type { ClusterSummary, NodeSummary, ServiceSummary } from "../api/mod.ts";
import { ago, bytes } from "./layout.tsx";

/** One warning; `bad` ones need a person now. */
export interface Warning {
  level: "bad" | "warn";
  text: string;
  /** Where to go to do something about it. */
  href?: string;
}

/** A disk with less than this share free is nearly full. */
export const DISK_NEARLY_FULL = 0.1;

/** One line of the admission log. */
export interface AdmissionLine {
  at: number;
  name: string;
  event: string;
}

/** What the cluster, its nodes, services and admission log say a person should know. */
export function clusterWarnings(input: {
  cluster?: Pick<ClusterSummary, "resilience" | "warnings">;
  nodes: NodeSummary[];
  services: ServiceSummary[];
  admission?: AdmissionLine[];
  now: number;
}): Warning[] {
  const out: Warning[] = [];
  const r = input.cluster?.resilience;
  if (r && r.voters > 0) {
    const quorum = Math.floor(r.voters / 2) + 1;
    if (r.votersUp < quorum) {
      const missing = quorum - r.votersUp;
      out.push({
        level: "bad",
        text: `The cluster cannot change anything: only ${r.votersUp} of its ${r.voters} ` +
          `voting nodes ${
            r.votersUp === 1 ? "is" : "are"
          } up, and ${missing} more must come back (a majority, ${quorum}). ` +
          "Services that run keep running, but nothing can be deployed, moved or joined until then.",
        href: "/nodes",
      });
    }
  }
  const present = input.nodes.filter((n) => n.state !== "left");
  for (const n of present.filter((n) => n.state === "down")) {
    out.push({
      level: "bad",
      text: `${n.name} is down (last seen ${ago(input.now - Date.parse(n.lastSeen))}). ` +
        "Its services move to other nodes where they can; bring it back, or remove it if it is gone for good.",
      href: `/nodes/${encodeURIComponent(n.name)}`,
    });
  }
  if (present.length === 2) {
    const voters = present.filter((n) => n.role === "voter").map((n) => n.name);
    out.push({
      level: "warn",
      text: voters.length === 1
        ? `This cluster has two nodes. If ${voters[0]} fails, services keep running but ` +
          "nothing can change until it is back; add a third node so that any one may fail."
        : "This cluster has two nodes: if one fails, the other keeps serving, but add a third " +
          "node so that any one may fail with nothing lost.",
      href: "/nodes",
    });
  }
  for (const n of present) {
    const disk = n.usage?.disk;
    if (disk && disk.total > 0 && disk.free / disk.total < DISK_NEARLY_FULL) {
      const used = Math.round((1 - disk.free / disk.total) * 100);
      out.push({
        level: "warn",
        text: `${n.name}'s disk is ${used}% full (${bytes(disk.free)} free). ` +
          "Free space on it, or move services with large volumes elsewhere.",
        href: `/nodes/${encodeURIComponent(n.name)}`,
      });
    }
  }
  for (const s of input.services) {
    if (s.problem?.startsWith("cannot be placed: ")) {
      out.push({
        level: "bad",
        text: `${s.name} ${s.problem}`,
        href: `/services/${encodeURIComponent(s.name)}`,
      });
    }
  }
  for (const name of pendingNodes(input.admission ?? [])) {
    out.push({
      level: "warn",
      text: `${name} asks to join the cluster and waits for your approval.`,
      href: "/nodes#pending",
    });
  }
  for (const text of input.cluster?.warnings ?? []) out.push({ level: "warn", text });
  return out;
}

/** Nodes whose last admission event is a request waiting for approval. */
export function pendingNodes(log: AdmissionLine[]): string[] {
  const last = new Map<string, string>();
  for (const e of [...log].sort((a, b) => a.at - b.at)) last.set(e.name, e.event);
  return [...last].filter(([, event]) => event === "pending").map(([name]) => name);
}
