/**
 * Central activities of the worker lifecycle: record what happened in the harvester DB, and
 * report it to PanDA. Reports of many workers of one queue that arrive together (state changes,
 * and heartbeats that the lifecycle aligns to the queue's ticks) go out as one bulk call.
 */
import { hostname } from 'node:os';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { syncLevelFor, toPandaWorkerReport } from '../core/pandaReport';
import { mergeJobAttributes } from '../db/jobs';
import type { Db } from '../db/pool';
import {
  markSwept,
  markWorkersReported,
  markWorkersToKill,
  recordSubmission,
  recordWorkerStatus,
} from '../db/workers';
import { harvesterMetrics } from '../observability/metrics';
import type { PandaCommunicator } from '../panda/client';
import type { WorkerUpdate } from '../panda/types';
import { KeyedBatcher } from '../util/keyedBatcher';
import { reportJobsOfWorkers } from './jobReports';
import type { RecordWorkerInput, ReportWorkerInput, ReportWorkerResult } from './lifecycleTypes';

export interface LifecycleCentralDeps {
  db: Db;
  harvesterID: string;
  /** Absent = no PanDA server configured: reports are recorded in the DB only (demo without PanDA). */
  panda?: PandaCommunicator;
  /** How long reports of one queue wait for batch mates; 0 disables batching (tests of single calls). */
  reportBatchWindowMs?: number;
}

/** PanDA takes at most 100 workers per update_workers call. */
const MAX_REPORTS_PER_CALL = 100;

