/**
 * Everything a worker lifecycle workflow needs to know about its queue, resolved once from the
 * queue config when the worker is created and carried in the workflow input. Workers keep the
 * config they were created with (Harvester's configID rule), and the plugin sections travel with
 * the activity calls, so an edge worker needs no DB and no config file.
 */
import type { PluginParams } from '../plugins/types';
import type { MapType } from './specs';

export interface KeepHours {
  finished: number;
  failed: number;
  cancelled: number;
  missed: number;
}

export interface StuckLimits {
  /** Kill a worker queued (submitted) longer than this. Harvester: monitor.workerQueueTimeLimit, 48 h. */
  workerQueueTimeLimitSeconds: number;
  /** Kill a worker held longer than this. Harvester: HTCondorMonitor.heldTimeout, 1 h. */
  heldTimeoutSeconds: number;
  /** Kill a worker whose status could not be told for this long. Harvester: monitor.checkTimeout, 1 h. */
  checkTimeoutSeconds: number;
  /**
   * Kill a running worker whose pilot heartbeat file is older than this (messenger worker_heartbeat,
   * minutes); 0 = off. Applied by the queue's monitor, which reads the file (core/monitorDiff).
   */
  workerHeartbeatMinutes: number;
}

export interface WorkerPolicy {
  harvesterID: string;
  queueName: string;
  configID: string;
  mapType: MapType;
  /** Temporal task queue where the plugin activities (batch commands) run: an edge worker's, or the central one. */
  pluginTaskQueue: string;
  submitter: PluginParams;
  monitor: PluginParams;
  sweeper: PluginParams;
  messenger?: PluginParams;
  /** PanDA heartbeat period for running jobs (Harvester: propagator.updateInterval, 1800 s). */
  heartbeatIntervalSeconds: number;
  /** How often a kill is retried until the monitor sees the worker final (Harvester: sweeper.checkInterval, 180 s). */
  sweeperIntervalSeconds: number;
  /**
   * Longest sleep without asking how long the queue's monitor has been silent (each PanDA report
   * also asks): the safety timer that notices a monitor gone silent, also when heartbeats are rarer
   * than checkTimeout. See safetyCheckSecondsFor.
   */
  safetyCheckSeconds: number;
  keepHours: KeepHours;
  stuck: StuckLimits;
  /** Pilot talks to PanDA itself: job heartbeats are suppressed (kill commands are still polled). */
  truePilot: boolean;
  /** Job statuses not reported to PanDA (Harvester: noHeartbeat CSV). */
  noHeartbeat: string[];
}

/** Harvester's defaults (sweeper keep times, monitor limits, propagator period). */
export const DEFAULT_KEEP_HOURS: KeepHours = { finished: 24, failed: 72, cancelled: 72, missed: 24 };
export const DEFAULT_STUCK_LIMITS: StuckLimits = {
  workerQueueTimeLimitSeconds: 172800,
  heldTimeoutSeconds: 3600,
  checkTimeoutSeconds: 3600,
  workerHeartbeatMinutes: 0,
};
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 1800;
export const DEFAULT_SWEEPER_INTERVAL_SECONDS = 180;
export const DEFAULT_SAFETY_CHECK_SECONDS = 3600;

/**
 * The safety timer's period: checkTimeout (capped at an hour), so a silent monitor is noticed within
 * about two checkTimeouts even when heartbeats are rarer; the hour without a checkTimeout (rule off).
 */
export function safetyCheckSecondsFor(checkTimeoutSeconds: number): number {
  return checkTimeoutSeconds > 0
    ? Math.min(checkTimeoutSeconds, DEFAULT_SAFETY_CHECK_SECONDS)
    : DEFAULT_SAFETY_CHECK_SECONDS;
}

/**
 * The lost-heartbeat limit in minutes from the messenger section's `worker_heartbeat` (Harvester's
 * attribute of the same name); 0 = the rule is off, Harvester's default (no such attribute). A
 * fraction of a minute is accepted (Harvester compares with timedelta(minutes=...)); anything that is
 * not a positive number switches the rule off rather than kill workers on a typo.
 */
export function workerHeartbeatMinutes(messenger: PluginParams | undefined): number {
  const value = Number(messenger?.worker_heartbeat ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** The resolved-config fields the policy is built from (a QueueConfig satisfies it). */
export interface PolicySource {
  queueName: string;
  configID: string;
  mapType: MapType;
  truePilot: boolean;
  noHeartbeat: string[];
  submitter: PluginParams;
  monitor: PluginParams;
  sweeper: PluginParams;
  messenger?: PluginParams;
  temporal: {
    taskQueue: string | null;
    heartbeatIntervalSeconds: number;
    sweeperIntervalSeconds: number;
    keepFinished: number;
    keepFailed: number;
    keepCancelled: number;
    keepMissed: number;
    workerQueueTimeLimit: number;
    heldTimeout: number;
    checkTimeout: number;
  };
}

/** Builds a worker's policy from its queue's resolved config. */
export function policyFromQueueConfig(
  q: PolicySource,
  harvesterID: string,
  centralTaskQueue: string,
): WorkerPolicy {
  const t = q.temporal;
  return {
    harvesterID,
    queueName: q.queueName,
    configID: q.configID,
    mapType: q.mapType,
    pluginTaskQueue: t.taskQueue ?? centralTaskQueue,
    submitter: q.submitter,
    monitor: q.monitor,
    sweeper: q.sweeper,
    messenger: q.messenger,
    heartbeatIntervalSeconds: t.heartbeatIntervalSeconds,
    sweeperIntervalSeconds: t.sweeperIntervalSeconds,
    safetyCheckSeconds: safetyCheckSecondsFor(t.checkTimeout),
    keepHours: {
      finished: t.keepFinished,
      failed: t.keepFailed,
      cancelled: t.keepCancelled,
      missed: t.keepMissed,
    },
    stuck: {
      workerQueueTimeLimitSeconds: t.workerQueueTimeLimit,
      heldTimeoutSeconds: t.heldTimeout,
      checkTimeoutSeconds: t.checkTimeout,
      workerHeartbeatMinutes: workerHeartbeatMinutes(q.messenger),
    },
    truePilot: q.truePilot,
    noHeartbeat: q.noHeartbeat,
  };
}
