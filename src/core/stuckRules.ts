/**
 * Stuck-worker detection (harvester-spec §9, kill sources 3 and 4): pure rules over a worker's time stamps,
 * evaluated by the worker workflow on each status change or check. A non-null answer means "kill it", with
 * the reason recorded on the kill and shown in the HarvesterKillReason search attribute.
 */
import { isFinalWorkerStatus, type WorkerStatus } from './workerStatus';

/** Why a worker is being killed: by whom (operator, PanDA) or which stuck rule fired. */
export type KillReason =
  | 'operator'
  | 'panda_command'
  | 'stuck_queued'
  | 'stuck_held'
  | 'stuck_unknown'
  | 'lost_heartbeat'
  | 'panda_tobekilled';

export const KILL_REASONS: readonly KillReason[] = [
  'operator',
  'panda_command',
  'stuck_queued',
  'stuck_held',
  'stuck_unknown',
  'lost_heartbeat',
  'panda_tobekilled',
];

export type StuckReason = Extract<
  KillReason,
  'stuck_queued' | 'stuck_held' | 'stuck_unknown' | 'lost_heartbeat'
>;

export interface StuckVerdict {
  reason: StuckReason;
  /** Sentence for diagMessage/logs: what was too old, since when, and the limit. */
  detail: string;
}

/** Harvester's defaults (panda_harvester.cfg template and HTCondorMonitor). */
export const STUCK_DEFAULTS = {
  /** [monitor] workerQueueTimeLimit: 48 h queued in the batch system. */
  workerQueueTimeLimitSeconds: 172_800,
  /** HTCondorMonitor heldTimeout: 1 h held. */
  heldTimeoutSeconds: 3_600,
  /** [monitor] checkTimeout: 1 h without a conclusive status check. */
  checkTimeoutSeconds: 3_600,
} as const;

/**
 * Per-queue settings. A value of 0 switches the rule off (Harvester's None). The heartbeat rule is off unless
 * the messenger section sets worker_heartbeat (minutes), exactly as in Harvester.
 */
export interface StuckLimits {
  workerQueueTimeLimitSeconds?: number;
  heldTimeoutSeconds?: number;
  checkTimeoutSeconds?: number;
  workerHeartbeatMinutes?: number;
}

/** The worker facts the rules look at. Times are ISO-8601. */
export interface StuckInput {
  status: WorkerStatus;
  submitTime?: string;
  startTime?: string;
  /** Last time the monitor could tell the status (Harvester: checkTime; set at submission). */
  lastCheckedAt?: string;
  /** The most recent check could not tell the status (plugin answered null or the bulk query failed). */
  statusUnknown?: boolean;
  /** Since when the batch system reports the job held; absent when it is not held. */
  heldSince?: string;
  /** Modification time of the worker's heartbeat file; absent when the worker never wrote one. */
  lastHeartbeat?: string;
}

function ms(iso: string, field: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t))
    throw new Error(`stuck rules: ${field} is not an ISO-8601 timestamp: ${JSON.stringify(iso)}`);
  return t;
}

function limitOrDefault(value: number | undefined, fallback: number): number {
  return value === undefined ? fallback : value;
}

/**
 * Harvester's messenger is_alive: with no heartbeat file, a worker that has not started, or started less
 * than the limit ago, is given the benefit of the doubt; an older one is dead. With a file, its age decides.
 */
export function heartbeatAlive(
  worker: { startTime?: string; lastHeartbeat?: string },
  now: Date,
  limitMinutes: number,
): boolean {
  const limitMs = limitMinutes * 60_000;
  if (worker.lastHeartbeat !== undefined) {
    return now.getTime() - ms(worker.lastHeartbeat, 'lastHeartbeat') <= limitMs;
  }
  if (worker.startTime === undefined) return true;
  return now.getTime() - ms(worker.startTime, 'startTime') <= limitMs;
}

const hours = (msValue: number): string => `${(msValue / 3_600_000).toFixed(1)} h`;

/**
 * Returns why the worker is stuck, or null. Final and pending workers are never stuck (pending rows are
 * reconciled by the submitter). Order: an unknown status first (nothing else about the worker can be trusted),
 * then held (more specific than queued), queued too long, and a lost heartbeat. Limits are strict: a worker
 * exactly at the limit is not yet stuck.
 */
export function detectStuck(worker: StuckInput, now: Date, limits: StuckLimits = {}): StuckVerdict | null {
  if (isFinalWorkerStatus(worker.status) || worker.status === 'pending') return null;
  const nowMs = now.getTime();

  const checkTimeout = limitOrDefault(limits.checkTimeoutSeconds, STUCK_DEFAULTS.checkTimeoutSeconds);
  if (worker.statusUnknown && checkTimeout > 0) {
    // Harvester's checkTime starts at submission, so a worker never checked successfully counts from there.
    const since = worker.lastCheckedAt ?? worker.submitTime;
    if (since !== undefined) {
      const age = nowMs - ms(since, worker.lastCheckedAt !== undefined ? 'lastCheckedAt' : 'submitTime');
      if (age > checkTimeout * 1000) {
        return {
          reason: 'stuck_unknown',
          detail: `status unknown since ${since} (${hours(age)}), longer than checkTimeout=${checkTimeout}s`,
        };
      }
    }
  }

  const heldTimeout = limitOrDefault(limits.heldTimeoutSeconds, STUCK_DEFAULTS.heldTimeoutSeconds);
  if (worker.heldSince !== undefined && heldTimeout > 0) {
    const age = nowMs - ms(worker.heldSince, 'heldSince');
    if (age > heldTimeout * 1000) {
      return {
        reason: 'stuck_held',
        detail: `held since ${worker.heldSince} (${hours(age)}), longer than heldTimeout=${heldTimeout}s`,
      };
    }
  }

  const queueLimit = limitOrDefault(
    limits.workerQueueTimeLimitSeconds,
    STUCK_DEFAULTS.workerQueueTimeLimitSeconds,
  );
  if (worker.status === 'submitted' && worker.submitTime !== undefined && queueLimit > 0) {
    const age = nowMs - ms(worker.submitTime, 'submitTime');
    if (age > queueLimit * 1000) {
      return {
        reason: 'stuck_queued',
        detail: `queued since ${worker.submitTime} (${hours(age)}), longer than workerQueueTimeLimit=${queueLimit}s`,
      };
    }
  }

  const heartbeatMinutes = limits.workerHeartbeatMinutes ?? 0;
  if (heartbeatMinutes > 0 && !heartbeatAlive(worker, now, heartbeatMinutes)) {
    const last = worker.lastHeartbeat ?? `never (started ${worker.startTime})`;
    return {
      reason: 'lost_heartbeat',
      detail: `last heartbeat ${last}, older than worker_heartbeat=${heartbeatMinutes} min`,
    };
  }
  return null;
}
