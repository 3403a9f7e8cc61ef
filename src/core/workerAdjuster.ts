/**
 * The worker adjuster: how many new workers (pilots) to submit for each (jobType, resourceType) row
 * of a queue this cycle. A pure, deterministic rendering of Harvester's
 * WorkerAdjuster.define_num_workers (harvester-spec §5, §5.1, §11.2), with no I/O so that the queue
 * workflow can call it directly and tests can pin every rule.
 *
 * Order of rules (spec §11.2): config sanity → queue status → throttler → counts known → slave-mode
 * dictation → hard stops (queued, total, cores, memory) → max(maxQueued − nQueue, 0) → maxWorkers →
 * cores → memory → maxNewWorkersPerCycle → global maxNewWorkers → queue-wide aggregate with
 * proportional rescale.
 *
 * Decisions on the spec's [Q] quirks are written next to the code they concern and pinned by tests
 * named "[Q] ..." in test/unit/workerAdjuster.test.ts:
 *  - UCORE aggregate with 0 = unlimited .................. fixed here (applyQueueAggregate)
 *  - pull queue without a queue limit (and wider forms) .. fixed here and in workerAdjusterLimits.ts
 *  - swapped RT mapper tuple ............................. fixed in workerAdjusterCommands.ts
 *  - dictated number passes a reached limit .............. fixed here (decideRow)
 *  - non-integer maxNewWorkersPerCycle ................... fixed in workerAdjusterLimits.ts
 *  - noPilotsWhenNoActiveJobs: false crashes ............. fixed here (plain boolean)
 *  - zero CRIC maxrss divides by zero .................... fixed here (decideRow)
 *
 * Deliberate simplifications, not quirks:
 *  - Pilot types (PR, ALRB, RC, PT) are not modelled: every worker is a PR pilot, so Harvester's
 *    pre-allocation of a dictated number among prioritized pilot types does not arise, and in self
 *    mode a dictated number is ignored (Harvester uses it only for non-PR pilot types).
 *  - Job types are kept apart instead of being folded into `managed`: the submitter needs to know
 *    which job type a worker is for, and the queue-wide aggregate bounds the sum just the same.
 *  - The queue-wide aggregate runs for every queue, not only for unified (UCORE) ones: with a single
 *    row it can never bind (each of its terms already bounded the row), so results are unchanged,
 *    and a queue with several rows can no longer overshoot its limits row by row.
 */

import { evaluateWorkerLimits, isNonNegativeInteger, validateWorkerLimits } from './workerAdjusterLimits';
import type {
  AdjusterBinding,
  AdjusterRow,
  AdjusterSettings,
  EvaluatedWorkerLimits,
  PandaJobStats,
  QueueAdjusterInput,
  QueueDecision,
  QueueWorkerCounts,
  RowDecision,
  RowWorkerCounts,
  RunMode,
} from './workerAdjusterTypes';
import type { WorkerStatus } from './workerStatus';

export type {
  CricQueueResources,
  DictatedBudget,
  ResourceTypeDefinition,
  SetNWorkersCommand,
} from './workerAdjusterCommands';
export {
  applySetNWorkersCommands,
  consumeDictatedBudget,
  DEFAULT_JOB_TYPE,
  dictatedFor,
  workerRequirements,
} from './workerAdjusterCommands';
export { evaluateWorkerLimits, validateWorkerLimits } from './workerAdjusterLimits';
export * from './workerAdjusterTypes';

/** Harvester's [submitter] defaults. */
export const DEFAULT_ADJUSTER_SETTINGS: Readonly<AdjusterSettings> = {
  maxNewWorkers: 1000,
  activateWorkerFactor: 1.0,
  noPilotsWhenNoActiveJobs: false,
};

/** CRIC statuses under which Harvester submits nothing. */
export const BLOCKING_QUEUE_STATUSES: ReadonlySet<string> = new Set(['offline', 'standby', 'maintenance']);

