import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CommandCycleResult, QueueSyncResult } from '../activities/instanceCentral';

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
  state?: InstanceWorkflowState;
}

export interface InstanceWorkflowState {
  lastSync?: QueueSyncResult & { at: string };
  lastCommands?: CommandCycleResult & { at: string };
  nextSyncAt: string;
  nextCommandsAt: string;
  nextHeartbeatAt: string;
  commandsApplied: number;
}

/** Re-read the queue config now (after editing the file). */
export const reloadQueuesSignal = defineSignal('reloadQueues');
export const instanceStateQuery = defineQuery<InstanceWorkflowState>('state');
