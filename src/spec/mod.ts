/**
 * Service files: fossora's own YAML/JSON form (one service, a list, or `{ services: [...] }`)
 * and docker-compose files, read and validated into `ServiceSpec[]`. A file with any problem is
 * refused whole, with every problem and its field path.
 *
 * @example
 * ```ts
 * import { parseServiceFile } from "./mod.ts";
 * const result = parseServiceFile(await Deno.readFile("whoami.yaml"), { filename: "whoami.yaml" });
 * if (!result.ok) for (const p of result.problems) console.error(`${p.path}: ${p.message}`);
 * ```
 * @module
 */

export { type ParseResult, type Problem } from "./problems.ts";
export { MAX_ALIAS_COUNT, MAX_NESTING } from "./load.ts";
export { MAX_FILE_BYTES, MAX_PROBLEMS, type ParseOptions, parseServiceFile } from "./parse.ts";
export { KNOWN_ARCHES, validateServiceName } from "./fields.ts";
export { parseDuration } from "./healthcheck.ts";
export { hostPortConflicts, publishedPortConflicts } from "./conflicts.ts";
export { type ComposeInput, type StackFiles } from "./compose.ts";
export { variableNames } from "./variables.ts";
// Docker's container settings, single values each, for the fossora form and compose alike.
export { checkBytes, parseBytes } from "./bytes.ts";
export { CAPABILITIES, checkCapability, parseCapability } from "./capability.ts";
export { checkSignal, parseSignal, SIGNALS } from "./signal.ts";
export { checkSysctls, sysctlProblem } from "./sysctl.ts";
export { checkUlimit, checkUlimits, ULIMIT_NAMES } from "./ulimit.ts";
export { checkPlatform, platformProblem } from "./platform.ts";
export { checkExtraHosts, extraHost, HOST_GATEWAY, parseExtraHost } from "./extra_host.ts";
export { absolutePathProblem, checkAbsolutePath, type PathSide } from "./host_path.ts";
export { checkBind, checkBinds } from "./binds.ts";
export { checkDevice, checkDevices, parseDevice, permissionsProblem } from "./device.ts";
export { checkTmpfs, checkTmpfsItem, parseMode, parseTmpfs } from "./tmpfs.ts";
export { checkSecurityOpt, parseSecurityOpt } from "./security_opt.ts";
export { checkUser } from "./user.ts";
export {
  checkContainerOptions,
  checkGracePeriod,
  checkLimits,
  CONTAINER_KEYS,
  MAX_GRACE_MS,
  MIN_MEMORY_LIMIT,
} from "./container.ts";