/** Statuses counted as queued (nQueue) by Harvester's submitter. */
const QUEUED_STATUSES: ReadonlySet<WorkerStatus> = new Set(['submitted', 'idle', 'pending']);

/** The fields of a worker the counting needs (a subset of WorkSpec). */
export interface WorkerForCounting {
  jobType: string;
  resourceType: string;
  status: WorkerStatus;
  nCore: number;
  minRamCount?: number;
}

/**
 * Count workers into the adjuster's inputs (Harvester's get_queues_to_submit + get_worker_limits):
 * nQueue = submitted+idle+pending, nReady = ready, nRunning = running, plus core and memory sums.
 * Final statuses are ignored. Running workers waiting for a job refill are not modelled.
 */
export function countWorkersForAdjuster(workers: Iterable<WorkerForCounting>): QueueWorkerCounts {
  // Nested maps rather than a joined string key: no string is built per worker, which matters
  // when a queue holds thousands of workers and this runs every cycle.
  const byJobType = new Map<string, Map<string, RowWorkerCounts>>();
  const rows: RowWorkerCounts[] = [];
  let queuedCores = 0;
  let queuedMemoryMB = 0;
  let runningCores = 0;
  let runningMemoryMB = 0;
  for (const worker of workers) {
    const isQueued = QUEUED_STATUSES.has(worker.status);
    const isReady = worker.status === 'ready';
    const isRunning = worker.status === 'running';
    if (!isQueued && !isReady && !isRunning) continue;
    let byResourceType = byJobType.get(worker.jobType);
    if (byResourceType === undefined) {
      byResourceType = new Map();
      byJobType.set(worker.jobType, byResourceType);
    }
    let counts = byResourceType.get(worker.resourceType);
    if (counts === undefined) {
      counts = {
        jobType: worker.jobType,
        resourceType: worker.resourceType,
        nQueue: 0,
        nReady: 0,
        nRunning: 0,
      };
      byResourceType.set(worker.resourceType, counts);
      rows.push(counts);
    }
    const memoryMB = worker.minRamCount ?? 0;
    if (isQueued) {
      counts.nQueue += 1;
      queuedCores += worker.nCore;
      queuedMemoryMB += memoryMB;
    } else if (isReady) {
      counts.nReady += 1;
    } else {
      counts.nRunning += 1;
      runningCores += worker.nCore;
      runningMemoryMB += memoryMB;
    }
  }
  return { rows, queuedCores, queuedMemoryMB, runningCores, runningMemoryMB };
}

/**
 * The factor on activated jobs in the pull cap (Harvester's get_activate_worker_factor): 1 in slave
 * mode; otherwise the static setting, or with 'auto' 1 / (number of harvester instances PanDA's
 * worker statistics list for the queue), 1 when those statistics are missing; then divided by the
 * row's nCoreFactor (pilots that each run several single-core jobs need fewer pilots).
 */
export function resolveActivateWorkerFactor(
  setting: number | 'auto',
  runMode: RunMode,
  harvesterInstancesOnQueue: number | 'unknown' | undefined,
  nCoreFactor = 1,
): number {
  let factor = 1;
  if (runMode !== 'slave') {
    if (setting === 'auto') {
      if (typeof harvesterInstancesOnQueue === 'number') factor = 1 / Math.max(harvesterInstancesOnQueue, 1);
    } else {
      factor = setting;
    }
  }
  return factor / nCoreFactor;
}

function rowKey(jobType: string, resourceType: string): string {
  return `${jobType}\u0000${resourceType}`;
}

/** Everything about the queue that every row's decision reads. */
interface RowContext {
  input: QueueAdjusterInput;
  settings: AdjusterSettings;
  limits: EvaluatedWorkerLimits;
  counts: QueueWorkerCounts;
  jobStats: PandaJobStats | 'unknown';
  noPilotsWhenNoActiveJobs: boolean;
}

