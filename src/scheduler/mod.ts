/**
 * Placement of replicas on nodes: a chain of filters, a pure planning step, and the driver that
 * writes `assignments/` on the elected node.
 * @module
 */
export { eligibleNodes, type Filter, FILTERS } from "./filters.ts";
export { type NodeEligibility, nodeEligibility } from "./eligibility.ts";
export { planSchedule, type SchedulePlan } from "./plan.ts";
export { ImagePlatforms, type ImagePlatformsOptions, type PlatformLookup } from "./platforms.ts";
export { Scheduler, type SchedulerOptions } from "./scheduler.ts";
