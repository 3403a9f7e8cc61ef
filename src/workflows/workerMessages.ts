/**
 * Messages of the worker lifecycle workflow, shared by the workflow, the activities that signal
 * it, the CLI and the tests. Operators can send the same from the `temporal` CLI:
 *   temporal workflow signal --workflow-id worker-<instance>-<queue>-<id> --name kill --input '{"reason":"..."}'
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PushJob, SubmissionOutcome } from '../activities/lifecycleTypes';
import type { WorkerChange } from '../core/monitorDiff';
import type { WorkSpec } from '../core/specs';
import type { KillReason } from '../core/stuckRules';
import type { WorkerPolicy } from '../core/workerPolicy';
import type { WorkerStatus } from '../core/workerStatus';

/**
 * `worker-<instance>-<queue>-<workerID>`. Worker ids come from each instance's own DB sequence, so
 * the instance is part of the id: two instances serving one queue in one namespace never collide.
 */
export function workerWorkflowId(harvesterID: string, queueName: string, workerID: number): string {
  return `worker-${harvesterID}-${queueName}-${workerID}`;
}

/** Who or what asked for a kill (operator, PanDA, or which stuck rule); recorded on the worker and in its search attributes. */
export type KillSource = KillReason;

export interface KillRequest {
  /** Free text: why. From the CLI this is the only field needed. */
  reason: string;
  source?: KillSource;
  requestedBy?: string;
}

/**
 * What the queue monitor saw in the batch system for one worker. Sent only when something changed:
 * the status, the native status (e.g. held), or whether the status could be told at all.
 */
/** What the queue's monitor tells a worker: its change (core/monitorDiff) and when it was seen. */
export type WorkerStatusReport = Omit<WorkerChange, 'workerID'> & {
  /** When the monitor observed it (ISO). */
  observedAt: string;
};

export interface KillState {
  reason: string;
  source: KillSource;
  requestedAt: string;
  attempts: number;
  lastAttemptAt?: string;
  lastResult?: string;
}

export type LifecyclePhase = 'submitting' | 'active' | 'reporting-final' | 'keeping' | 'sweeping' | 'done';

/** The sweep (clean-up after the keep time), retried every sweeper interval until it is done. */
export interface SweepState {
  attempts: number;
  lastAttemptAt?: string;
  /** The latest failure, kept after a later success for the record. */
  lastError?: string;
  /** success, or permanentFailure: the plugin said retrying cannot help; marked swept anyway. */
  outcome?: 'success' | 'permanentFailure';
}

export interface WorkerLifecycleState {
  worker: WorkSpec;
  phase: LifecyclePhase;
  kill?: KillState;
  /** Last time the worker's status was known for sure (submission or a conclusive monitor report). */
  lastCheckedAt: string;
  /** The latest monitor report could not tell the status, or the queue's monitor has been silent past checkTimeout. */
  statusUnknown: boolean;
  /** statusUnknown was set because the queue's monitor went silent (not by the monitor's own "cannot tell"). */
  monitorSilent?: boolean;
  /** Last time this worker asked how long the queue's monitor has been silent (a report, or the safety check). */
  monitorCheckedAt?: string;
  /** Since when the batch system reports the job held. */
  heldSince?: string;
  lastHeartbeatAt?: string;
  nextHeartbeatAt?: string;
  heartbeatsSent: number;
  reportsSent: number;
  /** Reports to PanDA queued in this run and not yet delivered. */
  pendingReports: number;
  sweepAfter?: string;
  sweep?: SweepState;
}

export interface WorkerLifecycleInput {
  worker: WorkSpec;
  policy: WorkerPolicy;
  /** Present after continue-as-new. */
  state?: WorkerLifecycleState;
  /**
   * Push mode (mapType other than NoJob): the PanDA jobs bound to this worker, fed into its access
   * point before submission. Not carried over continue-as-new: feeding happens before submission.
   */
  jobs?: PushJob[];
  /**
   * Set when the queue submitted the worker in bulk: the lifecycle starts past its submit step
   * with this outcome. Absent: the lifecycle submits the worker itself.
   */
  submission?: SubmissionOutcome;
  /** Submitting itself after a bulk submit failed: look the worker up in the batch system first. */
  lookupBeforeSubmit?: boolean;
  /**
   * Continue as new once a run's history holds this many events, besides when the server suggests
   * it. Tests set a small number so that the watch loop continues as new on every wake-up (a kill
   * pending across runs); unset in production.
   */
  continueAsNewAfterEvents?: number;
}

export type WorkerStatusView = WorkerLifecycleState & { queueName: string; workflowHistoryLength: number };

export const statusChangedSignal = defineSignal<[WorkerStatusReport]>('statusChanged');
export const killSignal = defineSignal<[KillRequest]>('kill');
/**
 * Kill signals in flight at once when many workers are killed (a PanDA kill command, `workers
 * kill` with a filter): fast enough that their kill activities meet in a few sweeper batches,
 * bounded so that the server is not flooded.
 */
export const KILL_SIGNAL_CONCURRENCY = 20;
/** The same kill, for callers that want an answer: rejected (no history) when the worker is already final. */
export const killUpdate = defineUpdate<{ accepted: true; status: WorkerStatus }, [KillRequest]>('kill');
export const statusQuery = defineQuery<WorkerStatusView>('status');