/** A row's number before the queue-wide aggregate. */
interface RowOutcome {
  nNewWorkers: number;
  boundBy: AdjusterBinding;
  steps: string[];
}

const ZERO_COUNTS = { nQueue: 0, nReady: 0, nRunning: 0 } as const;

function describeStop(boundBy: AdjusterBinding, why: string): string {
  return `stopped (${boundBy}): ${why}`;
}

/**
 * The per-row formula of spec §5, in Harvester's order.
 */
function decideRow(
  context: RowContext,
  row: AdjusterRow,
  counts: { nQueue: number; nReady: number; nRunning: number },
): RowOutcome {
  const { input, settings, limits } = context;
  const steps: string[] = [`nQueue=${counts.nQueue} nReady=${counts.nReady} nRunning=${counts.nRunning}`];
  const stop = (boundBy: AdjusterBinding, why: string): RowOutcome => {
    steps.push(describeStop(boundBy, why));
    return { nNewWorkers: 0, boundBy, steps };
  };

  // Slave mode: PanDA's number is both permission and upper bound; 0 (or no command) = nothing.
  let dictated: number | undefined;
  if (input.runMode === 'slave') {
    dictated = row.dictatedNewWorkers ?? 0;
    if (!isNonNegativeInteger(dictated)) {
      return stop(
        'invalidConfig',
        `dictatedNewWorkers=${JSON.stringify(dictated)} is not a non-negative integer`,
      );
    }
    if (dictated === 0) return stop('slaveDictatedZero', 'slave mode and PanDA dictates 0 new workers');
    steps.push(`PanDA dictates ${dictated}`);
  }

  // Hard stops.
  // [Q] dictated number passes a reached limit (spec §5.1): when a limit is already reached,
  // Harvester leaves a dictated row's number untouched, so PanDA's number is submitted on top of a
  // full queue and not even capped by maxNewWorkersPerCycle. FIX: a reached limit means 0 for
  // every row, dictated or not — PanDA's number is an upper bound, never a licence to exceed limits.
  const rowTotal = counts.nQueue + counts.nReady + counts.nRunning;
  if (limits.nQueueLimitWorker > 0 && counts.nQueue >= limits.nQueueLimitWorker) {
    return stop(
      'queueLimitReached',
      `nQueue ${counts.nQueue} >= nQueueLimitWorker ${limits.nQueueLimitWorker}`,
    );
  }
  if (limits.maxWorkers > 0 && rowTotal >= limits.maxWorkers) {
    return stop('maxWorkersReached', `queued+ready+running ${rowTotal} >= maxWorkers ${limits.maxWorkers}`);
  }
  const queuedCores = context.counts.queuedCores;
  const queuedMemoryMB = context.counts.queuedMemoryMB;
  if (limits.queuedCoresLimit !== undefined && queuedCores >= limits.queuedCoresLimit) {
    return stop(
      'queuedCoresLimitReached',
      `queued cores ${queuedCores} >= cores limit ${limits.queuedCoresLimit}`,
    );
  }
  if (limits.queuedMemoryLimitMB !== undefined && queuedMemoryMB >= limits.queuedMemoryLimitMB) {
    return stop(
      'queuedMemoryLimitReached',
      `queued memory ${queuedMemoryMB} MB >= memory limit ${limits.queuedMemoryLimitMB} MB`,
    );
  }

  // How many workers may be queued for this row.
  let maxQueued: number | undefined;
  let boundBy: AdjusterBinding = 'nQueueLimitWorker';
  if (limits.nQueueLimitWorker > 0) {
    maxQueued = limits.nQueueLimitWorker;
    steps.push(`nQueueLimitWorker ${maxQueued}`);
  }
  if (dictated !== undefined) {
    const byPanda = dictated + counts.nQueue;
    if (maxQueued === undefined || byPanda < maxQueued) {
      maxQueued = byPanda;
      boundBy = 'dictatedByPanda';
    }
    steps.push(`dictated ${dictated} + nQueue ${counts.nQueue} → maxQueued ${maxQueued}`);
  } else if (input.mapType === 'NoJob') {
    // Pull: never more queued pilots than activated jobs × factor, so pilots do not start empty.
    if (context.jobStats === 'unknown') {
      steps.push('no PanDA job statistics: queue limits alone apply');
    } else {
      const nCoreFactor = row.nCoreFactor ?? 1;
      if (!Number.isInteger(nCoreFactor) || nCoreFactor < 1) {
        return stop(
          'invalidConfig',
          `nCoreFactor=${JSON.stringify(row.nCoreFactor)} is not a positive integer`,
        );
      }
      const factor = resolveActivateWorkerFactor(
        settings.activateWorkerFactor,
        input.runMode,
        input.harvesterInstancesOnQueue,
        nCoreFactor,
      );
      const { nActivatedCap, description } = activatedJobsCap(
        context.jobStats,
        row.resourceType,
        rowTotal,
        factor,
        context.noPilotsWhenNoActiveJobs,
      );
      // [Q] pull queue without a queue limit (spec §5, §5.1): with no positive queue limit Harvester
      // evaluates min(nActivated, None) and crashes, so the queue never submits. FIX: with no queue
      // limit the activated-jobs cap alone bounds the queue (it is what the code means to do).
      if (maxQueued === undefined || nActivatedCap < maxQueued) {
        maxQueued = nActivatedCap;
        boundBy = 'activatedJobs';
      }
      steps.push(`${description} → maxQueued ${maxQueued}`);
    }
  }
  if (maxQueued === undefined) {
    // Harvester: with no limit of any kind, keep one worker queued.
    maxQueued = 1;
    boundBy = 'defaultOneQueued';
    steps.push('no queue limit: keep 1 queued');
  }

  let nNewWorkers = Math.max(maxQueued - counts.nQueue, 0);
  steps.push(`maxQueued ${maxQueued} − nQueue ${counts.nQueue} = ${nNewWorkers}`);
  const capBy = (binding: AdjusterBinding, cap: number, description: string): void => {
    if (cap < nNewWorkers) {
      nNewWorkers = cap;
      boundBy = binding;
    }
    steps.push(`${description} → ${nNewWorkers}`);
  };

  if (limits.maxWorkers > 0) {
    capBy(
      'maxWorkers',
      Math.max(limits.maxWorkers - rowTotal, 0),
      `maxWorkers ${limits.maxWorkers} − ${rowTotal} existing`,
    );
  }
  // [Q] zero CRIC maxrss divides by zero (spec §5.1): a cores or memory limit divided by a per-worker
  // request of 0 raises in Harvester and the whole site submits nothing, silently. FIX: the row is
  // stopped with a reason naming the missing per-worker request; other rows go on.
  if (limits.queuedCoresLimit) {
    const coresPerWorker = row.coresPerWorker;
    if (coresPerWorker === undefined || !(coresPerWorker > 0)) {
      return stop('invalidConfig', `cores limit set but coresPerWorker=${JSON.stringify(coresPerWorker)}`);
    }
    const freeCores = Math.max(limits.queuedCoresLimit - queuedCores, 0);
    capBy(
      'queuedCoresLimit',
      Math.ceil(freeCores / coresPerWorker),
      `cores limit ${limits.queuedCoresLimit} − queued ${queuedCores} = ${freeCores} free / ${coresPerWorker} per worker`,
    );
  }
  if (limits.queuedMemoryLimitMB) {
    const memoryPerWorkerMB = row.memoryPerWorkerMB;
    if (memoryPerWorkerMB === undefined || !(memoryPerWorkerMB > 0)) {
      return stop(
        'invalidConfig',
        `memory limit set but memoryPerWorkerMB=${JSON.stringify(memoryPerWorkerMB)}`,
      );
    }
    const freeMemoryMB = Math.max(limits.queuedMemoryLimitMB - queuedMemoryMB, 0);
    capBy(
      'queuedMemoryLimit',
      Math.ceil(freeMemoryMB / memoryPerWorkerMB),
      `memory limit ${limits.queuedMemoryLimitMB} − queued ${queuedMemoryMB} = ${freeMemoryMB} MB free / ${memoryPerWorkerMB} per worker`,
    );
  }
  if (input.limits.maxNewWorkersPerCycle > 0) {
    capBy(
      'maxNewWorkersPerCycle',
      input.limits.maxNewWorkersPerCycle,
      `maxNewWorkersPerCycle ${input.limits.maxNewWorkersPerCycle}`,
    );
  }
  if (settings.maxNewWorkers > 0) {
    capBy('globalMaxNewWorkers', settings.maxNewWorkers, `global maxNewWorkers ${settings.maxNewWorkers}`);
  }
  return { nNewWorkers, boundBy, steps };
}

