/**
 * Central activities of the queue workflow: read the DB and the queue config, plan a submitter
 * cycle with the worker adjuster, create worker rows and start their lifecycle workflows, and
 * pass the monitor's changes on to the worker workflows as signals.
 */
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { QueueConfigStore } from '../config/queueConfigStore';
import { compactRecords, expandRecords, type IdRanges, idsOfRanges } from '../core/compactRecords';
import type { MonitorDelta, MonitoredWorkerRecord, MonitorGroupParams } from '../core/edgeMirror';
import { jobChunksForWorkers, jobsNeeded } from '../core/jobChunks';
import type { WorkerChange } from '../core/monitorDiff';
import { expandPlaceholders } from '../core/queueConfig/placeholders';
import type { QueueConfig } from '../core/queueConfig/types';
import {
  HarvesterInstance,
  HarvesterQueue,
  HarvesterResourceType,
  HarvesterWorkerId,
  HarvesterWorkerStatus,
} from '../core/searchAttributes';
import type { WorkSpec } from '../core/specs';
import { recordedSubmission } from '../core/submissionRecord';
import {
  type AdjusterRow,
  type AdjusterSettings,
  DEFAULT_ADJUSTER_SETTINGS,
  defineNumWorkers,
  type PandaJobStats,
  type QueueWorkerCounts,
} from '../core/workerAdjuster';
import { policyFromQueueConfig, workerHeartbeatMinutes } from '../core/workerPolicy';
import {
  bindJobsToWorker,
  listJobsOfWorker,
  listUnboundJobs,
  unbindJobsFromWorker,
  upsertJobs,
} from '../db/jobs';
import type { Db } from '../db/pool';
import { consumeNNewWorkers, getQueue, upsertQueue } from '../db/queues';
import {
  allocateWorkerIds,
  countMissedWorkers,
  countWorkersByState,
  getWorker,
  getWorkers,
  insertPendingWorkers,
  listLiveWorkers,
  listMonitorChanges,
  liveConfigIDs,
  monitorSeqHorizon,
  recordSubmission,
  recordWorkerStatus,
  setMonitorUnknown,
  type WorkerRecord,
  workSpecOf,
} from '../db/workers';
import { harvesterMetrics } from '../observability/metrics';
import type { PandaCommunicator } from '../panda/client';
import type { PandaJobDescription } from '../panda/types';
import type { PluginRegistry } from '../plugins/registry';
import type { PluginParams } from '../plugins/types';
import { forEachLimited } from '../util/concurrency';
import { type Packed, pack, packInChunks, unpack } from '../util/packed';
import { MONITOR_PAGE_SIZE, type QueueLimitOverrides } from '../workflows/queueMessages';
import { statusChangedSignal, type WorkerStatusReport, workerWorkflowId } from '../workflows/workerMessages';
import type { PackedOutcomes, PackedSubmission, PushJob, SubmissionOutcome } from './lifecycleTypes';
import { checkBatch } from './monitorCheck';
import { submitInBulk, withHeartbeats } from './plugin';

export interface QueueCentralDeps {
  db: Db;
  client: Client;
  harvesterID: string;
  /** The central worker's task queue: worker workflows run there. */
  centralTaskQueue: string;
  configs: QueueConfigStore;
  panda?: PandaCommunicator;
  /** Instance-wide [submitter] settings (HARVESTER_MAX_NEW_WORKERS etc.); Harvester's defaults when unset. */
  adjusterSettings?: Partial<AdjusterSettings>;
  /** For the plugins the central side runs itself: worker maker and throttler. */
  registry: PluginRegistry;
}

/** What one central monitor cycle did; all the queue workflow keeps of it. */
export interface MonitorQueueSummary {
  /** False when a status query failed (or was refused): counts are unknown. */
  ok: boolean;
  error: string;
  /** Bulk status calls made: one per page of MONITOR_PAGE_SIZE workers and config. */
  statusCalls: number;
  checked: number;
  changed: number;
  signalled: number;
  adopted: number;
  /** Workers whose status the query could not tell. */
  unknownCount: number;
  /** Task queues of configs whose monitor runs on an edge node: the workflow runs those next. */
  edgeTaskQueues: string[];
}

/** One page of an edge monitor's delta (core/edgeMirror), packed, with where the next page starts. */
export interface EdgeDeltaPage {
  delta: Packed<MonitorDelta>;
  toSeq: number;
  horizon: number;
  /** The last page: the edge checks after applying it. */
  complete: boolean;
  rows: number;
}

/**
 * Changed rows per delta page. A full sync of a 20,000-worker queue is 4 pages; at about 60 bytes
 * a worker once packed, a page stays far below Temporal's 2 MB payload limit.
 */
const EDGE_DELTA_PAGE_SIZE = 5000;

export interface SubmissionPlanRow {
  jobType: string;
  resourceType: string;
  n: number;
}

/** What the bulk submit (a plugin activity, maybe on an edge node) needs; it has no DB. */
export interface PreparedSubmission {
  pluginTaskQueue: string;
  submitter: PluginParams;
  messenger?: PluginParams;
  workers: WorkSpec[];
  /** Push mode: the jobs to feed into each worker's access point, keyed by workerID. */
  jobs?: Record<string, PushJob[]>;
}

export interface PrepareSubmissionInput {
  harvesterID: string;
  queueName: string;
  configID: string;
  ids: number[];
  rows: SubmissionPlanRow[];
}

/** What a submitter step did: all the queue workflow keeps of it (counts, no worker lists). */
export interface SubmitQueueSummary {
  /** Worker rows made (push mode: fewer than the ids when PanDA had fewer jobs). */
  prepared: number;
  /** Submitted with a batch job (in bulk, or found by the look-up of a retried attempt). */
  submitted: number;
  missed: number;
  /** Left to submit themselves: the bulk submit failed past its retries. */
  selfSubmit: number;
  started: number;
  alreadyStarted: number;
}

/**
 * submitQueueWorkers' answer: done (a config whose plugins run in this process), or the packed
 * submission for the edge task queue, which the workflow passes on (in chunks of at most
 * MAX_PACKED_BYTES each) and then gives the outcomes to startQueueWorkers.
 */
export type SubmitQueueStep =
  | { done: SubmitQueueSummary }
  | { edge: { taskQueue: string; workers: number; submissions: Packed<PackedSubmission>[] } };

