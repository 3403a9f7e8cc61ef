/**
 * Messages of the queue workflow (one per harvester instance and PanDA queue), shared with the
 * CLI and tests. Operators can also use the `temporal` CLI:
 *   temporal workflow update execute --workflow-id queue-<instance>-<queue> --name pause --input '{"reason":"downtime"}'
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export function queueWorkflowId(harvesterID: string, queueName: string): string {
  return `queue-${harvesterID}-${queueName}`;
}

export type QueueMode = 'running' | 'paused' | 'draining';

/** Limits an operator (or PanDA through the instance) sets at run time, over the config's. */
/** Operator overrides of the config's limits; null in a setLimits call clears one (the config's value applies again). */
export interface QueueLimitOverrides {
  maxWorkers?: number | null;
  nQueueLimitWorker?: number | null;
  maxNewWorkersPerCycle?: number | null;
}

export const LIMIT_OVERRIDE_FIELDS = ['maxWorkers', 'nQueueLimitWorker', 'maxNewWorkersPerCycle'] as const;

export interface QueueCycleSummary {
  at: string;
  /** Workers started this cycle. */
  submitted: number;
  /** Why this number: the adjuster's explanation, or why nothing was tried. */
  explanation: string;
}

export interface QueueWorkflowState {
  mode: QueueMode;
  pauseReason?: string;
  /** 'monitor' when the queue paused itself after failed status queries. */
  pausedBy?: 'operator' | 'monitor';
  limitOverrides: QueueLimitOverrides;
  /** False while the last bulk status query failed: counts are unknown, never zero. */
  countsKnown: boolean;
  consecutiveMonitorFailures: number;
  lastMonitorOkAt?: string;
  lastMonitorError?: string;
  /** Workers the last cycle could not tell the status of (which ones: workers.monitor_unknown in the DB). */
  unknownCount: number;
  /**
   * By edge task queue: the sync of that edge host's mirror of the queue's live workers (which
   * mirror, the last change sequence it applied). Small, whatever the number of workers.
   */
  edgeMirrors: Record<string, { mirrorID: string; seq: number }>;
  lastSubmitCycle?: QueueCycleSummary;
  nextSubmitAt: string;
  nextMonitorAt: string;
  /**
   * A submitter cycle was asked for (adjustNow, resume, setLimits) and has not run yet; and why the
   * queue was told to stop. Kept here, not in locals, so continue-as-new carries them: a signal that
   * lands during the last cycle of a run is honoured by the next run.
   */
  adjustNow: boolean;
  stopReason?: string;
  totals: {
    submitCycles: number;
    monitorCycles: number;
    workersStarted: number;
    signalsSent: number;
    statusCalls: number;
    /** Full resyncs of an edge mirror (a new or restarted edge host). */
    edgeResyncs: number;
  };
}

export interface QueueWorkflowInput {
  harvesterID: string;
  queueName: string;
  /** Submitter and monitor cycle lengths and the failure threshold, from the queue config. */
  settings: QueueWorkflowSettings;
  state?: QueueWorkflowState;
  /**
   * The task queue this workflow belongs on: the control task queue (core/taskQueues). A run on
   * another queue moves there at the end of its cycle (continue-as-new). Unset in runs started
   * before the control queue existed: those run on the main queue and move to its control queue.
   */
  controlTaskQueue?: string;
  /**
   * Continue as new once a run's history holds this many events, besides when the server suggests
   * it (limit.historyCount.suggestContinueAsNew). Tests set a small number so that every cycle
   * continues as new; unset in production.
   */
  continueAsNewAfterEvents?: number;
}

/** The queue config's `temporal` settings a queue workflow runs by; the instance sends changes with settingsSignal. */
export interface QueueWorkflowSettings {
  submitterIntervalSeconds: number;
  monitorIntervalSeconds: number;
  maxConsecutiveMonitorFailures: number;
  /** Resume by itself when the batch system answers again after a self-pause. */
  autoResumeAfterMonitorRecovery: boolean;
}

export interface PauseRequest {
  reason: string;
}

export const pauseUpdate = defineUpdate<QueueWorkflowState, [PauseRequest]>('pause');
export const resumeUpdate = defineUpdate<QueueWorkflowState, []>('resume');
export const drainUpdate = defineUpdate<QueueWorkflowState, [PauseRequest]>('drain');
export const setLimitsUpdate = defineUpdate<QueueWorkflowState, [QueueLimitOverrides]>('setLimits');
/**
 * Workers per bulk status call. The pages no longer travel through workflow history (the monitor
 * activities page the DB or an edge mirror themselves); the size bounds one squeue / condor_q
 * command line and one plugin answer. Up to this many live workers a queue's cycle is one status
 * call; a larger queue takes one call per page and config.
 */
export const MONITOR_PAGE_SIZE = 1000;

/** The queue config's settings changed (sent by the instance's queue sync): the next cycles follow them. */
export const settingsSignal = defineSignal<[QueueWorkflowSettings]>('settings');
/** Run a submitter cycle now instead of at the next tick. */
export const adjustNowSignal = defineSignal('adjustNow');
/** The instance stops managing this queue: live workers go on; the queue workflow completes. */
export const stopQueueSignal = defineSignal<[{ reason: string }]>('stop');
export const queueStateQuery = defineQuery<QueueWorkflowState>('state');
