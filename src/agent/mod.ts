/**
 * The agent: the composition root of a node, and the `fossora agent` command.
 * @module
 */
export { Agent, type AgentEndpoints } from "./agent.ts";
export { runAgent } from "./run.ts";