export interface SubmissionPlan {
  configID: string;
  /** New workers to make (ids to allocate). */
  total: number;
  /** Late binding: workers whose pilots asked for a job, to be given one this cycle. */
  nReady: number;
  rows: SubmissionPlanRow[];
  explanation: string;
}

/**
 * What a monitor plugin needs of a worker (its batch id, access point, times); an edge node's
 * mirror holds these, so diagnostics and job lists stay out of it.
 */
const MONITOR_FIELDS = [
  'batchID',
  'queueName',
  'computingElement',
  'submissionHost',
  'accessPoint',
  'submitTime',
  'startTime',
  'nativeStatus',
] as const;

/** How a config's workers are checked: its monitor, and the messenger for late binding and heartbeats. */
function monitorGroupParams(q: QueueConfig): MonitorGroupParams {
  const heartbeatLimit = workerHeartbeatMinutes(q.messenger);
  return {
    monitor: q.monitor,
    lateBindingMessenger: q.useJobLateBinding && q.mapType !== 'NoJob' ? q.messenger : undefined,
    heartbeat:
      heartbeatLimit > 0 && q.messenger
        ? { messenger: q.messenger, limitMinutes: heartbeatLimit }
        : undefined,
  };
}

/** A worker row as the monitor compares it (spec with the monitor fields, and the DB's marks). */
function monitoredRecord(w: WorkerRecord): MonitoredWorkerRecord {
  return {
    spec: workSpecOf(w, MONITOR_FIELDS),
    hasJobs: w.pandaIDs.length > 0,
    killed: w.killTime !== undefined,
    unknown: w.monitorUnknown,
  };
}

/** Job descriptions as a worker's messenger feeds them. */
function toPushJobs(jobs: readonly PandaJobDescription[]): PushJob[] {
  return jobs.map((j) => ({ PandaID: j.PandaID, jobParams: j as Record<string, unknown> }));
}

function toCounts(byType: Awaited<ReturnType<typeof countWorkersByState>>): QueueWorkerCounts {
  const rows: QueueWorkerCounts['rows'][number][] = [];
  const sums = { queuedCores: 0, runningCores: 0, queuedMemoryMB: 0, runningMemoryMB: 0 };
  for (const [jobType, byRt] of Object.entries(byType)) {
    for (const [resourceType, c] of Object.entries(byRt)) {
      rows.push({ jobType, resourceType, nQueue: c.nQueue, nReady: c.nReady, nRunning: c.nRunning });
      sums.queuedCores += c.queuedCores;
      sums.runningCores += c.runningCores;
      sums.queuedMemoryMB += c.queuedMemory;
      sums.runningMemoryMB += c.runningMemory;
    }
  }
  return { rows, ...sums };
}

/**
 * The queue's worker maker (Harvester's make_worker): the cores and memory a new worker asks for.
 * A worker-maker section without nCore falls back to the submitter's nCore / nCorePerNode, which
 * queue configs written for the submitter alone carry.
 */
function workerMakerOf(registry: PluginRegistry, q: QueueConfig, harvesterID: string) {
  const nCore = q.workerMaker.nCore ?? q.submitter.nCore ?? q.submitter.nCorePerNode;
  return registry.create(
    'workerMaker',
    { ...q.workerMaker, ...(nCore !== undefined ? { nCore: Number(nCore) || 1 } : {}) },
    { harvesterID, queueName: q.queueName },
  );
}

/** Queue-level noPilotsWhenNoActiveJobs: in the submitter section (Harvester) or at the top level. */
function queueNoPilotsWhenNoActiveJobs(q: QueueConfig): boolean {
  return q.submitter.noPilotsWhenNoActiveJobs === true || q.extra.noPilotsWhenNoActiveJobs === true;
}

