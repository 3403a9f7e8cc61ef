/**
 * Plugin activities: the only code that touches a batch system. They run wherever the queue's
 * config routes them (an edge worker next to the batch system, or the central worker), need no
 * DB, and receive the plugin section of the queue config with every call.
 */

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { compactRecords, expandRecords } from '../core/compactRecords';
import {
  applyDelta,
  deltaApplies,
  type EdgeMirror,
  type MonitorDelta,
  monitorBatches,
} from '../core/edgeMirror';
import type { WorkerChange } from '../core/monitorDiff';
import type { JobSpec, WorkSpec } from '../core/specs';
import { harvesterMetrics } from '../observability/metrics';
import { writeFileAtomic } from '../plugins/common/files';
import type { PluginRegistry } from '../plugins/registry';
import type { PluginKind, PluginKinds, PluginResult, SubmitResult } from '../plugins/types';
import { KeyedBatcher } from '../util/keyedBatcher';
import { type Packed, pack, unpack } from '../util/packed';
import { MONITOR_PAGE_SIZE } from '../workflows/queueMessages';
import type {
  BulkSubmitCall,
  FeedJobsCall,
  FeedWorkersCall,
  PackedOutcomes,
  PackedSubmitCall,
  PilotJobAttributes,
  PluginCall,
  PushJob,
  SubmissionOutcome,
  WorkerPluginCall,
  WorkersPluginCall,
} from './lifecycleTypes';
import { checkBatch } from './monitorCheck';

export const PERMANENT_PLUGIN_FAILURE = 'PermanentPluginFailure';

/**
 * The pilot's reports go into workflow history once per worker; an ATLAS jobReport.json can be
 * large, so above this size its metaData is cut down to the part PanDA's Adder needs (`files`).
 */
const MAX_PILOT_REPORT_CHARS = 256 * 1024;

function trimPilotReport(pandaID: string, attrs: Record<string, unknown>): Record<string, unknown> {
  if (JSON.stringify(attrs).length <= MAX_PILOT_REPORT_CHARS) return attrs;
  const meta = attrs.metaData as { files?: unknown } | undefined;
  log.warn('pilot job report too large for workflow history: metaData cut down to its files', {
    PandaID: pandaID,
  });
  return { ...attrs, metaData: meta && typeof meta === 'object' ? { files: meta.files } : undefined };
}

/**
 * How kills of one queue are gathered into one sweeper call (Harvester's kill_workers(list)): every
 * lifecycle still runs its own kill activity (its story stays in its own history), and the
 * activities that reach this process close together share one killWorkers call: one scancel per
 * cluster and argv chunk, one condor_rm per schedd. A lone kill waits only the idle gap.
 * docs/decisions.md "Bulk kills" has the why and the measured figures.
 */
export const KILL_BATCH = {
  /** A lone kill (or the end of a burst) goes out after this long without another kill. */
  idleMs: 300,
  /** A steady stream of kills goes out at least this often: the most a lone kill waits for batch mates. */
  windowMs: 1000,
  /**
   * Ten kills within that window are a bulk kill (a KILL_WORKERS command, `workers kill` with a
   * filter): its lifecycles reach their kill activities over many seconds, so the batch waits up
   * to 5 s (1 s of quiet) and goes out in a few calls; every kill still ends well within a minute.
   */
  burst: { afterItems: 10, windowMs: 5000, idleMs: 1000 },
  /**
   * At most this many workers per sweeper call (the plugins chunk their own argv below it). A
   * waiting kill holds its activity slot, so a batch is also cut at the process's slots (deps).
   */
  maxItems: 5000,
} as const;

export interface PluginActivityDeps {
  registry: PluginRegistry;
  /**
   * Where this host keeps its mirrors of edge queues' live workers (one JSON file per queue);
   * default <HARVESTER_DATA_DIR>/edge-monitor. Losing it costs one full resync, nothing else.
   */
  mirrorDir?: string;
  /**
   * The activity slots of the worker process these activities run in (maxConcurrentActivityTask-
   * Executions). A kill batch that fills them cannot grow (no further kill can start here), so it
   * goes out at once instead of waiting for the idle gap. Unset: KILL_BATCH.maxItems.
   */
  activitySlots?: number;
}

