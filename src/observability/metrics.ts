/**
 * Harvester's own Prometheus metrics, recorded through the Temporal runtime's meter so they are
 * served on the same endpoint as the SDK's (HARVESTER_METRICS_PORT, path /metrics). Without an
 * exporter configured the meter is a no-op, so callers record unconditionally.
 *
 * Inside an activity the activity's meter is used (its series carry the activity's namespace,
 * task queue and type). Outside one (PanDA calls made by the process itself, unit tests) the
 * process meter is used, which installTemporalLogging sets when it configures the exporter.
 */
import { Context } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import { WORKER_STATUSES } from '../core/workerStatus';
import type { PluginResult } from '../plugins/types';

let processMeter: MetricMeter | undefined;

/** The meter for records made outside an activity; undefined drops them (no exporter). */
export function setProcessMetricMeter(meter: MetricMeter | undefined): void {
  processMeter = meter;
}

function meter(): MetricMeter | undefined {
  try {
    // Context.current() throws outside an activity; `metricMeter` of @temporalio/activity would
    // only throw later, on its first create call.
    return Context.current().metricMeter;
  } catch {
    return processMeter;
  }
}

/**
 * Bucket bounds of harvester's histograms, which record seconds: the runtime's default buckets
 * (50 … 10000) are meant for milliseconds and would put every PanDA call in the first one.
 * PanDA calls time out after 180 s (Harvester's default); heartbeats are due every few minutes.
 */
export const HISTOGRAM_BUCKETS_SECONDS: Record<string, number[]> = {
  harvester_panda_call_seconds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
  harvester_heartbeat_lag_seconds: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
};

/** What failed, for harvester_failures. */
export type FailedOperation = 'submission' | 'status_query' | 'kill';

/**
 * Why a worker's submission failed, as far as the code that records it knows: the bulk submission
 * said the failure was temporary (the jobs go back to the next cycle) or not; a worker that had
 * to submit itself (no bulk outcome) only knows it failed.
 */
export type SubmissionFailureReason = 'temporary' | 'permanent' | 'own_submission';

export type SubmissionOutcome =
  | { outcome: 'submitted' }
  | { outcome: 'missed'; reason: SubmissionFailureReason };

/** Low-cardinality reason of a failed bulk status query: its message is free text, unfit as a label. */
export function statusQueryFailureReason(error: string): 'timeout' | 'error' {
  return /timed? ?out|deadline/i.test(error) ? 'timeout' : 'error';
}

function recordFailure(queue: string, operation: FailedOperation, reason: string): void {
  meter()
    ?.createCounter('harvester_failures', 'failures', 'failed operations by queue, operation and reason')
    .add(1, { queue, operation, reason });
}

export const harvesterMetrics = {
  workersStarted(queue: string, n: number): void {
    meter()
      ?.createCounter('harvester_workers_started', 'workers', 'worker lifecycles started')
      .add(n, { queue });
  },
  /**
   * One worker's submission outcome. Call it exactly once per worker: where its DB row leaves
   * `pending` (recordSubmission's `changed`), which happens once whichever path writes it first.
   * A missed worker is also a failure of operation `submission`, by reason.
   */
  submissionOutcome(queue: string, result: SubmissionOutcome): void {
    meter()
      ?.createCounter('harvester_submissions', 'workers', 'submission outcomes, one per worker')
      .add(1, { queue, outcome: result.outcome });
    if (result.outcome === 'missed') recordFailure(queue, 'submission', result.reason);
  },
  /** A failed operation, by reason: submissions (missed workers), bulk status queries, kills. */
  failure: recordFailure,
  /**
   * A bulk kill's results (the sweeper's killWorkers, one per worker): each one that failed is a
   * `kill` failure, by the plugin's verdict (temporary: retried next sweeper interval; permanent).
   */
  killResults(queue: string, results: readonly Pick<PluginResult, 'outcome'>[]): void {
    for (const r of results) {
      if (r.outcome === 'temporaryFailure') recordFailure(queue, 'kill', 'temporary');
      else if (r.outcome === 'permanentFailure') recordFailure(queue, 'kill', 'permanent');
    }
  },
  killRequested(queue: string, source: string): void {
    meter()
      ?.createCounter('harvester_kills', 'workers', 'kills requested, by reason')
      .add(1, { queue, source });
  },
  /**
   * Workers of a queue by status. Every status is set on every call, 0 when absent from `counts`:
   * a status whose last worker went away would otherwise keep its last value for ever.
   */
  workersByStatus(queue: string, counts: Readonly<Record<string, number>>): void {
    const gauge = meter()?.createGauge(
      'harvester_workers',
      'int',
      'workers',
      'workers not yet swept, by queue and status',
    );
    if (!gauge) return;
    for (const status of WORKER_STATUSES) gauge.set(counts[status] ?? 0, { queue, status });
    // A status this build does not know (a newer schema) is still shown rather than dropped.
    for (const [status, n] of Object.entries(counts)) {
      if (!(WORKER_STATUSES as readonly string[]).includes(status)) gauge.set(n, { queue, status });
    }
  },
  /** Every PanDA call's latency, by endpoint (recorded by the transport, whatever its outcome). */
  pandaCall(endpoint: string, seconds: number): void {
    meter()
      ?.createHistogram('harvester_panda_call_seconds', 'float', 's', 'PanDA call latency')
      .record(Math.max(0, seconds), { endpoint });
  },
  /** A failed PanDA call, by endpoint and PandaError kind (transport, timeout, http, auth, malformed, rejected). */
  pandaCallError(endpoint: string, kind: string): void {
    meter()
      ?.createCounter('harvester_panda_call_errors', 'calls', 'failed PanDA calls, by endpoint and kind')
      .add(1, { endpoint, kind });
  },
  heartbeatLag(queue: string, seconds: number): void {
    meter()
      ?.createHistogram(
        'harvester_heartbeat_lag_seconds',
        'float',
        's',
        'delay of a heartbeat report past its due time',
      )
      .record(Math.max(0, seconds), { queue });
  },
  /** One bulk status query; a failed one is also a failure of operation `status_query`. */
  monitorCycle(queue: string, ok: boolean, error = ''): void {
    meter()
      ?.createCounter('harvester_monitor_cycles', 'cycles', 'bulk status queries')
      .add(1, { queue, ok: String(ok) });
    if (!ok) recordFailure(queue, 'status_query', statusQueryFailureReason(error));
  },
};
