/**
 * The dead man's switch of services with volumes: a small shell process, in its own session,
 * that holds the read end of a pipe from the agent. When the agent ends in any way (a crash,
 * SIGKILL, the OOM killer), the kernel closes the pipe and the watchdog kills this node's
 * containers of such services at once: the agent can no longer keep its lease, so another node
 * will start them within seconds, and two copies must never run.
 * @module
 */
import { LABEL } from "./labels.ts";

/** What the watchdog runs: wait for the pipe to close, then kill. */
export function watchdogScript(nodeId: string): string {
  const filters = `--filter label=${LABEL.node}=${nodeId} --filter label=${LABEL.once}=true`;
  return [
    "while read -r _; do :; done",
    `ids=$(docker ps -q ${filters})`,
    '[ -z "$ids" ] || docker kill $ids >/dev/null',
  ].join("\n");
}

/** A running watchdog; {@link FenceWatchdog.close} ends it without killing anything. */
export interface FenceWatchdog {
  /** Stops the watchdog quietly (the agent stops its services with volumes itself). */
  close(): Promise<void>;
}

/**
 * Starts the watchdog for this node's containers on `dockerHost`. Fails (the caller logs it)
 * when `sh`, `setsid` or the docker client is missing: the agent then runs without it.
 */
export function startFenceWatchdog(nodeId: string, dockerHost: string): FenceWatchdog {
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", `command -v docker >/dev/null || exit 3\n${watchdogScript(nodeId)}`],
    env: { DOCKER_HOST: dockerHost },
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // The pipe stays open for the agent's life; only its end means anything.
  const writer = child.stdin.getWriter();
  return {
    async close() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}
