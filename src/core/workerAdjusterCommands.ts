/**
 * PanDA's SET_N_WORKERS commands as a pure budget (Harvester: pq_table.nNewWorkers, set by
 * set_queue_limit and decremented by register_worker), and the per-worker cores/memory a resource
 * type requests (Harvester: ResourceTypeMapper.calculate_worker_requirements).
 */

/** Harvester's DEFAULT_JOB_TYPE: the job type of rows and commands that name none. */
export const DEFAULT_JOB_TYPE = 'managed';

/** Dictated new workers per jobType, then per resourceType. */
export type DictatedBudget = Readonly<Record<string, Readonly<Record<string, number>>>>;

/**
 * A command PanDA sends for a slave-mode queue (spec §8). SET_N_WORKERS_JOBTYPE carries
 * {jobType: {resourceType: n}}; the older SET_N_WORKERS carries {resourceType: n} for the
 * default job type. A null value means 0 (as Harvester).
 */
export type SetNWorkersCommand =
  | {
      command: 'SET_N_WORKERS_JOBTYPE';
      params: Readonly<Record<string, Readonly<Record<string, number | null>>>>;
    }
  | { command: 'SET_N_WORKERS'; params: Readonly<Record<string, number | null>> };

/** PanDA sends whole numbers; anything else (negative, fractional, NaN, null) is read as the nearest safe count. */
function sanitiseDictatedCount(value: number | null): number {
  if (value === null || !Number.isFinite(value) || value <= 0) return 0;
  return Math.floor(value);
}

/**
 * Apply commands in arrival order. Each command first resets the whole queue's budget to 0 and then
 * sets the values it names, as Harvester's set_queue_limit does, so a resource type PanDA stops
 * mentioning stops getting workers.
 *
 * Harvester folds every job type of a command into the default job type's row, so with two job
 * types for one resource type the last one wins. FIX: budgets stay per (jobType, resourceType).
 */
export function applySetNWorkersCommands(
  previous: DictatedBudget,
  commands: readonly SetNWorkersCommand[],
): DictatedBudget {
  let budget: DictatedBudget = previous;
  for (const command of commands) {
    const next: Record<string, Record<string, number>> = {};
    const byJobType: Readonly<Record<string, Readonly<Record<string, number | null>>>> =
      command.command === 'SET_N_WORKERS_JOBTYPE' ? command.params : { [DEFAULT_JOB_TYPE]: command.params };
    for (const [jobType, byResourceType] of Object.entries(byJobType)) {
      next[jobType] = {};
      for (const [resourceType, value] of Object.entries(byResourceType)) {
        next[jobType][resourceType] = sanitiseDictatedCount(value);
      }
    }
    budget = next;
  }
  return budget;
}

/** The budget left for a row; rows PanDA did not name have 0. */
export function dictatedFor(budget: DictatedBudget, jobType: string, resourceType: string): number {
  return budget[jobType]?.[resourceType] ?? 0;
}

/**
 * The budget after workers were made: Harvester decrements pq_table.nNewWorkers by one per new
 * worker registered, so the next cycle only makes what is still owed.
 */
export function consumeDictatedBudget(
  budget: DictatedBudget,
  made: readonly { jobType: string; resourceType: string; nNewWorkers: number }[],
): DictatedBudget {
  const next: Record<string, Record<string, number>> = {};
  for (const [jobType, byResourceType] of Object.entries(budget)) next[jobType] = { ...byResourceType };
  for (const row of made) {
    const current = next[row.jobType]?.[row.resourceType];
    if (current === undefined) continue;
    next[row.jobType][row.resourceType] = Math.max(current - row.nNewWorkers, 0);
  }
  return next;
}

/** A PanDA resource type (resource_types.json). */
export interface ResourceTypeDefinition {
  resourceName: string;
  maxCore?: number;
  maxRamPerCore?: number;
}

/** What CRIC says about the queue's worker slots. */
export interface CricQueueResources {
  /** CRIC corecount; missing or 0 ⇒ 1. */
  coreCount?: number;
  /** CRIC maxrss in MB; missing ⇒ 0 (unknown). */
  maxRssMB?: number;
  /** CRIC capability; `ucore` = unified queue split by resource type. */
  capability?: string;
}

/**
 * Cores and memory (MB) one worker of `resourceType` requests.
 *
 * [Q] swapped RT mapper tuple (spec §5): for non-unified queues Harvester returns (maxrss,
 * corecount) where callers read (cores, memory), so the cores limit divides by the memory and the
 * memory limit by the core count. FIX: always { cores, memoryMB } by name.
 *
 * A memoryMB of 0 (CRIC maxrss unset) is returned as 0, not guessed: the adjuster then refuses to
 * apply a memory limit it cannot evaluate (see "[Q] zero maxrss" in workerAdjuster.ts).
 */
export function workerRequirements(
  resourceType: ResourceTypeDefinition | undefined,
  cric: CricQueueResources,
): { cores: number; memoryMB: number } {
  const siteCores = cric.coreCount && cric.coreCount > 0 ? cric.coreCount : 1;
  const siteMemoryMB = cric.maxRssMB && cric.maxRssMB > 0 ? cric.maxRssMB : 0;
  // A unified queue with a resource type PanDA does not define gets the whole slot (Harvester: 1 core,
  // 1 MB): the larger request is the safer one under cores/memory limits.
  if (cric.capability !== 'ucore' || resourceType === undefined) {
    return { cores: siteCores, memoryMB: siteMemoryMB };
  }
  const cores = resourceType.maxCore ? Math.min(resourceType.maxCore, siteCores) : siteCores;
  const memoryBySite = (siteMemoryMB / siteCores) * cores;
  const memoryMB = resourceType.maxRamPerCore
    ? Math.min(resourceType.maxRamPerCore * cores, memoryBySite)
    : memoryBySite;
  return { cores, memoryMB: Math.ceil(memoryMB) };
}
