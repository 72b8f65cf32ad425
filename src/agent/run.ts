/**
 * `fossora agent`: reads the configuration, runs the node until SIGTERM or SIGINT.
 * @module
 */
import {
  agentHelp,
  ConfigError,
  loadConfig,
  readFileIfExists,
  systemDefaults,
} from "../config/mod.ts";
import { createLogger } from "../util/log.ts";
import { Agent } from "./agent.ts";

/** Runs the agent; returns the process exit code. */
export async function runAgent(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(agentHelp());
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv, Deno.env.toObject(), readFileIfExists, systemDefaults());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`fossora agent: ${err.message}`);
    // A bad flag is a usage error (2); a bad file or environment value is a failure (1).
    return /\(from --|unknown flag/.test(err.message) ? 2 : 1;
  }
  const log = createLogger("agent", { level: config.debug ? "debug" : undefined });
  const agent = new Agent(config, log);
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  let left = false;
  try {
    await Promise.race([agent.start(), stopped.promise, agent.left]);
    left = await Promise.race([stopped.promise, agent.left.then(() => true)]) ?? false;
    return 0;
  } catch (err) {
    log.error("cannot start", { err });
    return 1;
  } finally {
    await agent.stop();
    if (left) {
      await agent.forgetCluster();
      log.info("left the cluster; the agent exits");
    }
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
