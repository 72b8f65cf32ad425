/**
 * `fossora agent`: reads the configuration, runs the node until SIGTERM or SIGINT.
 * @module
 */
import { agentHelp, ConfigError, loadAgentConfig, readFileIfExists } from "../config/mod.ts";
import { createLogger } from "../util/log.ts";
import { Agent, type AgentOptions } from "./agent.ts";

/** Runs the agent; returns the process exit code. */
export async function runAgent(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(agentHelp());
    return 0;
  }
  let config;
  try {
    config = await loadAgentConfig(argv, Deno.env.toObject(), readFileIfExists);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`fossora agent: ${err.message}`);
    // A bad flag is a usage error (2); a bad file or environment value is a failure (1).
    return /\(from --|unknown flag/.test(err.message) ? 2 : 1;
  }
  const log = createLogger("agent", { level: config.debug ? "debug" : undefined });
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    let options: AgentOptions = {};
    // One agent, unless its cluster gives way to another: then a new one joins that cluster.
    for (;;) {
      const agent = new Agent(config, log, options);
      const ended: Promise<"stopped" | "left" | { gaveWay: string }> = Promise.race([
        stopped.promise.then(() => "stopped" as const),
        agent.left.then(() => "left" as const),
        agent.gaveWay.then((id) => ({ gaveWay: id })),
      ]);
      let end;
      try {
        const starting = agent.start();
        starting.catch(() => {}); // a start cut short by a stop is not a failure
        await Promise.race([starting, ended]);
        end = await ended;
      } catch (err) {
        log.error("cannot start", { err });
        await agent.stop();
        return 1;
      }
      await agent.stop();
      if (end === "stopped") return 0;
      await agent.forgetCluster();
      if (end === "left") {
        log.info("left the cluster; the agent exits");
        return 0;
      }
      log.info("this node forgot the cluster that gave way; it starts again to join the other", {
        cluster: end.gaveWay,
      });
      options = { joinCluster: end.gaveWay };
    }
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
