/**
 * The agent's configuration: flags, `FOSSORA_*` environment, TOML config file and defaults.
 * @module
 */
export { ConfigError } from "./error.ts";
export { AGENT_FLAGS, agentHelp, envName, type FlagInfo, type FlagKind } from "./flags.ts";
export {
  type AgentConfig,
  type ConfigDefaults,
  DEFAULT_CONFIG_FILE,
  loadConfig,
  type ReadFile,
} from "./load.ts";
export { loadAgentConfig, readFileIfExists, systemDefaults } from "./system.ts";
export {
  detectAdvertiseAddr,
  detectAdvertiseAddrs6,
  detectTailscaleAddr,
  pickAdvertiseAddr,
  pickAdvertiseAddrs6,
} from "./advertise.ts";