/** One cycle of an edge queue's bulk monitor: the delta to apply, and whether to check after it. */
export interface EdgeMonitorCall {
  harvesterID: string;
  queueName: string;
  mirrorID: string;
  delta: Packed<MonitorDelta>;
  /** False for the pages of a delta before its last: apply only. */
  check: boolean;
}

export interface EdgeMonitorReply {
  /** The delta did not fit this host's mirror (none, another host's, behind): sync from 0. */
  resync: boolean;
  ok: boolean;
  diag: string;
  statusCalls: number;
  checked: number;
  /** The changes (WorkerChange[]) to record and signal; `changed` says how many. */
  changes?: Packed<WorkerChange[]>;
  changed: number;
  unknownCount: number;
}

/**
 * Heartbeats while a plugin call runs, so that when an edge process dies mid-call the server
 * notices within the heartbeat timeout (seconds), not the start-to-close timeout (minutes),
 * and the retry (which first looks the worker up in the batch system) runs elsewhere soon.
 */
export async function withHeartbeats<T>(fn: () => Promise<T>): Promise<T> {
  heartbeat();
  const timer = setInterval(() => heartbeat(), 3000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

interface KillItem {
  call: PluginCall;
  worker: WorkSpec;
}

export function createPluginActivities(deps: PluginActivityDeps) {
  const mirrorDir = deps.mirrorDir ?? path.join(process.env.HARVESTER_DATA_DIR || '.data', 'edge-monitor');

  /**
   * Kills waiting for their batch mates, keyed by queue and sweeper section (workers of one key
   * can go into one sweeper call). Each kill activity keeps heartbeating while it waits, so a dead
   * process is still noticed per worker within the heartbeat timeout.
   */
  const killBatcher = new KeyedBatcher<KillItem, PluginResult>({
    ...KILL_BATCH,
    maxItems: Math.min(KILL_BATCH.maxItems, deps.activitySlots ?? KILL_BATCH.maxItems),
    flush: async (_key, items) => {
      const results = await plugin('sweeper', items[0].call).killWorkers(items.map((i) => i.worker));
      if (results.length !== items.length)
        throw new Error(
          `sweeper ${items[0].call.params.module}/${items[0].call.params.name} returned ${results.length} results for ${items.length} workers`,
        );
      harvesterMetrics.killResults(items[0].call.queueName, results);
      return results;
    },
  });
  const killBatchKey = (call: PluginCall) => JSON.stringify([call.harvesterID, call.queueName, call.params]);

  function plugin<K extends PluginKind>(kind: K, call: PluginCall, submitAttempt?: number): PluginKinds[K] {
    return createPlugin(deps.registry, kind, call, submitAttempt);
  }

  return {
    /**
     * Submits one worker. A retry first looks the worker id up in the batch system, so an attempt
     * that died after sbatch/condor_submit but before reporting never makes a second batch job.
     */
    async submitWorker(call: WorkerPluginCall): Promise<SubmitResult> {
      return withHeartbeats(() => submitOne(call));
    },

    /**
     * The queue's bulk submission: Harvester's submit_workers for the whole cycle (one cluster
     * condor_submit, parallel sbatch), instead of one activity per worker. Never makes two batch
     * jobs for one worker: a retried attempt (or a repeated cycle) first looks every worker up by
     * the worker id in its job name, and a worker whose submit failed ambiguously (a timeout may
     * have submitted it) is looked up again before it is called failed.
     */
    async submitWorkers(call: BulkSubmitCall): Promise<SubmissionOutcome[]> {
      return withHeartbeats(() => submitBulk(call));
    },

    /**
     * An edge queue's bulk submission, packed both ways (lifecycleTypes PackedSubmission): what
     * crosses the queue workflow's history is the common part once and per worker what differs,
     * and back only the outcomes. Retried attempts look the workers up first (submitInBulk).
     */
    async submitPackedWorkers(call: PackedSubmitCall): Promise<PackedOutcomes> {
      const what = `bulk submission for ${call.queueName}`;
      const s = unpack(call.submission, what);
      const workers = expandRecords(s.workers, `${what}: workers`);
      const outcomes = await withHeartbeats(() =>
        submitBulk({
          params: s.params,
          messenger: s.messenger,
          jobs: s.jobs,
          harvesterID: call.harvesterID,
          queueName: call.queueName,
          workers,
        }),
      );
      return pack(compactRecords(outcomes));
    },

    /**
     * The bulk monitor of a queue whose plugins run here (an edge node): applies the delta of
     * changed worker rows to this host's mirror of the queue's live workers, then (on the delta's
     * last page) runs the bulk status query over the mirror and returns only the changes. No
     * worker list travels through the queue workflow's history (core/edgeMirror).
     */
    async monitorEdgeQueue(call: EdgeMonitorCall): Promise<EdgeMonitorReply> {
      return withHeartbeats(() => monitorEdge(call));
    },

    /**
     * Late binding: the queue found jobs for workers whose pilots asked for one; the messenger
     * writes them where each pilot looks (bulk feed_jobs). Returns the workers that got theirs.
     */
    async feedWorkers(call: FeedWorkersCall): Promise<number[]> {
      return withHeartbeats(async () => {
        const fed: number[] = [];
        for (const w of call.workers) {
          const jobs = call.jobs[String(w.workerID)];
          if (!jobs || jobs.length === 0) continue;
          try {
            await feed(call, w, jobs);
            fed.push(w.workerID);
          } catch (err) {
            log.warn('feeding jobs to a ready worker failed; the next cycle feeds it again', {
              workerID: w.workerID,
              error: (err as Error).message,
            });
          }
        }
        return fed;
      });
    },

    /**
     * Kills the given workers (a lifecycle sends its own one): they join the kills of the same queue
     * arriving here within the batch window, and all go out in one sweeper call (one scancel /
     * condor_rm). Each worker's own outcome comes back; a failed one is retried by its lifecycle.
     */
    async killWorkers(call: WorkersPluginCall): Promise<PluginResult[]> {
      const key = killBatchKey(call);
      const { workers, ...rest } = call;
      return withHeartbeats(() =>
        Promise.all(workers.map((worker) => killBatcher.add(key, { call: rest, worker }))),
      );
    },

    /**
     * Push mode, before submission (Harvester's submitter step 7): the messenger prepares the
     * worker's access point and writes the job description where the pilot looks for it.
     */
    async feedJobs(call: FeedJobsCall): Promise<void> {
      await withHeartbeats(() => feed(call, call.worker, call.jobs));
    },

    /**
     * Push mode, once the worker is final: what the pilot left in the access point (work
     * attributes, job report with output files), keyed by PandaID, for the final job report.
     */
    async getWorkAttributes(call: WorkerPluginCall): Promise<PilotJobAttributes> {
      const all = await withHeartbeats(() => plugin('messenger', call).getWorkAttributes(call.worker));
      const out: PilotJobAttributes = {};
      for (const [pandaID, attrs] of Object.entries(all)) {
        if (typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs))
          out[pandaID] = trimPilotReport(pandaID, attrs as Record<string, unknown>);
      }
      return out;
    },

    async sweepWorker(call: WorkerPluginCall): Promise<PluginResult> {
      const result = await withHeartbeats(() => plugin('sweeper', call).sweepWorker(call.worker));
      if (result.outcome === 'temporaryFailure')
        throw ApplicationFailure.retryable(result.diag || 'sweep failed');
      return result;
    },
  };

  function mirrorFile(harvesterID: string, queueName: string): string {
    // Queue and instance names are PanDA's; keep them from reaching outside the folder.
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
    return path.join(mirrorDir, `${safe(harvesterID)}__${safe(queueName)}.json`);
  }

  async function readMirror(file: string): Promise<EdgeMirror | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as EdgeMirror;
    } catch (err) {
      log.warn('edge monitor mirror unreadable: a full resync follows', {
        file,
        error: (err as Error).message,
      });
      return undefined;
    }
  }

  async function monitorEdge(call: EdgeMonitorCall): Promise<EdgeMonitorReply> {
    const reply: EdgeMonitorReply = {
      resync: false,
      ok: true,
      diag: '',
      statusCalls: 0,
      checked: 0,
      changed: 0,
      unknownCount: 0,
    };
    const file = mirrorFile(call.harvesterID, call.queueName);
    const delta = unpack(call.delta, `monitorEdgeQueue delta for ${call.queueName}`);
    const before = await readMirror(file);
    if (!deltaApplies(before, call.mirrorID, delta)) return { ...reply, resync: true };
    const mirror = applyDelta(before, call.mirrorID, delta);
    await mkdir(mirrorDir, { recursive: true });
    await writeFileAtomic(file, JSON.stringify(mirror));
    if (!call.check) return reply;
    const ctx = { registry: deps.registry, harvesterID: call.harvesterID, queueName: call.queueName };
    const { batches, configsWithoutParams } = monitorBatches(mirror, MONITOR_PAGE_SIZE);
    if (configsWithoutParams.length > 0) {
      reply.ok = false;
      reply.diag = `no monitor section sent for config(s) ${configsWithoutParams.join(', ')}`;
    }
    const changes: WorkerChange[] = [];
    for (const batch of batches) {
      reply.statusCalls++;
      const r = await checkBatch(ctx, mirror.groups[batch.configID], batch.workers);
      if (!r.ok) {
        reply.ok = false;
        reply.diag = r.diag;
        continue;
      }
      reply.checked += batch.workers.length;
      reply.unknownCount += r.unknownNow.length;
      changes.push(...r.changes);
    }
    reply.changed = changes.length;
    if (changes.length > 0) reply.changes = pack(changes);
    return reply;
  }

  /** Push mode: the messenger prepares the access point and writes the jobs (Harvester's feed_jobs). */
  function feed(call: PluginCall, worker: WorkSpec, jobs: PushJob[]): Promise<void> {
    return feedJobsOf(deps.registry, call, worker, jobs);
  }

  function submitBulk(call: BulkSubmitCall): Promise<SubmissionOutcome[]> {
    return submitInBulk(deps.registry, call, activityInfo().attempt);
  }

  async function submitOne(call: WorkerPluginCall): Promise<SubmitResult> {
    const submitter = plugin('submitter', call, activityInfo().attempt);
    if ((activityInfo().attempt > 1 || call.lookupFirst) && submitter.findSubmittedWorkers) {
      const found = (await submitter.findSubmittedWorkers([call.worker])).get(call.worker.workerID);
      if (found?.batchID) {
        log.info('retried submit found the existing batch job', {
          workerID: call.worker.workerID,
          batchID: found.batchID,
        });
        return { ...found, outcome: 'success', diag: found.diag ?? '' };
      }
    }
    const [result] = await submitter.submitWorkers([call.worker]);
    if (!result) throw new Error(`submitter ${call.params.module}/${call.params.name} returned no result`);
    if (result.outcome === 'permanentFailure') {
      throw ApplicationFailure.nonRetryable(result.diag || 'submission failed', PERMANENT_PLUGIN_FAILURE);
    }
    if (result.outcome === 'temporaryFailure')
      throw ApplicationFailure.retryable(result.diag || 'submission failed');
    return result;
  }
}

