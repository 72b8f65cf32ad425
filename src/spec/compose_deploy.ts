/**
 * Reads a compose service's `deploy` section, as `docker stack deploy` does: replicas, resource
 * limits (for Docker) and reservations (for the scheduler), and Swarm's placement constraints.
 * What Swarm does that fossora does its own way (restart and update policies) is accepted with
 * a warning that says so.
 * @module
 */

import type { Constraint, ContainerOptions, Resources } from "../state/types.ts";
import { checkReplicas, checkResources } from "./fields.ts";
import { parseBytes } from "./bytes.ts";
import { notUnderstood } from "./compose_fields.ts";
import { checkConstraints } from "./constraint.ts";
import { cpuCount } from "./compose_options.ts";
import { entries, expected, isMapping, keyPath, type Problems } from "./problems.ts";

/** What `deploy` sets. */
export interface Deploy {
  replicas?: number;
  limits?: ContainerOptions["limits"];
  reservations?: Resources;
  constraints?: Constraint[];
}

/** Keys fossora covers itself, with what it does instead. */
const COVERED: Record<string, string> = {
  restart_policy: "fossora restarts a container that exits, and moves it when its node dies",
  update_config: "fossora updates one replica at a time and waits until it is ready",
  rollback_config: "fossora stops a rolling update whose new replica does not become ready",
  labels: "Swarm's service labels are not kept; container labels go under labels",
  endpoint_mode: "every node's proxy and routing mesh reach a ready replica",
};

/** Reads `deploy` at `path`. */
export function composeDeploy(
  value: unknown,
  path: string,
  out: { problems: Problems; warnings: Problems },
): Deploy {
  const deploy: Deploy = {};
  if (value === undefined) return deploy;
  if (!isMapping(value)) {
    out.problems.push({
      path,
      message: expected("a mapping with replicas, resources or placement", value),
    });
    return deploy;
  }
  for (const [key, item] of entries(value)) {
    const at = keyPath(path, key);
    if (key === "replicas") {
      // `replicas: ${REPLICAS:-2}` is a string once filled; compose reads it as the number.
      const count = typeof item === "string" && /^\d{1,3}$/.test(item) ? Number(item) : item;
      deploy.replicas = checkReplicas(count, at, out.problems);
    } else if (key === "resources") readResources(item, at, deploy, out);
    else if (key === "placement") readPlacement(item, at, deploy, out);
    else if (key === "mode") {
      if (item === "global") {
        out.warnings.push({
          path: at,
          message: "global is not supported yet: fossora runs `replicas` copies (default 1), " +
            "spread over the nodes; set replicas to the number of nodes",
        });
      } else if (item !== "replicated") {
        out.problems.push({ path: at, message: expected("replicated or global", item) });
      }
    } else if (Object.hasOwn(COVERED, key)) {
      out.warnings.push({ path: at, message: `is ignored: ${COVERED[key]}` });
    } else notUnderstood(path, key, out.problems);
  }
  return deploy;
}

function readResources(
  value: unknown,
  path: string,
  deploy: Deploy,
  out: { problems: Problems; warnings: Problems },
): void {
  if (!isMapping(value)) {
    out.problems.push({ path, message: expected("a mapping with limits and reservations", value) });
    return;
  }
  for (const [key, item] of entries(value)) {
    const at = keyPath(path, key);
    if (key === "limits") deploy.limits = readLimits(item, at, out.problems);
    else if (key === "reservations") {
      if (isMapping(item) && item.devices !== undefined) {
        out.warnings.push({
          path: keyPath(at, "devices"),
          message: "GPU reservations are ignored: give the device under devices (e.g. /dev/dri)",
        });
        const { devices: _d, ...rest } = item;
        deploy.reservations = checkResources(rest, at, out.problems);
      } else deploy.reservations = checkResources(item, at, out.problems);
    } else notUnderstood(path, key, out.problems);
  }
}

function readLimits(value: unknown, path: string, out: Problems): Deploy["limits"] {
  if (!isMapping(value)) {
    out.push({ path, message: expected("a mapping with cpus, memory or pids", value) });
    return undefined;
  }
  const limits: NonNullable<Deploy["limits"]> = {};
  for (const [key, item] of entries(value)) {
    const at = keyPath(path, key);
    if (key === "cpus") {
      const cpus = cpuCount(item);
      if (cpus > 0 && cpus <= 1024) limits.cpus = cpus;
      else out.push({ path: at, message: expected("a number of CPUs above 0, e.g. 0.5", item) });
    } else if (key === "memory") {
      const memory = parseBytes(item);
      if (memory !== undefined) limits.memory = memory;
      else out.push({ path: at, message: expected("memory such as 512M or 1G", item) });
    } else if (key === "pids") {
      if (Number.isInteger(item) && (item as number) > 0) limits.pids = item as number;
      else out.push({ path: at, message: expected("a positive integer", item) });
    } else notUnderstood(path, key, out);
  }
  return limits;
}

function readPlacement(
  value: unknown,
  path: string,
  deploy: Deploy,
  out: { problems: Problems; warnings: Problems },
): void {
  if (!isMapping(value)) {
    out.problems.push({ path, message: expected("a mapping with constraints", value) });
    return;
  }
  for (const [key, item] of entries(value)) {
    const at = keyPath(path, key);
    if (key === "constraints") deploy.constraints = checkConstraints(item, at, out.problems);
    else if (key === "preferences" || key === "max_replicas_per_node") {
      out.warnings.push({
        path: at,
        message: "is ignored: fossora spreads replicas over sites and nodes by itself",
      });
    } else notUnderstood(path, key, out.problems);
  }
}
