/**
 * Worker status transitions and the worker → job status mapping (Harvester's WorkSpec.set_status and
 * WorkSpec.convert_to_job_status, harvester-spec §3.1/§3.2). Pure functions: the worker workflow, the
 * queue monitor and the DB layer all apply the same rules, so a status can never move backwards in one
 * place and forwards in another.
 */
import type { JobStatus, JobSubStatus } from './specs';
import { isFinalWorkerStatus, type WorkerStatus } from './workerStatus';

/** Why a reported status was not applied. */
export type IgnoredReason =
  /** The worker is already finished/failed/cancelled/missed; Harvester's DB never overwrites those. */
  | 'final'
  /** `submitted` after `running`/`idle`: a batch system flapping back to "queued" is not a real change. */
  | 'no_reverse_to_submitted'
  /** `pending` is our own write-ahead state before submission; nothing can move a worker back into it. */
  | 'pending_is_local'
  /** The monitor could not tell this time (Harvester's None): keep the last known status. */
  | 'unknown';

export interface StatusDecision {
  /** The status the worker has after the report. */
  status: WorkerStatus;
  /** True when the status differs from before: triggers an immediate PanDA report. */
  changed: boolean;
  /** Set when the reported status was dropped. */
  ignoredReason?: IgnoredReason;
}

/**
 * Decides whether `reported` (from a monitor, the submitter or a kill) replaces `current`.
 * Harvester's rules: final states never change; `submitted` never follows `running` or `idle`.
 * Ours in addition: nothing re-enters `pending` (it only exists before the batch system knows the worker).
 * Everything else is allowed, including jumps (pending → running for late binding, submitted → finished
 * when a short job ended between two checks, running → ready when a late-binding worker asks for more jobs).
 */
export function applyWorkerStatus(current: WorkerStatus, reported: WorkerStatus | null): StatusDecision {
  if (reported === null) return { status: current, changed: false, ignoredReason: 'unknown' };
  if (reported === current) return { status: current, changed: false };
  if (isFinalWorkerStatus(current)) return { status: current, changed: false, ignoredReason: 'final' };
  if (reported === 'submitted' && (current === 'running' || current === 'idle')) {
    return { status: current, changed: false, ignoredReason: 'no_reverse_to_submitted' };
  }
  if (reported === 'pending') return { status: current, changed: false, ignoredReason: 'pending_is_local' };
  return { status: reported, changed: true };
}

/** True when `applyWorkerStatus(from, to)` would change the status. */
export function canTransition(from: WorkerStatus, to: WorkerStatus): boolean {
  return applyWorkerStatus(from, to).changed;
}

/**
 * Time stamps a status change sets, each only once (Harvester: set_start_time / set_end_time without force):
 * entering `running` sets startTime, entering a final status sets endTime. Returns only the fields to write.
 */
export function timestampsForStatus(
  worker: { startTime?: string; endTime?: string },
  newStatus: WorkerStatus,
  now: Date,
): { startTime?: string; endTime?: string } {
  if (newStatus === 'running' && worker.startTime === undefined) return { startTime: now.toISOString() };
  if (isFinalWorkerStatus(newStatus) && worker.endTime === undefined) return { endTime: now.toISOString() };
  return {};
}

export const JOB_STATUSES: readonly JobStatus[] = [
  'starting',
  'running',
  'finished',
  'failed',
  'cancelled',
  'missed',
];

/** Job statuses after which the job only waits for its final report and clean-up. */
export const FINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set([
  'finished',
  'failed',
  'cancelled',
  'missed',
]);

export function isFinalJobStatus(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.has(status);
}

export const JOB_SUB_STATUSES: readonly JobSubStatus[] = [
  'fetched',
  'preparing',
  'prepared',
  'queued',
  'submitted',
  'ready',
  'running',
  'idle',
  'to_transfer',
  'transferring',
  'staged',
  'failed_to_stage_out',
  'done',
  'failed_to_make',
  'failed_to_prepare',
  'killed',
  'missed',
];

export interface JobState {
  status: JobStatus;
  subStatus: JobSubStatus;
}

/**
 * Harvester's convert_to_job_status: the state of the jobs a worker carries.
 *   submitted/ready → starting/<ws>; running/idle → running/<ws>;
 *   finished/failed/cancelled → <ws>/to_transfer (outputs still to be staged out); missed → missed/missed.
 * `pending` is not in Harvester's table (its fall-through would say running/pending, which is wrong and
 * not a valid sub-status): jobs of a worker whose submission is in flight are still starting/prepared.
 */
export function convertToJobStatus(workerStatus: WorkerStatus): JobState {
  switch (workerStatus) {
    case 'pending':
      return { status: 'starting', subStatus: 'prepared' };
    case 'submitted':
    case 'ready':
      return { status: 'starting', subStatus: workerStatus };
    case 'running':
    case 'idle':
      return { status: 'running', subStatus: workerStatus };
    case 'finished':
    case 'failed':
    case 'cancelled':
      return { status: workerStatus, subStatus: 'to_transfer' };
    case 'missed':
      return { status: 'missed', subStatus: 'missed' };
  }
}

/**
 * Job state from its worker, letting the pilot's own verdict win: a `jobStatus` of finished/failed in the
 * job's attributes (the pilot's job report) overrides the worker status (Harvester:
 * get_job_status_from_attributes). Other values there are ignored, as in Harvester.
 */
export function jobStateFromWorker(workerStatus: WorkerStatus, pilotJobStatus?: unknown): JobState {
  if (pilotJobStatus === 'finished' || pilotJobStatus === 'failed') return convertToJobStatus(pilotJobStatus);
  return convertToJobStatus(workerStatus);
}

/**
 * One job run by several workers (mapType OneToMany): the job is final only when every worker is; then it
 * is finished if any worker finished, else failed if any failed, else cancelled. While workers are active it
 * is running if one runs (or the job already ran), otherwise starting/submitted.
 */
export function jobStateFromWorkers(
  workerStatuses: readonly WorkerStatus[],
  jobAlreadyRunning: boolean,
): JobState {
  const allFinal = workerStatuses.length > 0 && workerStatuses.every(isFinalWorkerStatus);
  if (allFinal) {
    if (workerStatuses.includes('finished')) return convertToJobStatus('finished');
    if (workerStatuses.includes('failed')) return convertToJobStatus('failed');
    return convertToJobStatus('cancelled');
  }
  if (jobAlreadyRunning || workerStatuses.includes('running')) return convertToJobStatus('running');
  return convertToJobStatus('submitted');
}
