import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  CommandCycleResult,
  MonitoringExportSummary,
  QueueSyncResult,
  WorkerStatsReportResult,
} from '../activities/instanceCentral';

export function instanceWorkflowId(harvesterID: string): string {
  return `instance-${harvesterID}`;
}

export interface InstanceWorkflowInput {
  harvesterID: string;
  /** How often the queue list is re-read (Harvester qconf updateInterval, 600 s). */
  queueSyncIntervalSeconds: number;
  /** How often PanDA's commands are fetched (Harvester's command manager polls every few seconds). */
  commandIntervalSeconds: number;
  /** Instance heartbeat to PanDA (Harvester: every 10 min). */
  pandaHeartbeatIntervalSeconds: number;
  /** Worker statistics + service metrics to PanDA (Harvester's propagator: every 300 s). Default 300. */
  workerStatsIntervalSeconds?: number;
  /** Export of workers/jobs to the central monitoring DB, when one is configured. Default 300. */
  monitorExportIntervalSeconds?: number;
  /** The task queue this workflow belongs on; see QueueWorkflowInput.controlTaskQueue. */
  controlTaskQueue?: string;
  state?: InstanceWorkflowState;
}

export interface InstanceWorkflowState {
  lastSync?: QueueSyncResult & { at: string };
  lastCommands?: CommandCycleResult & { at: string };
  nextSyncAt: string;
  nextCommandsAt: string;
  nextHeartbeatAt: string;
  commandsApplied: number;
  // Optional: state carried over by continue-as-new from a run that predates these cycles lacks them.
  nextWorkerStatsAt?: string;
  nextMonitorExportAt?: string;
  lastWorkerStats?: WorkerStatsReportResult & { at: string };
  lastMonitorExport?: MonitoringExportSummary & { at: string };
  /** Where the next service-metrics push starts (newest sample PanDA accepted). */
  metricsPushedUpTo?: string;
  monitorRowsExported?: number;
}

/** Re-read the queue config now (after editing the file). */
export const reloadQueuesSignal = defineSignal('reloadQueues');
export const instanceStateQuery = defineQuery<InstanceWorkflowState>('state');
