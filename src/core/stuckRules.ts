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
 * Harvester's lost-heartbeat kill (monitor: `messenger.worker_heartbeat` set and `is_alive()` falsy), for a
 * running worker only: a worker not running has no pilot that could write the file. `now` must be in the
 * clock of the host that read the file's time (the queue's monitor compares the two on that host), so clock
 * skew between hosts cannot fake a lost heartbeat. Off when limitMinutes is 0 (the messenger sets none).
 */
export function lostHeartbeat(
  worker: { status: WorkerStatus; startTime?: string; lastHeartbeat?: string },
  now: Date,
  limitMinutes: number,
): StuckVerdict | null {
  if (worker.status !== 'running' || !(limitMinutes > 0)) return null;
  if (heartbeatAlive(worker, now, limitMinutes)) return null;
  const last = worker.lastHeartbeat ?? `never (started ${worker.startTime})`;
  return {
    reason: 'lost_heartbeat',
    detail: `last heartbeat ${last}, older than worker_heartbeat=${limitMinutes} min`,
  };
}

/** What a worker holds about whether its status is known (the lifecycle's state). */
export interface StatusKnowledge {
  statusUnknown: boolean;
  /** statusUnknown was set because the queue's monitor went silent, not by its own "cannot tell". */
  monitorSilent?: boolean;
  /** Last time the status was known for sure (ISO). */
  lastCheckedAt: string;
}

/**
 * What a worker concludes from how long its queue's bulk monitor has been silent (not in Harvester,
 * whose checkTimeout covers only checks that answered None; here a dead monitor must not leave
 * workers reported 'running' forever). Silent past checkTimeout: the status is unknown from now on,
 * not from the monitor's last success: when the whole harvester was down, its monitor comes back
 * within checkTimeout of the restart, and counting from before the outage would kill every worker
 * at once. A monitor that answers again would have signalled any change, so the held status is
 * known again, unless the monitor itself said it cannot tell (that stays until it says otherwise).
 * Unchanged when the monitor never succeeded (undefined) or checkTimeout is 0 (rule off).
 */
export function applyMonitorSilence(
  state: StatusKnowledge,
  silentSeconds: number | undefined,
  now: Date,
  checkTimeoutSeconds: number,
): StatusKnowledge {
  if (silentSeconds === undefined || !Number.isFinite(silentSeconds) || !(checkTimeoutSeconds > 0))
    return state;
  if (silentSeconds > checkTimeoutSeconds) {
    if (state.statusUnknown) return state;
    return { statusUnknown: true, monitorSilent: true, lastCheckedAt: now.toISOString() };
  }
  if (!state.monitorSilent) return state;
  const lastOk = new Date(now.getTime() - Math.max(0, silentSeconds) * 1000).toISOString();
  return { statusUnknown: false, monitorSilent: false, lastCheckedAt: lastOk };
}

/** Harvester's pilot error FAILEDBYSERVER: the monitor gave the worker up (PilotErrors code 1236). */
export const FAILED_BY_SERVER_ERROR_CODE = 1236;

/** What the give-up rule looks at: the worker's last known status, since when it is unknown, and its kill. */
export interface UnknownWorkerInput {
  status: WorkerStatus;
  statusUnknown: boolean;
  /** Last time the status was known for sure. */
  lastCheckedAt: string;
  kill?: { requestedAt: string; attempts: number; source: string };
}

export interface GiveUpLimits {
  checkTimeoutSeconds: number;
  sweeperIntervalSeconds: number;
}

export interface GiveUpVerdict {
  status: 'cancelled';
  errorCode: typeof FAILED_BY_SERVER_ERROR_CODE;
  /** diagMessage of the worker: why it was ended without a final status from the batch system. */
  detail: string;
}

/**
 * When a worker whose status cannot be told is given up, or null while the rule does not apply.
 *
 * Harvester's monitor sets a worker unchecked for longer than checkTimeout to `cancelled` with
 * FAILEDBYSERVER at once (and marks it to be killed). Here the kill goes first and gets one sweeper
 * interval to work, so a batch system that answers again can report the worker's own final state;
 * without one by then, the worker is ended by us: otherwise its kill would be retried and its
 * 'running' heartbeats sent to PanDA forever. The deadline is one sweeper interval past the later of
 * "unknown for checkTimeout" and the kill request, so an operator's kill of a worker unknown for long
 * still gets its interval. Needs a kill already sent (attempts > 0); off when checkTimeout is 0.
 */
export function giveUpDeadline(worker: UnknownWorkerInput, limits: GiveUpLimits): number | null {
  if (isFinalWorkerStatus(worker.status) || worker.status === 'pending') return null;
  if (!worker.statusUnknown || !worker.kill || worker.kill.attempts < 1) return null;
  if (!(limits.checkTimeoutSeconds > 0)) return null;
  const unknownTooLong = ms(worker.lastCheckedAt, 'lastCheckedAt') + limits.checkTimeoutSeconds * 1000;
  const killed = ms(worker.kill.requestedAt, 'kill.requestedAt');
  return Math.max(unknownTooLong, killed) + limits.sweeperIntervalSeconds * 1000;
}

/** The give-up decision at `now` (at or past giveUpDeadline): end the worker as cancelled, FAILEDBYSERVER. */
export function giveUpUnknownWorker(
  worker: UnknownWorkerInput,
  now: Date,
  limits: GiveUpLimits,
): GiveUpVerdict | null {
  const deadline = giveUpDeadline(worker, limits);
  if (deadline === null || now.getTime() < deadline) return null;
  return {
    status: 'cancelled',
    errorCode: FAILED_BY_SERVER_ERROR_CODE,
    detail:
      `status unknown since ${worker.lastCheckedAt}, longer than checkTimeout=${limits.checkTimeoutSeconds}s, ` +
      `and no final status ${limits.sweeperIntervalSeconds}s after the kill (${worker.kill?.source}): ` +
      'given up as cancelled (FAILEDBYSERVER)',
  };
}

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

  return lostHeartbeat(worker, now, limits.workerHeartbeatMinutes ?? 0);
}
