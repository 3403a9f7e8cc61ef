/**
 * The dummy "batch system": one directory per worker (its access point) holding
 *   status.txt      — the job's status, as in Harvester's DummySubmitter/DummyMonitor; tests and operators
 *                     may write it by hand to drive a worker;
 *   dummy_job.json  — written last at submission: batch id, submission time and the optional automatic
 *                     progression. Its presence means "this worker was submitted" (idempotent re-submit).
 * The status the monitor reports is computed from both and the clock, without writing anything, so the
 * monitor and a concurrent kill never race on the file.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isFinalWorkerStatus, isWorkerStatus, type WorkerStatus } from '../../core/workerStatus';
import { readTextIfExists, writeFileAtomic } from '../common/files';

export const STATUS_FILE = 'status.txt';
export const JOB_FILE = 'dummy_job.json';

export type DummyFinalStatus = 'finished' | 'failed' | 'cancelled';

/** What the dummy submitter records about a job. */
export interface DummyJobRecord {
  batchID: string;
  workerID: number;
  /** ISO-8601, from the plugin clock. */
  submittedAt: string;
  /** Seconds after submission at which the job starts running. */
  runAfterSeconds?: number;
  /** Seconds after submission at which the job ends with finalStatus. */
  finishAfterSeconds?: number;
  finalStatus?: DummyFinalStatus;
}

export interface DummyJobState {
  /** null when status.txt holds something that is not a worker status. */
  status: WorkerStatus | null;
  diag: string;
  /** Raw content of status.txt, or undefined when the file is missing. */
  fileStatus?: string;
  startTime?: string;
  endTime?: string;
}

export function isDummyJobRecord(value: unknown): value is DummyJobRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.batchID === 'string' && typeof v.workerID === 'number' && typeof v.submittedAt === 'string';
}

/** The job record, or undefined when the worker was never (completely) submitted. */
export async function readDummyJob(accessPoint: string): Promise<DummyJobRecord | undefined> {
  const file = path.join(accessPoint, JOB_FILE);
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`dummy job file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isDummyJobRecord(parsed)) throw new Error(`dummy job file ${file} lacks batchID/workerID/submittedAt`);
  return parsed;
}

export async function writeDummyJob(accessPoint: string, record: DummyJobRecord): Promise<void> {
  await writeFileAtomic(path.join(accessPoint, JOB_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

export async function writeStatusFile(accessPoint: string, status: WorkerStatus): Promise<void> {
  await writeFileAtomic(path.join(accessPoint, STATUS_FILE), `${status}\n`);
}

/** How far along a status is, so the automatic progression only ever moves a job forwards. */
function progressRank(status: WorkerStatus): number {
  if (isFinalWorkerStatus(status)) return 3;
  if (status === 'running') return 2;
  if (status === 'idle' || status === 'ready') return 1;
  return 0;
}

const plusSeconds = (iso: string, seconds: number): string =>
  new Date(Date.parse(iso) + seconds * 1000).toISOString();

/** Where the automatic progression has got to at `now`, if the record has one. */
export function scheduledState(
  record: DummyJobRecord,
  now: Date,
): { status: WorkerStatus; startTime?: string; endTime?: string } | undefined {
  const elapsed = (now.getTime() - Date.parse(record.submittedAt)) / 1000;
  const { runAfterSeconds: runAfter, finishAfterSeconds: finishAfter } = record;
  if (finishAfter !== undefined && elapsed >= finishAfter) {
    const ranFirst = runAfter !== undefined && runAfter <= finishAfter;
    return {
      status: record.finalStatus ?? 'finished',
      startTime: ranFirst ? plusSeconds(record.submittedAt, runAfter) : undefined,
      endTime: plusSeconds(record.submittedAt, finishAfter),
    };
  }
  if (runAfter !== undefined && elapsed >= runAfter) {
    return { status: 'running', startTime: plusSeconds(record.submittedAt, runAfter) };
  }
  if (runAfter !== undefined || finishAfter !== undefined) return { status: 'submitted' };
  return undefined;
}

/**
 * The job's status now: status.txt (missing = `submitted`, as the job is queued until something says
 * otherwise), moved forward by the automatic progression when that is further along. A final status in
 * status.txt (e.g. `cancelled` written by a kill) always wins.
 */
export function effectiveState(
  fileStatus: string | undefined,
  record: DummyJobRecord | undefined,
  now: Date,
): DummyJobState {
  const raw = fileStatus?.trim();
  let base: WorkerStatus;
  if (raw === undefined || raw === '') {
    base = 'submitted';
  } else if (isWorkerStatus(raw)) {
    base = raw;
  } else {
    return { status: null, diag: `status.txt holds "${raw}", which is not a worker status`, fileStatus: raw };
  }
  const scheduled = record === undefined ? undefined : scheduledState(record, now);
  // Final statuses have the top rank, so a kill's `cancelled` is never overtaken by the schedule.
  if (scheduled !== undefined && progressRank(scheduled.status) > progressRank(base)) {
    return { ...scheduled, diag: '', fileStatus: raw };
  }
  return {
    status: base,
    diag: raw === undefined ? 'status.txt not found; assuming submitted' : '',
    fileStatus: raw,
  };
}

export async function readDummyState(accessPoint: string, now: Date): Promise<DummyJobState> {
  const fileStatus = await readTextIfExists(path.join(accessPoint, STATUS_FILE));
  const record = await readDummyJob(accessPoint);
  return effectiveState(fileStatus, record, now);
}

export async function ensureDirectory(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
}
