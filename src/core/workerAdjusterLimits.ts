/**
 * Validation and evaluation of a queue's worker limits: Harvester's queue-config sanity step
 * (queue_config_mapper) plus get_worker_limits (db_proxy), as pure functions.
 *
 * Convention kept from Harvester: maxWorkers, nQueueLimitWorker and maxNewWorkersPerCycle use
 * 0 for "no limit"; the cores and memory limits use undefined for "no limit" and 0 is a real limit.
 */
import type { MapType } from './specs';
import type { EvaluatedWorkerLimits, QueueWorkerLimits } from './workerAdjusterTypes';

/** Memory a worker is assumed to need at least when nQueueLimitWorkerMin floors the memory limit (Harvester: 1000 MB). */
export const MIN_MEMORY_MB_PER_WORKER = 1000;

const LIMIT_FIELDS: readonly (keyof QueueWorkerLimits)[] = [
  'maxWorkers',
  'nQueueLimitWorker',
  'nQueueLimitWorkerRatio',
  'nQueueLimitWorkerMin',
  'nQueueLimitWorkerMax',
  'nQueueLimitWorkerCores',
  'nQueueLimitWorkerCoresRatio',
  'nQueueLimitWorkerCoresMin',
  'nQueueLimitWorkerMemory',
  'nQueueLimitWorkerMemoryRatio',
  'nQueueLimitWorkerMemoryMin',
  'maxNewWorkersPerCycle',
];

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Problems with the limits, one sentence each; empty = usable.
 *
 * [Q] non-integer maxNewWorkersPerCycle (spec §5.1): Harvester turns a non-integer limit into None
 * (and a negative one into 0 = unlimited), and None later breaks a comparison so nothing is
 * submitted without a clear message. FIX: any limit that is not a non-negative integer is reported
 * here by name and the queue submits nothing until the config is corrected. Negative values are
 * refused too, rather than silently read as "no limit" (fail closed).
 */
export function validateWorkerLimits(limits: QueueWorkerLimits): string[] {
  const problems: string[] = [];
  for (const field of LIMIT_FIELDS) {
    const value: unknown = limits[field];
    const required = field === 'maxWorkers' || field === 'maxNewWorkersPerCycle';
    if (value === undefined && !required) continue;
    if (!isNonNegativeInteger(value)) {
      problems.push(`${field}=${JSON.stringify(value)} is not a non-negative integer`);
    }
  }
  return problems;
}

/** min over limits where 0 means "no limit": the result is 0 only if every term is 0. */
export function minOfZeroUnlimited(...limits: number[]): number {
  let result = 0;
  for (const limit of limits) {
    if (limit > 0 && (result === 0 || limit < result)) result = limit;
  }
  return result;
}

/** min over limits where undefined means "no limit". */
function minOfDefined(a: number | undefined, b: number): number {
  return a === undefined ? b : Math.min(a, b);
}

/**
 * Harvester's validation clipping: nQueueLimitWorker = min(nQueueLimitWorker, Max, maxWorkers),
 * Min clipped to the limit, cores/memory Min clipped to their limit.
 *
 * [Q] pull queue without a queue limit, wider form (spec §5.1): Harvester clips with maxWorkers
 * even when maxWorkers is 0 ("no limit"), which turns a configured nQueueLimitWorker into 0 and
 * later crashes the pull branch. FIX: 0 terms are "no limit" in the clip (minOfZeroUnlimited).
 */