export function createLifecycleCentralActivities(deps: LifecycleCentralDeps) {
  const harvesterHost = hostname();

  /**
   * Seconds since the queue's bulk monitor last succeeded, in the DB's clock (so skew between hosts
   * cannot fake it); undefined when it never has (or the queue has no row yet).
   */
  async function monitorSilentSecondsOf(queueName: string): Promise<number | undefined> {
    const monitor = await deps.db.query<{ silent: number | null }>(
      `SELECT extract(epoch FROM now() - monitor_last_ok_at)::float8 AS silent
       FROM queues WHERE harvester_id = $1 AND queue_name = $2`,
      [deps.harvesterID, queueName],
    );
    const silent = monitor.rows[0]?.silent;
    return silent === null || silent === undefined ? undefined : Number(silent);
  }

  async function sendReports(queueName: string, items: ReportWorkerInput[]): Promise<ReportWorkerResult[]> {
    const now = new Date();
    const monitorSilentSeconds = await monitorSilentSecondsOf(queueName);
    const results: ReportWorkerResult[] = items.map(() => ({
      killRequested: false,
      detail: '',
      jobsReported: 0,
      monitorSilentSeconds,
    }));
    if (deps.panda) {
      const updates: WorkerUpdate[] = items.map((i) =>
        toPandaWorkerReport(i.worker, {
          harvesterHost,
          syncLevel: syncLevelFor(i.policy.mapType, i.policy.truePilot, i.policy.noHeartbeat.join(',')),
        }),
      );
      // Latency and errors of the call are recorded by the PanDA transport, like every call's.
      const accepted = await deps.panda.updateWorkers(updates);
      const rejected = accepted.flatMap((ok, idx) => (ok ? [] : [items[idx].worker.workerID]));
      if (rejected.length > 0) {
        // PanDA refused these rows; retrying the whole activity sends them again (updates are upserts).
        throw ApplicationFailure.retryable(
          `PanDA rejected update_workers for workers ${rejected.join(', ')} of ${queueName}`,
        );
      }
      const jobResults = await reportJobsOfWorkers(deps.db, deps.panda, items, now);
      jobResults.forEach((r, idx) => {
        results[idx].jobsReported = r.jobsReported;
        if (r.killRequested) {
          results[idx].killRequested = true;
          results[idx].detail = r.detail;
        }
      });
    }
    await markWorkersReported(
      deps.db,
      items.map((i) => ({ workerID: i.worker.workerID, status: i.worker.status })),
      now,
    );
    return results;
  }

  /*
   * Two batchers per queue. Heartbeats come in bursts (a tick's workers wake together): up to 5 s
   * for the burst, flushed 600 ms after it went quiet. State changes should reach PanDA at once:
   * they wait at most 1 s for batch mates (150 ms of quiet). The reports are local activities, so
   * a report waiting here also holds its workflow task; short waits keep the worker's slots free.
   */
  const windowMs = deps.reportBatchWindowMs;
  const heartbeatBatcher = new KeyedBatcher<ReportWorkerInput, ReportWorkerResult>({
    maxItems: MAX_REPORTS_PER_CALL,
    windowMs: windowMs ?? 5000,
    idleMs: windowMs === undefined ? 600 : undefined,
    flush: sendReports,
  });
  const changeBatcher = new KeyedBatcher<ReportWorkerInput, ReportWorkerResult>({
    maxItems: MAX_REPORTS_PER_CALL,
    windowMs: windowMs ?? 1000,
    idleMs: windowMs === undefined ? 150 : undefined,
    flush: sendReports,
  });

  /** Writes the worker's new state to the harvester DB (idempotent: safe to retry). */
  async function record(input: RecordWorkerInput): Promise<void> {
    const w = input.worker;
    switch (input.event) {
      case 'submitted':
      case 'missed': {
        const change = await recordSubmission(deps.db, w.workerID, {
          status: input.event,
          batchID: w.batchID,
          submissionHost: w.submissionHost,
          computingElement: w.computingElement,
          queueName: w.queueName,
          submitTime: w.submitTime ?? new Date(),
          diag: w.diagMessage,
        });
        // Counted where the row leaves `pending`: once per worker, whether the queue's bulk
        // submission (submitQueueWorkers or startQueueWorkers) or this lifecycle recorded it first,
        // and not again on a retry.
        if (change.changed)
          harvesterMetrics.submissionOutcome(
            w.computingSite,
            input.event === 'submitted'
              ? { outcome: 'submitted' }
              : { outcome: 'missed', reason: 'own_submission' },
          );
        return;
      }
      case 'status':
        await recordWorkerStatus(deps.db, w.workerID, {
          status: w.status,
          diag: w.diagMessage,
          nativeStatus: w.nativeStatus,
          nativeExitCode: w.nativeExitCode,
          startTime: w.startTime,
          endTime: w.endTime,
          nodeID: w.nodeID,
          errorCode: w.errorCode,
        });
        return;
      case 'kill-requested':
      case 'kill-attempted':
        if (input.event === 'kill-requested')
          harvesterMetrics.killRequested(w.computingSite, (input.killReason ?? '').split(':')[0]);
        await markWorkersToKill(deps.db, { workerIDs: [w.workerID] }, input.killReason ?? 'unspecified');
        return;
      case 'swept':
        await markSwept(deps.db, w.workerID);
        return;
    }
  }

  return {
    async recordWorker(input: RecordWorkerInput): Promise<void> {
      await record(input);
    },

    /**
     * The lifecycle's safety check between reports (each report brings the same answer): how long
     * the queue's monitor has been silent, so a worker notices a dead monitor within checkTimeout.
     */
    async monitorSilence(input: { queueName: string }): Promise<{ monitorSilentSeconds?: number }> {
      return { monitorSilentSeconds: await monitorSilentSecondsOf(input.queueName) };
    },

    /** Reports one worker (and its jobs, in push mode) to PanDA, batched with its queue mates. */
    async reportWorker(input: ReportWorkerInput): Promise<ReportWorkerResult> {
      // One activity per state change instead of two: the DB first (so counts are current even
      // while PanDA is down), then the batched report.
      if (input.record) await record({ worker: input.worker, event: input.record });
      // Push mode: the pilot's reports join the jobs' attributes before the report is built from
      // them (job status override, metaData, output files). A merge of the same keys is idempotent.
      for (const [pandaID, attrs] of Object.entries(input.jobAttributes ?? {})) {
        await mergeJobAttributes(deps.db, Number(pandaID), attrs);
      }
      if (input.kind === 'heartbeat' && input.dueAt) {
        harvesterMetrics.heartbeatLag(input.policy.queueName, (Date.now() - Date.parse(input.dueAt)) / 1000);
      }
      const batcher = input.kind === 'heartbeat' ? heartbeatBatcher : changeBatcher;
      const result = await batcher.add(input.policy.queueName, input);
      if (result.killRequested)
        log.info('PanDA asked to kill the worker', {
          workerID: input.worker.workerID,
          detail: result.detail,
        });
      return result;
    },
  };
}

export type CentralLifecycleActivities = ReturnType<typeof createLifecycleCentralActivities>;

/** For benchmarks/tests: how many bulk report calls the batcher made. */
export type ReportBatcherStats = { flushCount: number };