/** A plugin of the queue's config; a config naming an unknown plugin fails for good (no retry helps). */
export function createPlugin<K extends PluginKind>(
  registry: PluginRegistry,
  kind: K,
  call: PluginCall,
  submitAttempt?: number,
): PluginKinds[K] {
  try {
    return registry.create(kind, call.params, {
      harvesterID: call.harvesterID,
      queueName: call.queueName,
      submitAttempt,
    });
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'PluginConfigError');
  }
}

/** Push mode: the messenger prepares the access point and writes the jobs (Harvester's feed_jobs). */
export async function feedJobsOf(
  registry: PluginRegistry,
  call: PluginCall,
  worker: WorkSpec,
  jobs: PushJob[],
): Promise<void> {
  const messenger = createPlugin(registry, 'messenger', call);
  const bound = { ...worker, pandaIDs: jobs.map((j) => j.PandaID) };
  if (!(await messenger.setupAccessPoints([bound])))
    throw ApplicationFailure.retryable(`setup_access_points failed for worker ${worker.workerID}`);
  const specs: JobSpec[] = jobs.map((j) => ({
    PandaID: j.PandaID,
    status: 'starting',
    subStatus: 'prepared',
    computingSite: worker.computingSite,
    jobParams: j.jobParams,
    jobAttributes: {},
  }));
  if (!(await messenger.feedJobs(bound, specs)))
    throw ApplicationFailure.nonRetryable(
      `feed_jobs failed for worker ${worker.workerID}`,
      PERMANENT_PLUGIN_FAILURE,
    );
}