export function createQueueCentralActivities(deps: QueueCentralDeps) {
  async function pandaJobStats(q: QueueConfig): Promise<PandaJobStats | 'unknown'> {
    if (!deps.panda || q.mapType !== 'NoJob') return 'unknown';
    try {
      const stats = await deps.panda.getJobStatistics();
      const forQueue = stats[q.queueName];
      // A queue PanDA does not list is not a queue with 0 activated jobs: Harvester's KeyError branch.
      return forQueue === undefined ? {} : { activatedJobs: forQueue.activated ?? 0 };
    } catch (err) {
      log.warn('PanDA job statistics unavailable; queue limits alone apply', {
        error: (err as Error).message,
      });
      return 'unknown';
    }
  }

  /** activateWorkerFactor 'auto': how many harvester instances PanDA lists for the queue (worker_statistics). */
  async function instancesOnQueue(q: QueueConfig): Promise<number | 'unknown'> {
    if (!deps.panda) return 'unknown';
    try {
      const stats = await deps.panda.getWorkerStatistics();
      const forQueue = stats[q.queueName];
      return forQueue === undefined ? 'unknown' : Object.keys(forQueue).length;
    } catch (err) {
      log.warn('PanDA worker statistics unavailable; activateWorkerFactor auto counts as 1', {
        error: (err as Error).message,
      });
      return 'unknown';
    }
  }

  /**
   * The queue's throttler (Harvester: to_be_throttled before define_num_workers). A throttler that
   * fails throttles: submitting past a safety valve that cannot be read is the wrong way to fail.
   */
  async function throttlerVerdict(q: QueueConfig, harvesterID: string) {
    if (!q.throttler) return undefined;
    try {
      const throttler = deps.registry.create('throttler', q.throttler, {
        harvesterID,
        queueName: q.queueName,
        countMissedWorkers: (query) => countMissedWorkers(deps.db, harvesterID, query),
      });
      return await throttler.toBeThrottled();
    } catch (err) {
      return { throttled: true, message: `throttler failed, so no submission: ${(err as Error).message}` };
    }
  }

  /**
   * The adjuster's rows: the queue's own (jobType, resourceType), plus in slave mode every row PanDA
   * dictated a number for (SET_N_WORKERS_JOBTYPE), each with its remaining budget and the cores and
   * memory one new worker of it asks for (the worker maker's answer; the cores/memory limits divide by them).
   */
  async function adjusterRows(
    q: QueueConfig,
    dictated: Record<string, Record<string, number>>,
    harvesterID: string,
  ): Promise<AdjusterRow[]> {
    const keys: [string, string][] = [[q.jobType, q.resourceType]];
    if (q.runMode === 'slave') {
      for (const [jobType, byRt] of Object.entries(dictated))
        for (const resourceType of Object.keys(byRt))
          if (!keys.some(([j, r]) => j === jobType && r === resourceType)) keys.push([jobType, resourceType]);
    }
    const maker = workerMakerOf(deps.registry, q, harvesterID);
    const rows: AdjusterRow[] = [];
    for (const [jobType, resourceType] of keys) {
      const request = await maker.makeWorker([], jobType, resourceType);
      rows.push({
        jobType,
        resourceType,
        dictatedNewWorkers: q.runMode === 'slave' ? (dictated[jobType]?.[resourceType] ?? 0) : undefined,
        coresPerWorker: request?.nCore ?? 1,
        memoryPerWorkerMB: request?.minRamCount,
      });
    }
    return rows;
  }

  /**
   * Push mode: the jobs for the cycle's new workers (Harvester's JobFetcher + the submitter's job
   * chunks in one step: there is no preparator stage here, so jobs go straight to `prepared`).
   * Jobs an earlier cycle fetched but left unbound are used first; PanDA is asked only for the
   * rest. Chunks follow the map type (core/jobChunks): one job per worker, several (ManyToOne), or
   * one job for several workers (OneToMany). Idempotent for a retried prepare: ids whose worker
   * already has jobs keep them. (A reply lost between PanDA and the DB write leaves jobs `sent` in
   * PanDA and unknown here; PanDA's watcher fails them after 30 min, as with Harvester's lost
   * replies. Without a PanDA server (demo) a push queue gets no jobs and so starts no workers.)
   */
  async function jobsForWorkers(
    q: QueueConfig,
    harvesterID: string,
    ids: readonly number[],
  ): Promise<Map<number, PandaJobDescription[]>> {
    const mapType = q.mapType as Exclude<QueueConfig['mapType'], 'NoJob'>;
    const bound = new Map<number, PandaJobDescription[]>();
    const free: number[] = [];
    for (const id of ids) {
      const jobs = await listJobsOfWorker(deps.db, id);
      if (jobs.length > 0)
        bound.set(
          id,
          jobs.map((j) => j.jobParams as PandaJobDescription),
        );
      else free.push(id);
    }
    if (free.length === 0) return bound;
    const settings = {
      mapType,
      nWorkers: free.length,
      nJobsPerWorker: Number(q.workerMaker.nJobsPerWorker ?? 1),
      nWorkersPerJob: Number(q.workerMaker.nWorkersPerJob ?? 1),
      allowJobMixture: q.allowJobMixture,
    };
    if (mapType === 'OneToMany' && free.length < settings.nWorkersPerJob) {
      // A job starts with all its workers or not at all (no filling up across cycles here).
      log.warn('OneToMany: this cycle may make fewer workers than one job needs; no job started', {
        queueName: q.queueName,
        workersAllowed: free.length,
        nWorkersPerJob: settings.nWorkersPerJob,
      });
    }
    const pool = (await listUnboundJobs(deps.db, q.queueName)).map((j) => j.jobParams as PandaJobDescription);
    const missing = jobsNeeded(settings) - pool.length;
    if (missing > 0 && deps.panda) {
      try {
        const acquired = (
          await deps.panda.acquireJobs({
            site_name: q.siteName,
            n_jobs: missing,
            prod_source_label: q.prodSourceLabel,
          })
        ).slice(0, missing);
        await upsertJobs(
          deps.db,
          acquired.map((j) => ({
            PandaID: j.PandaID,
            taskID: typeof j.taskID === 'number' ? j.taskID : undefined,
            attemptNr: j.attemptNr,
            status: 'starting',
            subStatus: 'prepared',
            computingSite: q.queueName,
            configID: q.configID,
            resourceType: j.resource_type,
            nCore: j.coreCount,
            jobParams: j as Record<string, unknown>,
            jobAttributes: {},
          })),
        );
        pool.push(...acquired);
        log.info('jobs acquired for push-mode workers', {
          queueName: q.queueName,
          harvesterID,
          asked: missing,
          got: acquired.length,
        });
      } catch (err) {
        // PanDA unreachable: the jobs already here still make workers; the next cycle asks again.
        log.warn('acquire_jobs failed; only jobs already fetched make workers this cycle', {
          queueName: q.queueName,
          error: (err as Error).message,
        });
      }
    }
    const plan = jobChunksForWorkers(
      pool.map((j) => ({
        job: j,
        PandaID: j.PandaID,
        taskID: typeof j.taskID === 'number' ? j.taskID : undefined,
        currentPriority: typeof j.currentPriority === 'number' ? j.currentPriority : undefined,
      })),
      settings,
    );
    let next = 0;
    for (const chunk of plan.chunks) {
      const jobs = chunk.jobs.map((c) => c.job);
      for (let i = 0; i < chunk.nWorkers; i++) bound.set(free[next++], jobs);
    }
    if (plan.leftover.length > 0)
      log.info('jobs kept for the next cycle', { queueName: q.queueName, jobs: plan.leftover.length });
    return bound;
  }

  /**
   * A worker with a batch job in the DB but no running lifecycle (its start failed past the retries
   * after the bulk submit, or an operator terminated it) would run unreported and never be swept.
   * The monitor's change starts one for it (signal-with-start), past the submit step, with the
   * batch id on record: the job is reported, followed and swept like any other.
   */
  async function adopt(
    harvesterID: string,
    queueName: string,
    workerID: number,
    report: WorkerStatusReport,
  ): Promise<boolean> {
    const row = await getWorker(deps.db, workerID);
    if (!row?.batchID || row.sweptAt) return false;
    const q = await deps.configs.byConfigID(queueName, row.configID);
    const worker = workSpecOf(row);
    await deps.client.workflow.signalWithStart('workerLifecycleWorkflow', {
      taskQueue: deps.centralTaskQueue,
      workflowId: workerWorkflowId(harvesterID, queueName, workerID),
      args: [
        {
          worker: { ...worker, status: 'pending' },
          policy: policyFromQueueConfig(q, harvesterID, deps.centralTaskQueue),
          submission: {
            workerID,
            outcome: 'success',
            diag: 'adopted by the queue monitor: the batch job had no running lifecycle',
            batchID: row.batchID,
            submissionHost: row.submissionHost,
            computingElement: row.computingElement,
            queueName: row.queueName,
            submittedAt: row.submitTime,
          },
        },
      ],
      signal: statusChangedSignal,
      signalArgs: [report],
      typedSearchAttributes: [
        { key: HarvesterQueue, value: queueName },
        { key: HarvesterInstance, value: harvesterID },
        { key: HarvesterWorkerStatus, value: 'pending' },
        { key: HarvesterResourceType, value: row.resourceType },
        { key: HarvesterWorkerId, value: workerID },
      ],
      memo: { queue: queueName, batchID: row.batchID, status: 'pending' },
      staticSummary: `worker ${workerID} of ${queueName} (${q.submitter.name})`,
      staticDetails: `adopted by the queue monitor: batch job ${row.batchID} had no running lifecycle`,
    });
    return true;
  }

  /** Tells each changed worker's workflow what the monitor saw (status recorded first); adopts orphans. */
  async function signalChanges(
    harvesterID: string,
    queueName: string,
    changes: readonly WorkerChange[],
  ): Promise<{ signalled: number; notFound: number[]; adopted: number[] }> {
    const observedAt = new Date().toISOString();
    const notFound: number[] = [];
    const adopted: number[] = [];
    let signalled = 0;
    await forEachLimited(changes, 20, async (c) => {
      const { workerID, ...report } = c;
      // The DB learns the new status here, in the monitor's cycle, so worker counts stay current
      // even while a worker's reports wait for PanDA; the workflow's own write is idempotent.
      if (report.status !== null) {
        await recordWorkerStatus(deps.db, workerID, {
          status: report.status,
          diag: report.diag,
          nativeStatus: report.nativeStatus,
          nativeExitCode: report.nativeExitCode,
          nodeID: report.nodeID,
          errorCode: report.errorCode,
          startTime: report.status === 'running' ? (report.startTime ?? observedAt) : undefined,
          endTime: ['finished', 'failed', 'cancelled', 'missed'].includes(report.status)
            ? (report.endTime ?? observedAt)
            : undefined,
        });
      }
      try {
        await deps.client.workflow
          .getHandle(workerWorkflowId(harvesterID, queueName, workerID))
          .signal(statusChangedSignal, { ...report, observedAt });
        signalled++;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        if (await adopt(harvesterID, queueName, workerID, { ...report, observedAt })) adopted.push(workerID);
        else notFound.push(workerID);
      }
    });
    if (adopted.length > 0)
      log.warn('batch jobs without a running lifecycle adopted', { queueName: queueName, adopted });
    if (notFound.length > 0) log.warn('no running lifecycle for workers', { queueName: queueName, notFound });
    return { signalled, notFound, adopted };
  }

  /**
   * A monitor's changes: signalled as signalChanges does, then the "could not tell" marks kept for
   * the next cycle's comparison (set for a null status, cleared for a status told again). Marks go
   * last: a retried call compares against the same marks and signals the same changes again.
   */
  async function applyChanges(harvesterID: string, queueName: string, changes: readonly WorkerChange[]) {
    const r = await signalChanges(harvesterID, queueName, changes);
    await setMonitorUnknown(
      deps.db,
      changes.filter((c) => c.status === null).map((c) => c.workerID),
      true,
    );
    await setMonitorUnknown(
      deps.db,
      changes.filter((c) => c.status !== null).map((c) => c.workerID),
      false,
    );
    return r;
  }

  /** Push mode: the jobs bound to a worker, as its lifecycle feeds them when it submits itself. */
  async function pushJobsOf(w: WorkSpec): Promise<PushJob[] | undefined> {
    if (!w.pandaIDs || w.pandaIDs.length === 0) return undefined;
    const jobs = await listJobsOfWorker(deps.db, w.workerID);
    return jobs.map((j) => ({ PandaID: j.PandaID, jobParams: j.jobParams as Record<string, unknown> }));
  }

  /**
   * First step of a submitter cycle's submission: creates the pending worker rows (and, in push
   * mode, gets their PanDA jobs and binds them), and returns what the bulk submit needs. Idempotent
   * for the same ids: rows are inserted once and a worker that already has a job keeps it.
   */
  async function prepareSubmission(input: PrepareSubmissionInput): Promise<PreparedSubmission> {
    const q = await deps.configs.byConfigID(input.queueName, input.configID);
    const now = new Date().toISOString();
    const specs: WorkSpec[] = [];
    // Push mode makes workers from jobs (Harvester's submitter builds job chunks first): no job,
    // no worker.
    // Late binding: new workers go out without jobs and get them when their pilot asks (ready).
    const pushJobs =
      q.mapType !== 'NoJob' && !q.useJobLateBinding
        ? await jobsForWorkers(q, input.harvesterID, input.ids)
        : undefined;
    const sharing = Number(q.workerMaker.nWorkersPerJob ?? 1);
    const maker = workerMakerOf(deps.registry, q, input.harvesterID);
    let idx = 0;
    for (const row of input.rows) {
      // What a worker of this row asks for without jobs (pull mode, late binding); push workers
      // are shaped by their jobs below.
      const request = await maker.makeWorker([], row.jobType, row.resourceType);
      for (let i = 0; i < row.n && idx < input.ids.length; i++, idx++) {
        const worker: WorkSpec = {
          workerID: input.ids[idx],
          computingSite: q.queueName,
          harvesterID: input.harvesterID,
          configID: q.configID,
          mapType: q.mapType,
          status: 'pending',
          resourceType: row.resourceType,
          jobType: row.jobType,
          nCore: request?.nCore ?? 1,
          prodSourceLabel: q.prodSourceLabel,
          creationTime: now,
        };
        if (request?.minRamCount !== undefined) worker.minRamCount = request.minRamCount;
        if (request?.maxDiskCount !== undefined) worker.maxDiskCount = request.maxDiskCount;
        if (request?.maxWalltime !== undefined) worker.maxWalltime = request.maxWalltime;
        if (request?.pilotType !== undefined) worker.pilotType = request.pilotType;
        const accessPointTemplate = q.messenger.accessPoint;
        if (pushJobs) {
          const jobs = pushJobs.get(worker.workerID);
          if (!jobs) continue; // no job for this id: the id stays unused
          // The worker is shaped by its jobs, as Harvester's worker maker does: the cores of its
          // jobs, or its share of one job's cores when several workers run it (OneToMany).
          worker.pandaIDs = jobs.map((j) => j.PandaID);
          const cores = jobs.reduce((n, j) => n + (j.coreCount ?? 0), 0);
          if (cores > 0) worker.nCore = q.mapType === 'OneToMany' ? Math.ceil(cores / sharing) : cores;
          const ram = jobs.reduce((n, j) => n + (typeof j.minRamCount === 'number' ? j.minRamCount : 0), 0);
          if (ram > 0) worker.minRamCount = q.mapType === 'OneToMany' ? Math.ceil(ram / sharing) : ram;
          worker.resourceType = jobs[0].resource_type ?? worker.resourceType;
        }
        if (typeof accessPointTemplate === 'string') {
          worker.accessPoint = expandPlaceholders(accessPointTemplate, worker, {
            harvesterID: input.harvesterID,
          });
        }
        specs.push(worker);
      }
    }
    const inserted = new Set(await insertPendingWorkers(deps.db, specs));
    if (q.runMode === 'slave') {
      // Only rows inserted now consume PanDA's budget: a retried prepare does not count twice.
      const made = new Map<string, { jobType: string; resourceType: string; n: number }>();
      for (const w of specs) {
        if (!inserted.has(w.workerID)) continue;
        const key = `${w.jobType}\u0000${w.resourceType}`;
        const entry = made.get(key) ?? { jobType: w.jobType, resourceType: w.resourceType, n: 0 };
        entry.n++;
        made.set(key, entry);
      }
      await consumeNNewWorkers(deps.db, input.harvesterID, q.queueName, [...made.values()]);
    }
    // Bindings need the worker rows (foreign key); both writes are idempotent.
    for (const w of specs) if (w.pandaIDs) await bindJobsToWorker(deps.db, w.workerID, w.pandaIDs);
    const jobs: Record<string, PushJob[]> = {};
    for (const w of specs) {
      const list = pushJobs?.get(w.workerID);
      if (list) jobs[String(w.workerID)] = toPushJobs(list);
    }
    return {
      pluginTaskQueue: q.temporal.taskQueue ?? deps.centralTaskQueue,
      submitter: q.submitter,
      messenger: pushJobs ? q.messenger : undefined,
      workers: specs,
      jobs: pushJobs ? jobs : undefined,
    };
  }

  /**
   * Records each worker's submission outcome (batch id, or missed) in the DB: the monitor's next
   * cycle sees the job before the lifecycle runs. A temporary failure releases the worker's jobs:
   * they stay `prepared` for the next cycle's workers. Idempotent: a record is written once.
   */
  async function recordOutcomes(q: QueueConfig, submissions: readonly SubmissionOutcome[]): Promise<void> {
    for (const o of submissions) {
      if (o.outcome === 'failure' && o.temporary) await unbindJobsFromWorker(deps.db, o.workerID);
    }
    await forEachLimited(submissions, 10, async (o) => {
      const change = await recordSubmission(deps.db, o.workerID, {
        status: o.outcome === 'success' ? 'submitted' : 'missed',
        batchID: o.batchID,
        submissionHost: o.submissionHost,
        computingElement: o.computingElement,
        queueName: o.queueName,
        submitTime: o.submittedAt ? new Date(o.submittedAt) : new Date(),
        diag: o.outcome === 'failure' ? o.diag : undefined,
      });
      // Once per worker: only the write that takes the row out of `pending` counts (a retried
      // activity, or the lifecycle recording the same outcome, finds it done).
      if (change.changed)
        harvesterMetrics.submissionOutcome(
          q.queueName,
          o.outcome === 'success'
            ? { outcome: 'submitted' }
            : { outcome: 'missed', reason: o.temporary ? 'temporary' : 'permanent' },
        );
    });
  }

  /**
   * Starts one lifecycle workflow per worker row of the ids, past its submit step when its outcome
   * is known (given, or on record in the DB from an earlier attempt); without one (the bulk submit
   * failed past its retries) the lifecycle submits that worker itself, looking it up in the batch
   * system first. Rows never made (push mode without a job) start nothing; a running workflow is
   * left alone.
   */
  async function startLifecycles(
    q: QueueConfig,
    harvesterID: string,
    ids: readonly number[],
    given: ReadonlyMap<number, SubmissionOutcome>,
    submitError: string | undefined,
  ): Promise<{ started: number; alreadyStarted: number; missed: number; selfSubmit: number }> {
    const policy = policyFromQueueConfig(q, harvesterID, deps.centralTaskQueue);
    const workers = (await getWorkers(deps.db, ids)).map((w) => workSpecOf(w));
    const outcomes = new Map(given);
    for (const w of workers) {
      const recorded = outcomes.has(w.workerID) ? undefined : recordedSubmission(w);
      if (recorded) outcomes.set(w.workerID, recorded);
    }
    let started = 0;
    let alreadyStarted = 0;
    let missed = 0;
    let selfSubmit = 0;
    await forEachLimited(workers, 20, async (row) => {
      const submission = outcomes.get(row.workerID);
      if (submission?.outcome === 'failure') missed++;
      if (!submission) selfSubmit++;
      // The lifecycle starts from `pending` and records its submission itself (idempotently).
      const worker: WorkSpec = { ...row, status: 'pending' };
      const summary = submission
        ? submission.outcome === 'success'
          ? `submitted in bulk by queue-${harvesterID}-${q.queueName} as batch job ${submission.batchID}`
          : `bulk submission failed: ${submission.diag}`
        : `submits itself (bulk submission failed: ${submitError ?? 'no outcome'})`;
      try {
        await deps.client.workflow.start('workerLifecycleWorkflow', {
          taskQueue: deps.centralTaskQueue,
          workflowId: workerWorkflowId(harvesterID, q.queueName, worker.workerID),
          args: [
            submission
              ? { worker, policy, submission }
              : { worker, policy, jobs: await pushJobsOf(worker), lookupBeforeSubmit: true },
          ],
          typedSearchAttributes: [
            { key: HarvesterQueue, value: q.queueName },
            { key: HarvesterInstance, value: harvesterID },
            { key: HarvesterWorkerStatus, value: 'pending' },
            { key: HarvesterResourceType, value: worker.resourceType },
            { key: HarvesterWorkerId, value: worker.workerID },
          ],
          memo: { queue: q.queueName, batchID: submission?.batchID ?? null, status: 'pending' },
          staticSummary: `worker ${worker.workerID} of ${q.queueName} (${q.submitter.name})`,
          staticDetails: summary,
        });
        started++;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) alreadyStarted++;
        else throw err;
      }
    });
    harvesterMetrics.workersStarted(q.queueName, started);
    log.info('workers started', { queueName: q.queueName, started, alreadyStarted, missed, selfSubmit });
    return { started, alreadyStarted, missed, selfSubmit };
  }

  return {
    /**
     * One monitor cycle of a queue, central part: pages through the queue's live workers with a
     * batch job (MONITOR_PAGE_SIZE at a time), runs the bulk status query in this process for the
     * pages whose config has no edge task queue (one call per page and config, counted), compares
     * with the DB's last known states, records and signals the changes and adopts batch jobs whose
     * lifecycle is gone. Only this summary goes into the queue workflow's history, so a cycle costs
     * the same there at 100 or 20,000 workers. Heartbeats per page and during each query.
     */
    async monitorQueue(input: { harvesterID: string; queueName: string }): Promise<MonitorQueueSummary> {
      const summary: MonitorQueueSummary = {
        ok: true,
        error: '',
        statusCalls: 0,
        checked: 0,
        changed: 0,
        signalled: 0,
        adopted: 0,
        unknownCount: 0,
        edgeTaskQueues: [],
      };
      const ctx = { registry: deps.registry, harvesterID: input.harvesterID, queueName: input.queueName };
      const edge = new Set<string>();
      let afterWorkerID = 0;
      for (;;) {
        const page = await listLiveWorkers(deps.db, input.queueName, input.harvesterID, {
          afterWorkerID,
          limit: MONITOR_PAGE_SIZE,
          withBatchIDOnly: true,
        });
        heartbeat({ afterWorkerID, page: page.length });
        const byConfig = new Map<string, WorkerRecord[]>();
        for (const w of page) byConfig.set(w.configID, [...(byConfig.get(w.configID) ?? []), w]);
        for (const [configID, list] of byConfig) {
          const q = await deps.configs.byConfigID(input.queueName, configID);
          const taskQueue = q.temporal.taskQueue ?? deps.centralTaskQueue;
          if (taskQueue !== deps.centralTaskQueue) {
            edge.add(taskQueue);
            continue;
          }
          summary.statusCalls++;
          const r = await withHeartbeats(() =>
            checkBatch(ctx, monitorGroupParams(q), list.map(monitoredRecord)),
          );
          if (!r.ok) {
            summary.ok = false;
            summary.error = r.diag;
            continue;
          }
          summary.checked += list.length;
          summary.unknownCount += r.unknownNow.length;
          const applied = await applyChanges(input.harvesterID, input.queueName, r.changes);
          summary.changed += r.changes.length;
          summary.signalled += applied.signalled;
          summary.adopted += applied.adopted.length;
        }
        if (page.length < MONITOR_PAGE_SIZE) break;
        afterWorkerID = page[page.length - 1].workerID;
      }
      summary.edgeTaskQueues = [...edge].sort();
      return summary;
    },

    /**
     * For an edge queue's monitor: the queue's worker rows that changed for the monitor after
     * afterSeq (from 0: every live worker with a batch job), one page at a time, packed. `horizon`
     * (from the first page's answer) keeps the pages of one sync to one consistent cut.
     */
    async edgeMonitorDelta(input: {
      harvesterID: string;
      queueName: string;
      taskQueue: string;
      afterSeq: number;
      horizon?: number;
    }): Promise<EdgeDeltaPage> {
      const horizon = input.horizon ?? (await monitorSeqHorizon(deps.db));
      const rows = await listMonitorChanges(deps.db, input.queueName, input.harvesterID, {
        afterSeq: input.afterSeq,
        horizon,
        limit: EDGE_DELTA_PAGE_SIZE,
      });
      const complete = rows.length < EDGE_DELTA_PAGE_SIZE;
      const toSeq = complete ? Math.max(horizon, input.afterSeq) : rows[rows.length - 1].seq;
      const routedHere = new Map<string, boolean>();
      const groups: Record<string, MonitorGroupParams> = {};
      for (const configID of await liveConfigIDs(deps.db, input.queueName, input.harvesterID)) {
        const q = await deps.configs.byConfigID(input.queueName, configID);
        const here = (q.temporal.taskQueue ?? deps.centralTaskQueue) === input.taskQueue;
        routedHere.set(configID, here);
        if (here) groups[configID] = monitorGroupParams(q);
      }
      const delta: MonitorDelta = { fromSeq: input.afterSeq, toSeq, upserts: [], removed: [], groups };
      for (const r of rows) {
        if (r.live && routedHere.get(r.worker.configID)) delta.upserts.push(monitoredRecord(r.worker));
        else delta.removed.push(r.worker.workerID);
      }
      return { delta: pack(delta), toSeq, horizon, complete, rows: rows.length };
    },

    /** An edge monitor's changes: recorded in the DB, signalled, orphans adopted (as monitorQueue does). */
    async applyMonitorChanges(input: {
      harvesterID: string;
      queueName: string;
      changes: Packed<WorkerChange[]>;
    }): Promise<{ signalled: number; adopted: number }> {
      const changes = unpack(input.changes, `monitor changes for ${input.queueName}`);
      const r = await applyChanges(input.harvesterID, input.queueName, changes);
      return { signalled: r.signalled, adopted: r.adopted.length };
    },

    /** Tells each changed worker's workflow what the monitor saw; returns how many were told. */
    async signalWorkerChanges(input: {
      harvesterID: string;
      queueName: string;
      changes: WorkerChange[];
    }): Promise<{ signalled: number; notFound: number[]; adopted: number[] }> {
      return signalChanges(input.harvesterID, input.queueName, input.changes);
    },

    /** Remembers when the bulk monitor last got an answer (worker lifecycles read it). */
    async recordMonitorCycle(input: {
      harvesterID: string;
      queueName: string;
      ok: boolean;
      error: string;
    }): Promise<void> {
      harvesterMetrics.monitorCycle(input.queueName, input.ok, input.error);
      const counts = await deps.db.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM workers
         WHERE computing_site = $1 AND harvester_id = $2 AND swept_at IS NULL GROUP BY status`,
        [input.queueName, input.harvesterID],
      );
      harvesterMetrics.workersByStatus(
        input.queueName,
        Object.fromEntries(counts.rows.map((r) => [r.status, r.n])),
      );
      await deps.db.query(
        `UPDATE queues SET
           monitor_last_ok_at = CASE WHEN $3 THEN now() ELSE monitor_last_ok_at END,
           monitor_failures = CASE WHEN $3 THEN 0 ELSE monitor_failures + 1 END,
           updated_at = now()
         WHERE harvester_id = $1 AND queue_name = $2`,
        [input.harvesterID, input.queueName, input.ok],
      );
    },

    /** One submitter cycle's decision: counts (DB) + demand (PanDA) + limits → workers per row. */
    async planSubmission(input: {
      harvesterID: string;
      queueName: string;
      overrides: QueueLimitOverrides;
    }): Promise<SubmissionPlan> {
      const q = deps.configs.queue(input.queueName);
      await deps.configs.register(q);
      const record = await upsertQueue(deps.db, {
        harvesterID: input.harvesterID,
        queueName: q.queueName,
        configID: q.configID,
        siteName: q.siteName,
      });
      const settings: AdjusterSettings = { ...DEFAULT_ADJUSTER_SETTINGS, ...deps.adjusterSettings };
      const o = input.overrides;
      const nullable = (v: number | null | undefined) => v ?? undefined;
      const decision = defineNumWorkers(
        {
          queueName: q.queueName,
          mapType: q.mapType,
          runMode: q.runMode,
          queueStatus: record.pandaStatus ?? q.queueStatus,
          // The operator's overrides (setLimits) win over the config. Two instances sharing a queue
          // get their shares as their own configs from PanDA (HARVESTER_QUEUE_CONFIG_URL).
          limits: {
            maxWorkers: o.maxWorkers ?? q.maxWorkers,
            nQueueLimitWorker: o.nQueueLimitWorker ?? nullable(q.nQueueLimitWorker),
            nQueueLimitWorkerRatio: nullable(q.nQueueLimitWorkerRatio),
            nQueueLimitWorkerMin: nullable(q.nQueueLimitWorkerMin),
            nQueueLimitWorkerMax: nullable(q.nQueueLimitWorkerMax),
            nQueueLimitWorkerCores: nullable(q.nQueueLimitWorkerCores),
            nQueueLimitWorkerCoresRatio: nullable(q.nQueueLimitWorkerCoresRatio),
            nQueueLimitWorkerCoresMin: nullable(q.nQueueLimitWorkerCoresMin),
            nQueueLimitWorkerMemory: nullable(q.nQueueLimitWorkerMemory),
            nQueueLimitWorkerMemoryRatio: nullable(q.nQueueLimitWorkerMemoryRatio),
            nQueueLimitWorkerMemoryMin: nullable(q.nQueueLimitWorkerMemoryMin),
            maxNewWorkersPerCycle: o.maxNewWorkersPerCycle ?? q.maxNewWorkersPerCycle,
          },
          rows: await adjusterRows(q, record.nNewWorkers, input.harvesterID),
          workerCounts: toCounts(await countWorkersByState(deps.db, q.queueName, input.harvesterID)),
          pandaJobStats: await pandaJobStats(q),
          harvesterInstancesOnQueue:
            settings.activateWorkerFactor === 'auto' ? await instancesOnQueue(q) : undefined,
          noPilotsWhenNoActiveJobs: queueNoPilotsWhenNoActiveJobs(q),
          throttler: await throttlerVerdict(q, input.harvesterID),
        },
        settings,
      );
      return {
        configID: q.configID,
        // Harvester's submitter makes nNewWorkers + nReady chunks; the ready ones reuse their
        // workers (late binding), so only nNewWorkers need new ids.
        total: decision.totalNewWorkers,
        nReady: decision.totalWorkersToSubmit - decision.totalNewWorkers,
        rows: decision.rows.map((r) => ({
          jobType: r.jobType,
          resourceType: r.resourceType,
          n: r.nNewWorkers,
        })),
        explanation: decision.explanation,
      };
    },

    /** Ids from the DB sequence; recorded in the queue's history so a retried start reuses them. */
    async allocateWorkerIds(input: { n: number }): Promise<number[]> {
      return allocateWorkerIds(deps.db, input.n);
    },

    /**
     * Late binding: jobs for the queue's `ready` workers (their pilots asked for work). They are bound
     * only after the messenger has fed them (bindJobs): a worker whose feed failed stays `ready`
     * with no job and asks again, and its jobs stay free for the next cycle.
     */
    async prepareReadyWorkers(input: { harvesterID: string; queueName: string; max: number }): Promise<{
      pluginTaskQueue: string;
      messenger: PluginParams;
      workers: WorkSpec[];
      jobs: Record<string, PushJob[]>;
    }> {
      const q = deps.configs.queue(input.queueName);
      const ready = (await listLiveWorkers(deps.db, input.queueName, input.harvesterID))
        .filter((w) => w.status === 'ready' && w.mapType !== 'NoJob')
        .slice(0, input.max);
      const byConfig = new Map<string, WorkerRecord[]>();
      for (const w of ready) byConfig.set(w.configID, [...(byConfig.get(w.configID) ?? []), w]);
      const workers: WorkSpec[] = [];
      const jobs: Record<string, PushJob[]> = {};
      for (const [configID, list] of byConfig) {
        const config = await deps.configs.byConfigID(input.queueName, configID);
        const found = await jobsForWorkers(
          config,
          input.harvesterID,
          list.map((w) => w.workerID),
        );
        for (const w of list) {
          const list2 = found.get(w.workerID);
          if (!list2) continue;
          workers.push({ ...workSpecOf(w), pandaIDs: list2.map((j) => j.PandaID) });
          jobs[String(w.workerID)] = toPushJobs(list2);
        }
      }
      return {
        pluginTaskQueue: q.temporal.taskQueue ?? deps.centralTaskQueue,
        messenger: q.messenger,
        workers,
        jobs,
      };
    },

    /** Late binding: records the jobs the messenger has fed to ready workers (idempotent). */
    async bindJobs(input: { bindings: { workerID: number; pandaIDs: number[] }[] }): Promise<void> {
      for (const b of input.bindings) await bindJobsToWorker(deps.db, b.workerID, b.pandaIDs);
    },

    /**
     * A submitter cycle's submission in one step (the queue workflow's history sees a summary):
     * creates the pending worker rows (push mode: gets their PanDA jobs and binds them), and for a
     * config whose plugins run here, ONE bulk submit_workers call in this process, the outcomes
     * recorded, the lifecycles started past their submit step. For a config on an edge task queue
     * it returns the submission packed for the edge (no DB there), and startQueueWorkers follows.
     *
     * Retry-safe: rows are inserted once; a worker whose batch job an earlier attempt recorded is
     * not submitted again, and a retried attempt looks every other worker up in the batch system
     * first (submitInBulk), covering an attempt that died between sbatch and the record. Heartbeats
     * throughout (PanDA's acquire_jobs, the submit, the starts).
     */
    async submitQueueWorkers(input: {
      harvesterID: string;
      queueName: string;
      configID: string;
      ids: IdRanges;
      rows: SubmissionPlanRow[];
    }): Promise<SubmitQueueStep> {
      const ids = idsOfRanges(input.ids, `submitQueueWorkers ids for ${input.queueName}`);
      const prepared = await withHeartbeats(() => prepareSubmission({ ...input, ids }));
      if (prepared.pluginTaskQueue !== deps.centralTaskQueue) {
        const what = `bulk submission for ${input.queueName}`;
        return {
          edge: {
            taskQueue: prepared.pluginTaskQueue,
            workers: prepared.workers.length,
            submissions: packInChunks(
              prepared.workers,
              (workers): PackedSubmission => ({
                params: prepared.submitter,
                messenger: prepared.messenger,
                workers: compactRecords(workers),
                jobs: prepared.jobs
                  ? Object.fromEntries(
                      workers.map((w) => [String(w.workerID), prepared.jobs?.[String(w.workerID)] ?? []]),
                    )
                  : undefined,
              }),
              (w) => `${what}: worker ${w.workerID} with its jobs`,
            ),
          },
        };
      }
      // Submit, record, start: heartbeating all along (a 1,000-worker cycle takes a while).
      const r = await withHeartbeats(async () => {
        const q = await deps.configs.byConfigID(input.queueName, input.configID);
        const onRecord = new Set(
          (await getWorkers(deps.db, ids))
            .filter((w) => recordedSubmission(workSpecOf(w)))
            .map((w) => w.workerID),
        );
        const toSubmit = prepared.workers.filter((w) => !onRecord.has(w.workerID));
        const outcomes =
          toSubmit.length > 0
            ? await submitInBulk(
                deps.registry,
                {
                  params: prepared.submitter,
                  messenger: prepared.messenger,
                  jobs: prepared.jobs,
                  harvesterID: input.harvesterID,
                  queueName: input.queueName,
                  workers: toSubmit,
                },
                activityInfo().attempt,
              )
            : [];
        await recordOutcomes(q, outcomes);
        return startLifecycles(
          q,
          input.harvesterID,
          ids,
          new Map(outcomes.map((o) => [o.workerID, o])),
          undefined,
        );
      });
      return {
        done: {
          prepared: prepared.workers.length,
          submitted: prepared.workers.length - r.missed - r.selfSubmit,
          ...r,
        },
      };
    },

    /**
     * The end of a submission the central step did not finish: an edge queue's (with the edge's
     * packed outcomes), or any queue's whose bulk submit failed past its retries (no outcomes: each
     * worker without one on record submits itself, looking itself up first). Records the outcomes,
     * starts the lifecycles. Idempotent, so it is retried until the DB and the server take it.
     */
    async startQueueWorkers(input: {
      harvesterID: string;
      queueName: string;
      configID: string;
      ids: IdRanges;
      outcomes?: PackedOutcomes[];
      /** Why outcomes are missing (the bulk submit's error), for the workers' story. */
      submitError?: string;
    }): Promise<SubmitQueueSummary> {
      const what = `submission outcomes for ${input.queueName}`;
      const ids = idsOfRanges(input.ids, `startQueueWorkers ids for ${input.queueName}`);
      const q = await deps.configs.byConfigID(input.queueName, input.configID);
      const outcomes = (input.outcomes ?? []).flatMap((p) => expandRecords(unpack(p, what), what));
      await recordOutcomes(q, outcomes);
      const r = await startLifecycles(
        q,
        input.harvesterID,
        ids,
        new Map(outcomes.map((o) => [o.workerID, o])),
        input.submitError,
      );
      const prepared = r.started + r.alreadyStarted;
      return { prepared, submitted: prepared - r.missed - r.selfSubmit, ...r };
    },

    /**
     * Before submitQueueWorkers (kept for queue histories that already hold this sequence, which
     * replay it): creates the rows and returns whole specs and jobs for the plugin activity.
     */
    async prepareWorkers(input: PrepareSubmissionInput): Promise<PreparedSubmission> {
      return prepareSubmission(input);
    },

    /** Before startQueueWorkers (kept for queue histories in flight): records outcomes, starts lifecycles. */
    async startWorkers(input: {
      harvesterID: string;
      queueName: string;
      configID: string;
      ids: number[];
      submissions?: SubmissionOutcome[];
      submitError?: string;
    }): Promise<{ started: number; alreadyStarted: number; missed: number }> {
      const q = await deps.configs.byConfigID(input.queueName, input.configID);
      await recordOutcomes(q, input.submissions ?? []);
      const r = await startLifecycles(
        q,
        input.harvesterID,
        input.ids,
        new Map((input.submissions ?? []).map((o) => [o.workerID, o])),
        input.submitError,
      );
      return { started: r.started, alreadyStarted: r.alreadyStarted, missed: r.missed };
    },

    /** The queue-level settings the queue workflow needs at start. */
    async queueSettings(input: { queueName: string }) {
      const q = deps.configs.queue(input.queueName);
      return {
        submitterIntervalSeconds: q.temporal.submitterIntervalSeconds,
        monitorIntervalSeconds: q.temporal.monitorIntervalSeconds,
        maxConsecutiveMonitorFailures: q.temporal.maxConsecutiveMonitorFailures,
        autoResumeAfterMonitorRecovery: q.temporal.autoResumeAfterMonitorRecovery,
      };
    },

    /** Current queue record, for the CLI and tests. */
    async getQueueRecord(input: { harvesterID: string; queueName: string }) {
      return getQueue(deps.db, input.harvesterID, input.queueName);
    },
  };
}

export type QueueCentralActivities = ReturnType<typeof createQueueCentralActivities>;
