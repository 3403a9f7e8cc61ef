/**
 * Types of the worker adjuster (Harvester's WorkerAdjuster.define_num_workers, harvester-spec §5).
 * Everything here is plain data so that a queue workflow can pass it through an activity or keep
 * it in workflow state; the adjuster itself is a pure function over these types.
 */
import type { MapType } from './specs';

/**
 * PanDA queue status as CRIC reports it. Only offline/standby/maintenance stop submission
 * (BLOCKING_QUEUE_STATUSES); the others (test, brokeroff, ...) are listed for readability only.
 */
export type QueueStatus =
  | 'online'
  | 'offline'
  | 'standby'
  | 'maintenance'
  | 'test'
  | 'brokeroff'
  | (string & {});

/** Harvester's runMode: `slave` = PanDA dictates how many workers to make (SET_N_WORKERS_JOBTYPE). */
export type RunMode = 'self' | 'slave';

/**
 * Worker limits of one queue, as in panda_queueconfig.json (spec §4). Unset = undefined (Harvester: None).
 * Every value must be a non-negative integer; anything else makes the adjuster refuse to submit
 * for the queue (see validation in workerAdjusterLimits.ts).
 */
export interface QueueWorkerLimits {
  /** Cap on queued+ready+running workers; 0 = no limit. */
  maxWorkers: number;
  /** Cap on queued (submitted+idle+pending) workers; undefined ⇒ maxWorkers. 0 = no limit. */
  nQueueLimitWorker?: number;
  /** Pull queues only: queued limit as a percentage of running workers. */
  nQueueLimitWorkerRatio?: number;
  /** Pull queues only: floor of the ratio limit. */
  nQueueLimitWorkerMin?: number;
  nQueueLimitWorkerMax?: number;
  /** Cap on the cores of queued workers (0 is a real limit: nothing may queue). */
  nQueueLimitWorkerCores?: number;
  nQueueLimitWorkerCoresRatio?: number;
  nQueueLimitWorkerCoresMin?: number;
  /** Cap on the memory (MB) of queued workers (0 is a real limit: nothing may queue). */
  nQueueLimitWorkerMemory?: number;
  nQueueLimitWorkerMemoryRatio?: number;
  nQueueLimitWorkerMemoryMin?: number;
  /** Per queue per cycle; 0 = no limit. */
  maxNewWorkersPerCycle: number;
}

/** One (jobType, resourceType) row of a queue: Harvester's pq_table row. */
export interface AdjusterRow {
  jobType: string;
  /** A PanDA resource type (SCORE, MCORE, ...) or `ANY` for a queue that is not split by resource type. */
  resourceType: string;
  /**
   * Remaining number of new workers PanDA dictated for this row (pq_table.nNewWorkers after
   * SET_N_WORKERS_JOBTYPE commands, minus workers already made; see applySetNWorkersCommands).
   * Used in slave mode only; undefined = 0.
   */
  dictatedNewWorkers?: number;
  /** Cores one worker of this row requests; needed only when a cores limit is set (see workerRequirements). */
  coresPerWorker?: number;
  /** Memory (MB) one worker of this row requests; needed only when a memory limit is set. */
  memoryPerWorkerMB?: number;
  /** Harvester's submitter nCoreFactor for this row (pilots that run several single-core jobs); default 1. */
  nCoreFactor?: number;
}

/** Worker counts of one row: the four inputs of spec §11.1 minus nNewWorkers. */
export interface RowWorkerCounts {
  jobType: string;
  resourceType: string;
  /** submitted + idle + pending */
  nQueue: number;
  /** ready (late binding), plus running workers waiting for a refill */
  nReady: number;
  nRunning: number;
}

/**
 * What the last worker status query said about the queue. Rows of the queue missing from `rows`
 * have no workers. Cores/memory are sums over the workers' nCore / minRamCount.
 */
export interface QueueWorkerCounts {
  rows: readonly RowWorkerCounts[];
  queuedCores: number;
  queuedMemoryMB: number;
  runningCores: number;
  runningMemoryMB: number;
}

/** PanDA's job statistics for the queue (job_statistics.json / job_statistics_new.json). */
export interface PandaJobStats {
  /** Activated jobs of the queue, all resource types; undefined when PanDA lists none for the queue. */
  activatedJobs?: number;
  /** Activated jobs per resource type; a resource type missing here has none listed. */
  activatedJobsByResourceType?: Readonly<Record<string, number>>;
}