/**
 * Harvester's submit_workers for a cycle's workers, wherever it runs (the plugin activity on an
 * edge node, or the central submitter step in process). Never makes two batch jobs for one worker:
 * a repeated attempt (attempt > 1, or lookupFirst) first looks every worker up by the worker id in
 * its job name, and a worker whose submit failed ambiguously (a timeout may have submitted it) is
 * looked up again before it is called failed.
 */
export async function submitInBulk(
  registry: PluginRegistry,
  call: BulkSubmitCall,
  attempt: number,
): Promise<SubmissionOutcome[]> {
  // The lookup is done here, once for the batch, so the submitter is told this is a first try.
  const submitter = createPlugin(registry, 'submitter', call, 1);
  const outcomes = new Map<number, SubmissionOutcome>();
  const toOutcome = (workerID: number, r: SubmitResult): SubmissionOutcome =>
    r.outcome === 'success'
      ? {
          workerID,
          outcome: 'success',
          diag: r.diag ?? '',
          batchID: r.batchID,
          submissionHost: r.submissionHost,
          computingElement: r.computingElement,
          queueName: r.queueName,
          submittedAt: new Date().toISOString(),
        }
      : {
          workerID,
          outcome: 'failure',
          diag: r.diag || 'submission failed',
          temporary: r.outcome === 'temporaryFailure',
        };

  if ((attempt > 1 || call.lookupFirst) && submitter.findSubmittedWorkers) {
    // A failed lookup throws: submitting blind could make a second job for a worker.
    const found = await submitter.findSubmittedWorkers(call.workers);
    for (const [workerID, r] of found)
      outcomes.set(workerID, toOutcome(workerID, { ...r, outcome: 'success' }));
    if (found.size > 0) log.info('repeated submission found existing batch jobs', { found: found.size });
  }

  const ready: WorkSpec[] = [];
  for (const w of call.workers) {
    if (outcomes.has(w.workerID)) continue;
    const jobs = call.jobs?.[String(w.workerID)];
    if (jobs && jobs.length > 0) {
      try {
        if (!call.messenger) throw new Error(`push-mode queue ${call.queueName} has no messenger section`);
        await feedJobsOf(registry, { ...call, params: call.messenger }, w, jobs);
      } catch (err) {
        // The worker cannot start without its jobs: missed, like a failed submission.
        outcomes.set(w.workerID, {
          workerID: w.workerID,
          outcome: 'failure',
          diag: (err as Error).message,
        });
        continue;
      }
    }
    ready.push(w);
  }

  const results = ready.length > 0 ? await submitter.submitWorkers(ready) : [];
  if (results.length !== ready.length)
    throw new Error(
      `submitter ${call.params.module}/${call.params.name} returned ${results.length} results for ${ready.length} workers`,
    );
  const unsure: WorkSpec[] = [];
  results.forEach((r, i) => {
    const w = ready[i];
    if (r.outcome === 'temporaryFailure' && submitter.findSubmittedWorkers) unsure.push(w);
    outcomes.set(w.workerID, toOutcome(w.workerID, r));
  });
  if (unsure.length > 0) {
    // A timed-out sbatch may have made the job after all: look before calling the worker missed.
    const found = await submitter.findSubmittedWorkers!(unsure);
    for (const [workerID, r] of found)
      outcomes.set(workerID, toOutcome(workerID, { ...r, outcome: 'success' }));
  }
  const list = call.workers.map((w) => outcomes.get(w.workerID) as SubmissionOutcome);
  const failed = list.filter((o) => o.outcome === 'failure').length;
  log.info('bulk submission done', {
    queueName: call.queueName,
    workers: list.length,
    failed,
    attempt,
  });
  return list;
}

export type PluginActivities = ReturnType<typeof createPluginActivities>;