function clipConfiguredLimits(limits: QueueWorkerLimits): {
  queueLimit: number;
  queueLimitMin?: number;
  coresMin?: number;
  memoryMin?: number;
} {
  const configured = limits.nQueueLimitWorker ?? limits.nQueueLimitWorkerMax;
  const queueLimit =
    configured === undefined
      ? limits.maxWorkers
      : minOfZeroUnlimited(configured, limits.nQueueLimitWorkerMax ?? 0, limits.maxWorkers);
  const queueLimitMin =
    limits.nQueueLimitWorkerMin === undefined
      ? undefined
      : queueLimit > 0
        ? Math.min(limits.nQueueLimitWorkerMin, queueLimit)
        : limits.nQueueLimitWorkerMin;
  const coresMin =
    limits.nQueueLimitWorkerCoresMin !== undefined && limits.nQueueLimitWorkerCores !== undefined
      ? Math.min(limits.nQueueLimitWorkerCoresMin, limits.nQueueLimitWorkerCores)
      : limits.nQueueLimitWorkerCoresMin;
  const memoryMin =
    limits.nQueueLimitWorkerMemoryMin !== undefined && limits.nQueueLimitWorkerMemory !== undefined
      ? Math.min(limits.nQueueLimitWorkerMemoryMin, limits.nQueueLimitWorkerMemory)
      : limits.nQueueLimitWorkerMemoryMin;
  return { queueLimit, queueLimitMin, coresMin, memoryMin };
}

/** Running totals the ratio limits are computed from. */
export interface RunningTotals {
  runningWorkers: number;
  runningCores: number;
  runningMemoryMB: number;
}

/**
 * A ratio limit on a resource (cores or MB): floor(running · ratio / 100), floored by `floor`, and
 * never above the absolute limit. Mirrors Harvester's cores/memory branch of get_worker_limits.
 */
function evaluateResourceLimit(
  absolute: number | undefined,
  ratio: number | undefined,
  ownMin: number | undefined,
  minFromWorkerMin: number | undefined,
  running: number,
): number | undefined {
  if (ratio === undefined) return absolute;
  const byRatio = Math.floor((running * ratio) / 100);
  let floor = ownMin;
  if (minFromWorkerMin !== undefined)
    floor = floor === undefined ? minFromWorkerMin : Math.max(floor, minFromWorkerMin);
  if (floor !== undefined && byRatio < floor) return minOfDefined(absolute, floor);
  return minOfDefined(absolute, byRatio);
}

/**
 * Evaluate the limits against the current running totals (Harvester's get_worker_limits).
 *
 * The worker ratio and its Min apply to pull queues only (Harvester nulls them for push queues,
 * HSF PR #225).
 *
 * [Q] pull queue whose ratio works out to 0 with no Min (spec §5.1): Harvester ends with a queue
 * limit of 0 and crashes the pull branch, so a pull queue starting from zero running workers can
 * never start. FIX: a ratio without Min uses Min = 1, as Harvester's earlier get_worker_limits did.
 */
export function evaluateWorkerLimits(
  limits: QueueWorkerLimits,
  mapType: MapType,
  running: RunningTotals,
): EvaluatedWorkerLimits {
  const clipped = clipConfiguredLimits(limits);
  const isPull = mapType === 'NoJob';
  const workerRatio = isPull ? limits.nQueueLimitWorkerRatio : undefined;
  const workerMin = isPull ? clipped.queueLimitMin : undefined;

  let queueLimit = clipped.queueLimit;
  if (workerRatio !== undefined) {
    const byRatio = Math.floor((running.runningWorkers * workerRatio) / 100);
    const floor = workerMin ?? 1;
    queueLimit = minOfZeroUnlimited(queueLimit, Math.max(byRatio, floor));
  }

  const queuedCoresLimit = evaluateResourceLimit(
    limits.nQueueLimitWorkerCores,
    limits.nQueueLimitWorkerCoresRatio,
    clipped.coresMin,
    workerMin === undefined ? undefined : workerMin * 1,
    running.runningCores,
  );
  const queuedMemoryLimitMB = evaluateResourceLimit(
    limits.nQueueLimitWorkerMemory,
    limits.nQueueLimitWorkerMemoryRatio,
    clipped.memoryMin,
    workerMin === undefined ? undefined : workerMin * MIN_MEMORY_MB_PER_WORKER,
    running.runningMemoryMB,
  );

  const evaluated: EvaluatedWorkerLimits = { maxWorkers: limits.maxWorkers, nQueueLimitWorker: queueLimit };
  if (queuedCoresLimit !== undefined) evaluated.queuedCoresLimit = queuedCoresLimit;
  if (queuedMemoryLimitMB !== undefined) evaluated.queuedMemoryLimitMB = queuedMemoryLimitMB;
  return evaluated;
}