/** The throttler plugin's answer (to_be_throttled): true stops submission with the message. */
export interface ThrottlerVerdict {
  throttled: boolean;
  message: string;
}

/** Everything the adjuster needs about one queue for one cycle. */
export interface QueueAdjusterInput {
  queueName: string;
  mapType: MapType;
  runMode: RunMode;
  queueStatus: QueueStatus;
  limits: QueueWorkerLimits;
  /** The rows to decide for, in the order that breaks ties when leftover workers are handed out. */
  rows: readonly AdjusterRow[];
  /** 'unknown' = the last status query failed: never read as zero workers. */
  workerCounts: QueueWorkerCounts | 'unknown';
  /** Pull queues: 'unknown' = no statistics from PanDA; the queue limits alone then apply (as Harvester). */
  pandaJobStats: PandaJobStats | 'unknown';
  /**
   * For activateWorkerFactor 'auto': how many harvester instances PanDA's worker statistics list
   * for this queue (keys of worker_statistics.json[queue]); 'unknown' ⇒ factor 1.
   */
  harvesterInstancesOnQueue?: number | 'unknown';
  /** Queue-level noPilotsWhenNoActiveJobs (submitter section); OR-ed with the instance setting. */
  noPilotsWhenNoActiveJobs?: boolean;
  throttler?: ThrottlerVerdict;
}

/** Instance-wide [submitter] settings. */
export interface AdjusterSettings {
  /** Global per-queue per-cycle cap; 0 = no limit. Harvester default 1000. */
  maxNewWorkers: number;
  /** Pull cap factor on activated jobs; 'auto' = 1 / number of harvester instances on the queue. */
  activateWorkerFactor: number | 'auto';
  noPilotsWhenNoActiveJobs: boolean;
}

/**
 * Which rule decided a row's number. The first group gives 0 before any arithmetic; the second
 * names the limit that bound the arithmetic result.
 */
export type AdjusterBinding =
  | 'invalidConfig'
  | 'queueStatus'
  | 'throttled'
  | 'countsUnknown'
  | 'slaveDictatedZero'
  | 'queueLimitReached'
  | 'maxWorkersReached'
  | 'queuedCoresLimitReached'
  | 'queuedMemoryLimitReached'
  | 'nQueueLimitWorker'
  | 'dictatedByPanda'
  | 'activatedJobs'
  | 'defaultOneQueued'
  | 'maxWorkers'
  | 'queuedCoresLimit'
  | 'queuedMemoryLimit'
  | 'maxNewWorkersPerCycle'
  | 'globalMaxNewWorkers'
  | 'queueAggregate';

/** The adjuster's answer for one row. */
export interface RowDecision {
  jobType: string;
  resourceType: string;
  /** New workers to create this cycle. */
  nNewWorkers: number;
  /** Ready workers that get jobs this cycle (Harvester's submitter adds them: nWorkers = nNewWorkers + nReady). */
  nReady: number;
  /** nNewWorkers + nReady: how many worker chunks the submitter builds. */
  nWorkersToSubmit: number;
  boundBy: AdjusterBinding;
  /** One line for logs and the Temporal UI: the result, the binding rule, and the arithmetic steps. */
  explanation: string;
}

/** Limits after evaluating ratios and floors against the current counts (Harvester's get_worker_limits). */
export interface EvaluatedWorkerLimits {
  /** 0 = no limit. */
  maxWorkers: number;
  /** Queued-worker limit; 0 = no limit. */
  nQueueLimitWorker: number;
  /** undefined = no cores limit. */
  queuedCoresLimit?: number;
  /** undefined = no memory limit. */
  queuedMemoryLimitMB?: number;
}

/** The adjuster's answer for one queue. */
export interface QueueDecision {
  queueName: string;
  rows: RowDecision[];
  totalNewWorkers: number;
  totalWorkersToSubmit: number;
  /** undefined when the queue was stopped before limits were evaluated. */
  limits?: EvaluatedWorkerLimits;
  /** One line summing up the queue: total and, per row, number and binding rule. */
  explanation: string;
}