/**
 * The pull cap (spec §5): activated jobs × factor, at least 1 pilot (0 with
 * noPilotsWhenNoActiveJobs). When PanDA lists no activated jobs at all, Harvester keeps one worker
 * only if the row has none (max(1 − queued − ready − running, 0)).
 *
 * Rows of a real resource type read PanDA's per-resource-type count when it is given; Harvester
 * applies the queue's total to every row, which lets a unified queue queue up to
 * (#resource types × activated) pilots before the aggregate steps in.
 */
function activatedJobsCap(
  jobStats: PandaJobStats,
  resourceType: string,
  rowTotal: number,
  factor: number,
  noPilotsWhenNoActiveJobs: boolean,
): { nActivatedCap: number; description: string } {
  const usePerResourceType = resourceType !== 'ANY' && jobStats.activatedJobsByResourceType !== undefined;
  const activated = usePerResourceType
    ? jobStats.activatedJobsByResourceType?.[resourceType]
    : jobStats.activatedJobs;
  const scope = usePerResourceType ? `activated ${resourceType} jobs` : 'activated jobs';
  if (activated === undefined) {
    const nActivatedCap = noPilotsWhenNoActiveJobs ? 0 : Math.max(1 - rowTotal, 0);
    const rule = noPilotsWhenNoActiveJobs
      ? 'noPilotsWhenNoActiveJobs'
      : `keep 1 worker (row has ${rowTotal})`;
    return { nActivatedCap, description: `PanDA lists no ${scope}: ${rule}` };
  }
  const scaled = activated * factor;
  const minimumPilots = scaled > 0 || !noPilotsWhenNoActiveJobs ? 1 : 0;
  const nActivatedCap = Math.max(Math.floor(scaled), minimumPilots);
  return {
    nActivatedCap,
    description: `${scope} ${activated} × factor ${round(factor)} = ${round(scaled)}, at least ${minimumPilots}`,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The queue-wide aggregate (Harvester's UCORE aggregation): the rows' sum may not exceed
 * min(nQueueLimitWorker − Σqueued, maxWorkers − Σall, maxNewWorkersPerCycle, maxNewWorkers).
 * When it does, each row gets floor(n · cap / total) and the leftover units go one by one to rows
 * ordered by: n > 0 first, larger remainder, smaller n, then input order (spec §5.1: the order of
 * resource types breaks ties).
 *
 * [Q] UCORE cap with 0 = unlimited (spec §5): Harvester puts maxWorkers, nQueueLimitWorker and
 * maxNewWorkersPerCycle into the cap as they are, so a 0 ("no limit") makes the cap 0 and a unified
 * queue submits nothing unless all of them are set. FIX: a 0 term is left out of the cap, as
 * everywhere else.
 */
function applyQueueAggregate(
  outcomes: RowOutcome[],
  limits: EvaluatedWorkerLimits,
  counts: QueueWorkerCounts,
  maxNewWorkersPerCycle: number,
  globalMaxNewWorkers: number,
): string | undefined {
  let queued = 0;
  let existing = 0;
  for (const row of counts.rows) {
    queued += row.nQueue;
    existing += row.nQueue + row.nReady + row.nRunning;
  }
  const terms: string[] = [];
  let cap = Number.POSITIVE_INFINITY;
  if (limits.nQueueLimitWorker > 0) {
    cap = Math.min(cap, Math.max(limits.nQueueLimitWorker - queued, 0));
    terms.push(`nQueueLimitWorker ${limits.nQueueLimitWorker} − queued ${queued}`);
  }
  if (limits.maxWorkers > 0) {
    cap = Math.min(cap, Math.max(limits.maxWorkers - existing, 0));
    terms.push(`maxWorkers ${limits.maxWorkers} − existing ${existing}`);
  }
  if (maxNewWorkersPerCycle > 0) {
    cap = Math.min(cap, maxNewWorkersPerCycle);
    terms.push(`maxNewWorkersPerCycle ${maxNewWorkersPerCycle}`);
  }
  if (globalMaxNewWorkers > 0) {
    cap = Math.min(cap, globalMaxNewWorkers);
    terms.push(`global maxNewWorkers ${globalMaxNewWorkers}`);
  }
  const requested = outcomes.reduce((sum, outcome) => sum + outcome.nNewWorkers, 0);
  if (!(requested > cap)) return undefined;

  const original = outcomes.map((outcome) => outcome.nNewWorkers);
  const remainders = original.map((n) => (n * cap) % requested);
  let leftover = cap;
  outcomes.forEach((outcome, index) => {
    outcome.nNewWorkers = Math.floor((original[index] * cap) / requested);
    leftover -= outcome.nNewWorkers;
  });
  const order = original
    .map((n, index) => ({ n, index, remainder: remainders[index] }))
    .sort((a, b) => {
      const positiveFirst = Number(b.n > 0) - Number(a.n > 0);
      if (positiveFirst !== 0) return positiveFirst;
      if (a.remainder !== b.remainder) return b.remainder - a.remainder;
      if (a.n !== b.n) return a.n - b.n;
      return a.index - b.index;
    });
  for (const entry of order) {
    if (leftover <= 0) break;
    outcomes[entry.index].nNewWorkers += 1;
    leftover -= 1;
  }
  const summary = `queue-wide cap ${cap} = min(${terms.join(', ')}) < requested ${requested}`;
  outcomes.forEach((outcome, index) => {
    if (outcome.nNewWorkers < original[index]) {
      outcome.boundBy = 'queueAggregate';
      outcome.steps.push(`${summary}: rescaled ${original[index]} → ${outcome.nNewWorkers}`);
    }
  });
  return summary;
}

function settingsProblems(settings: AdjusterSettings): string[] {
  const problems: string[] = [];
  if (!isNonNegativeInteger(settings.maxNewWorkers)) {
    problems.push(`maxNewWorkers=${JSON.stringify(settings.maxNewWorkers)} is not a non-negative integer`);
  }
  const factor = settings.activateWorkerFactor;
  if (factor !== 'auto' && !(typeof factor === 'number' && Number.isFinite(factor) && factor >= 0)) {
    problems.push(
      `activateWorkerFactor=${JSON.stringify(factor)} is neither 'auto' nor a non-negative number`,
    );
  }
  return problems;
}

function countsProblems(counts: QueueWorkerCounts): string[] {
  const problems: string[] = [];
  for (const field of ['queuedCores', 'queuedMemoryMB', 'runningCores', 'runningMemoryMB'] as const) {
    if (!(Number.isFinite(counts[field]) && counts[field] >= 0)) problems.push(`${field}=${counts[field]}`);
  }
  for (const row of counts.rows) {
    for (const field of ['nQueue', 'nReady', 'nRunning'] as const) {
      if (!isNonNegativeInteger(row[field]))
        problems.push(`${row.jobType}/${row.resourceType} ${field}=${row[field]}`);
    }
  }
  return problems;
}

function jobStatsAreValid(stats: PandaJobStats): boolean {
  if (stats.activatedJobs !== undefined && !isNonNegativeInteger(stats.activatedJobs)) return false;
  for (const value of Object.values(stats.activatedJobsByResourceType ?? {})) {
    if (!isNonNegativeInteger(value)) return false;
  }
  return true;
}

function rowLabel(row: { jobType: string; resourceType: string }): string {
  return `${row.jobType}/${row.resourceType}`;
}

function toRowDecision(row: AdjusterRow, nReady: number, outcome: RowOutcome): RowDecision {
  const nWorkersToSubmit = outcome.nNewWorkers + nReady;
  return {
    jobType: row.jobType,
    resourceType: row.resourceType,
    nNewWorkers: outcome.nNewWorkers,
    nReady,
    nWorkersToSubmit,
    boundBy: outcome.boundBy,
    explanation: `${rowLabel(row)}: ${outcome.nNewWorkers} new + ${nReady} ready (bound by ${outcome.boundBy}) [${outcome.steps.join('; ')}]`,
  };
}

function summarise(queueName: string, rows: RowDecision[], extra?: string): QueueDecision['explanation'] {
  const total = rows.reduce((sum, row) => sum + row.nNewWorkers, 0);
  const perRow = rows.map((row) => `${rowLabel(row)} ${row.nNewWorkers} by ${row.boundBy}`).join(', ');
  return `${queueName}: ${total} new workers${perRow ? ` (${perRow})` : ''}${extra ? `; ${extra}` : ''}`;
}

function decision(
  queueName: string,
  rows: RowDecision[],
  explanation: string,
  limits?: EvaluatedWorkerLimits,
): QueueDecision {
  const result: QueueDecision = {
    queueName,
    rows,
    totalNewWorkers: rows.reduce((sum, row) => sum + row.nNewWorkers, 0),
    totalWorkersToSubmit: rows.reduce((sum, row) => sum + row.nWorkersToSubmit, 0),
    explanation,
  };
  if (limits !== undefined) result.limits = limits;
  return result;
}

/** Every row stopped by one queue-level rule, with the ready workers that still get jobs. */
function stopQueue(
  input: QueueAdjusterInput,
  boundBy: AdjusterBinding,
  why: string,
  readyByRow: (row: AdjusterRow) => number,
): QueueDecision {
  const rows = input.rows.map((row) =>
    toRowDecision(row, readyByRow(row), { nNewWorkers: 0, boundBy, steps: [describeStop(boundBy, why)] }),
  );
  return decision(input.queueName, rows, `${input.queueName}: 0 new workers, ${describeStop(boundBy, why)}`);
}

/**
 * Harvester's define_num_workers for one queue: how many new workers each row gets this cycle, the
 * ready workers the submitter also serves, and a readable account of which rule bound each number.
 * Pure: same input, same output; throws nothing for bad data (bad data stops the queue with a
 * reason instead).
 */
export function defineNumWorkers(
  input: QueueAdjusterInput,
  settingsOverride: Partial<AdjusterSettings> = {},
): QueueDecision {
  const settings: AdjusterSettings = { ...DEFAULT_ADJUSTER_SETTINGS, ...settingsOverride };
  const noReady = (): number => 0;

  const configProblems = [...validateWorkerLimits(input.limits), ...settingsProblems(settings)];
  const seenRows = new Set<string>();
  for (const row of input.rows) {
    const key = rowKey(row.jobType, row.resourceType);
    if (seenRows.has(key)) configProblems.push(`row ${rowLabel(row)} is listed twice`);
    seenRows.add(key);
  }
  if (configProblems.length > 0) {
    return stopQueue(input, 'invalidConfig', configProblems.join('; '), noReady);
  }

  // Counts are summed per row (a caller may group finer than by row).
  const countsByRow = new Map<string, { nQueue: number; nReady: number; nRunning: number }>();
  const knownCounts = input.workerCounts === 'unknown' ? undefined : input.workerCounts;
  const badCounts = knownCounts === undefined ? [] : countsProblems(knownCounts);
  if (knownCounts !== undefined && badCounts.length === 0) {
    for (const row of knownCounts.rows) {
      const key = rowKey(row.jobType, row.resourceType);
      const sum = countsByRow.get(key) ?? { nQueue: 0, nReady: 0, nRunning: 0 };
      countsByRow.set(key, {
        nQueue: sum.nQueue + row.nQueue,
        nReady: sum.nReady + row.nReady,
        nRunning: sum.nRunning + row.nRunning,
      });
    }
  }
  const countsUsable = knownCounts !== undefined && badCounts.length === 0;
  const countsOf = (row: AdjusterRow) =>
    countsByRow.get(rowKey(row.jobType, row.resourceType)) ?? ZERO_COUNTS;
  // Ready workers exist whatever the queue status says; Harvester still hands them jobs.
  const readyOf = (row: AdjusterRow): number => (countsUsable ? countsOf(row).nReady : 0);

  if (BLOCKING_QUEUE_STATUSES.has(input.queueStatus)) {
    return stopQueue(input, 'queueStatus', `queue status is ${input.queueStatus}`, readyOf);
  }
  if (input.throttler?.throttled) {
    return stopQueue(input, 'throttled', `throttler: ${input.throttler.message}`, readyOf);
  }
  // Fail closed: a failed status query is not zero workers; submitting on it could flood the site.
  if (knownCounts === undefined) {
    return stopQueue(
      input,
      'countsUnknown',
      'the last worker status query failed, counts are unknown',
      noReady,
    );
  }
  if (!countsUsable) {
    return stopQueue(
      input,
      'countsUnknown',
      `worker counts are not usable: ${badCounts.join(', ')}`,
      noReady,
    );
  }

  let runningWorkers = 0;
  for (const counts of countsByRow.values()) runningWorkers += counts.nRunning;
  const limits = evaluateWorkerLimits(input.limits, input.mapType, {
    runningWorkers,
    runningCores: knownCounts.runningCores,
    runningMemoryMB: knownCounts.runningMemoryMB,
  });

  const jobStats =
    input.pandaJobStats === 'unknown' || !jobStatsAreValid(input.pandaJobStats)
      ? 'unknown'
      : input.pandaJobStats;
  // [Q] noPilotsWhenNoActiveJobs: false crashes (spec §5.1): Harvester only sets its attribute when
  // the setting is true, so an explicit false leaves it unset and the adjuster fails. FIX: a plain
  // boolean; instance setting OR queue setting, false when neither says true.
  const context: RowContext = {
    input,
    settings,
    limits,
    counts: knownCounts,
    jobStats,
    noPilotsWhenNoActiveJobs: settings.noPilotsWhenNoActiveJobs || input.noPilotsWhenNoActiveJobs === true,
  };

  const outcomes = input.rows.map((row) => {
    const outcome = decideRow(context, row, countsOf(row));
    // Defence in depth: arithmetic on odd inputs must never turn into a huge or NaN submission.
    if (!Number.isInteger(outcome.nNewWorkers) || outcome.nNewWorkers < 0) {
      outcome.steps.push(`non-integer result ${outcome.nNewWorkers} replaced by 0`);
      outcome.nNewWorkers = 0;
      outcome.boundBy = 'invalidConfig';
    }
    return outcome;
  });
  const aggregateSummary = applyQueueAggregate(
    outcomes,
    limits,
    knownCounts,
    input.limits.maxNewWorkersPerCycle,
    settings.maxNewWorkers,
  );
  const rows = input.rows.map((row, index) => toRowDecision(row, readyOf(row), outcomes[index]));
  return decision(input.queueName, rows, summarise(input.queueName, rows, aggregateSummary), limits);
}
