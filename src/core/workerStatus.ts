/**
 * Worker (pilot) statuses, as in Harvester's WorkSpec.ST_* constants.
 * `pending` is local only: the row exists and submission is in flight; it is never reported by a monitor.
 */
export const WORKER_STATUSES = [
  'pending',
  'submitted',
  'idle',
  'ready',
  'running',
  'finished',
  'failed',
  'cancelled',
  'missed',
] as const;

export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** Statuses after which nothing changes any more (Harvester: DB never overwrites them). */
export const FINAL_WORKER_STATUSES: ReadonlySet<WorkerStatus> = new Set([
  'finished',
  'failed',
  'cancelled',
  'missed',
]);

export function isWorkerStatus(value: unknown): value is WorkerStatus {
  return typeof value === 'string' && (WORKER_STATUSES as readonly string[]).includes(value);
}

export function isFinalWorkerStatus(status: WorkerStatus): boolean {
  return FINAL_WORKER_STATUSES.has(status);
}
