/**
 * Inputs and outputs of the activities the worker lifecycle calls. Kept apart from the
 * implementations so workflow code imports types only.
 */
import type { WorkSpec } from '../core/specs';
import type { WorkerPolicy } from '../core/workerPolicy';
import type { PluginParams } from '../plugins/types';

export interface PluginCall {
  params: PluginParams;
  harvesterID: string;
  queueName: string;
}

export interface WorkerPluginCall extends PluginCall {
  worker: WorkSpec;
}

export interface WorkersPluginCall extends PluginCall {
  workers: WorkSpec[];
}

export type WorkerEventKind =
  | 'submitted'
  | 'missed'
  | 'status'
  | 'kill-requested'
  | 'kill-attempted'
  | 'swept';

export interface RecordWorkerInput {
  worker: WorkSpec;
  event: WorkerEventKind;
  /** Kill bookkeeping, when event is kill-*. */
  killReason?: string;
}

export type ReportKind = 'change' | 'final' | 'heartbeat';

export interface ReportWorkerInput {
  worker: WorkSpec;
  kind: ReportKind;
  /** For heartbeats: when it was due (the lag is a metric). */
  dueAt?: string;
  /** Write this event to the harvester DB first (idempotent), then report. */
  record?: Extract<WorkerEventKind, 'submitted' | 'missed' | 'status'>;
  policy: Pick<WorkerPolicy, 'truePilot' | 'noHeartbeat' | 'mapType' | 'queueName' | 'harvesterID'>;
}

export interface ReportWorkerResult {
  /** PanDA answered a job of this worker with a kill command (tobekilled), or the job is unknown to PanDA. */
  killRequested: boolean;
  detail: string;
  /** How many jobs' states were sent along with the worker (push mode). */
  jobsReported: number;
  /** Seconds since the queue's bulk monitor last succeeded (DB clock); lets a worker notice a silent monitor. */
  monitorSilentSeconds?: number;
}
