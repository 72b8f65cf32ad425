/**
 * The check of a host-network service's ports (binds and devices are checked in binds.ts and
 * device.ts).
 * @module
 */
import type { PortSpec } from "../state/types.ts";
import type { Problems } from "./problems.ts";

/**
 * With host networking, a port published through the routing mesh under its own number is a
 * port every node listens on, the container's node too: it could never start there.
 */
export function hostNetworkProblems(
  ports: PortSpec[],
  publishedPaths: string[],
  out: Problems,
): void {
  ports.forEach((p, i) => {
    if (p.published === p.container) {
      out.push({
        path: publishedPaths[i],
        message: `with host networking, container port ${p.container} is the node's port ` +
          `${p.container} already, and the routing mesh listens on a published port on every ` +
          "node; remove published (reach it at the node's address), or publish another number",
      });
    }
  });
}
