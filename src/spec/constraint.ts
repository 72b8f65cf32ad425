/**
 * Swarm's placement constraints (`node.labels.disk == ssd`), which compose's
 * `deploy.placement.constraints` and fossora's `placement.constraints` both take.
 * @module
 */
import type { Constraint } from "../state/types.ts";
import { expected, indexPath, type Problems } from "./problems.ts";

const ATTRIBUTES =
  /^node\.(hostname|id|role|platform\.arch|platform\.os|labels\.[A-Za-z0-9_.-]+|engine\.labels\.[A-Za-z0-9_.-]+)$/;

/**
 * Parses Swarm's constraint syntax: `node.hostname == pi-2`, `node.labels.disk==ssd`,
 * `node.platform.arch != arm64`.
 */
export function parseConstraint(text: string): Constraint | string {
  // No lazy group before trailing spaces: that backtracks quadratically on a long line.
  const m = /^\s*([^\s=!]+)\s*(==|!=)(.*)$/s.exec(text);
  const value = m?.[3].trim();
  if (!m || !value) {
    return `'${text.slice(0, 80)}' is not a constraint; write it like node.labels.disk == ssd`;
  }
  const attribute = m[1].replace(/^engine\.labels\./, "node.engine.labels.");
  if (!ATTRIBUTES.test(attribute)) {
    return `'${m[1]}' is not an attribute fossora knows: use node.hostname, node.id, node.role, ` +
      "node.platform.arch, node.platform.os or node.labels.KEY";
  }
  return {
    attribute: attribute.replace(/^node\.engine\.labels\./, "node.labels."),
    op: m[2] as "==" | "!=",
    value: value.replace(/^(["'])(.*)\1$/s, "$2"),
  };
}

/** Checks a list of constraints; returns them parsed when every one is valid. */
export function checkConstraints(
  value: unknown,
  path: string,
  out: Problems,
): Constraint[] | undefined {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected('a list such as ["node.labels.disk == ssd"]', value) });
    return undefined;
  }
  const before = out.length;
  const constraints: Constraint[] = [];
  value.forEach((item, i) => {
    const parsed = typeof item === "string" ? parseConstraint(item) : expected("a string", item);
    if (typeof parsed === "string") out.push({ path: indexPath(path, i), message: parsed });
    else constraints.push(parsed);
  });
  return out.length > before ? undefined : constraints;
}
