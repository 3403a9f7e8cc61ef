/**
 * What the DB row of a new worker already says about its submission: a submitter step that is
 * retried, or the fallback after it failed, must not submit again a worker whose batch job an
 * earlier attempt recorded, nor forget one it recorded as missed.
 */
import type { WorkSpec } from './specs';

export interface RecordedSubmission {
  workerID: number;
  outcome: 'success' | 'failure';
  diag: string;
  batchID?: string;
  submissionHost?: string;
  computingElement?: string;
  queueName?: string;
  submittedAt?: string;
}

/**
 * The outcome on record for a worker row: success with its batch id once it has one, failure for
 * a row recorded missed without one, nothing for a row still pending (not submitted yet, or
 * submitted by an attempt that died before recording: only the batch system can tell then).
 */
export function recordedSubmission(w: WorkSpec): RecordedSubmission | undefined {
  if (w.batchID)
    return {
      workerID: w.workerID,
      outcome: 'success',
      diag: '',
      batchID: w.batchID,
      submissionHost: w.submissionHost,
      computingElement: w.computingElement,
      queueName: w.queueName,
      submittedAt: w.submitTime,
    };
  if (w.status === 'pending') return undefined;
  return {
    workerID: w.workerID,
    outcome: 'failure',
    diag: w.diagMessage || `recorded ${w.status} before its lifecycle started`,
  };
}
