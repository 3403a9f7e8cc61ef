/**
 * Default values. Harvester's come from its QueueConfig constructor and the cfg template
 * (harvester-spec §1.1, §4) and are kept exactly, so a file written for Harvester behaves the same.
 */
import type { TemporalQueueSettings } from './types';

/** Harvester's catch-all resource type / job type ('ANY' rows in pq_table). */
export const CATCHALL = 'ANY';

/** Job statuses not reported for truePilot queues when noHeartbeat is empty (Harvester's fill-in). */
export const TRUE_PILOT_NO_HEARTBEAT = ['running', 'transferring', 'finished', 'failed'] as const;

/** Harvester QueueConfig defaults for the scalar attributes we model. */
export const HARVESTER_QUEUE_DEFAULTS = {
  queueStatus: 'online',
  prodSourceLabel: 'managed',
  mapType: 'OneToOne',
  useJobLateBinding: false,
  runMode: 'self',
  truePilot: false,
  noHeartbeat: '',
  maxWorkers: 0,
  nNewWorkers: 0,
  maxNewWorkersPerCycle: 0,
  maxSubmissionAttempts: 3,
  allowJobMixture: false,
  getJobCriteria: null,
  ddmEndpointIn: null,
  zipPerMB: null,
  prefetchEvents: true,
  initEventsMultipler: 2,
  scatteredEvents: false,
  prioritizedProdSourceLabels: ['rc_alrb'],
} as const;

/**
 * OUR extension's defaults. Each mirrors the Harvester agent setting it replaces (cfg template
 * values), except maxConsecutiveMonitorFailures, which Harvester does not have.
 */
export const TEMPORAL_DEFAULTS: Readonly<TemporalQueueSettings> = {
  taskQueue: null,
  submitterIntervalSeconds: 60,
  monitorIntervalSeconds: 300,
  heartbeatIntervalSeconds: 1800,
  sweeperIntervalSeconds: 180,
  keepFinished: 24,
  keepFailed: 72,
  keepCancelled: 72,
  keepMissed: 24,
  keepPending: 24,
  workerQueueTimeLimit: 172800,
  heldTimeout: 3600,
  checkTimeout: 3600,
  maxConsecutiveMonitorFailures: 3,
  autoResumeAfterMonitorRecovery: true,
};
