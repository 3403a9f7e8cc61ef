/**
 * What PanDA is told about workers and jobs (harvester-spec §3.1, §3.2, propagator in §1.2).
 * PanDA's server accepts only some statuses and expects Harvester's exact field names and time format,
 * so this mapping is kept in one pure module that the PanDA client and the tests share.
 */
import type { WorkerUpdate } from '../panda/types';
import type { JobStatus, JobSubStatus, MapType, WorkSpec } from './specs';
import { isFinalJobStatus } from './transitions';
import type { WorkerStatus } from './workerStatus';

// ---------------------------------------------------------------------------------------------
// Time format

/**
 * Harvester serialises datetimes for update_workers as "datetime/YYYY-mm-dd HH:MM:SS.ffffff" (naive UTC,
 * microseconds); PanDA's server parses that prefix back into a datetime. Our timestamps are ISO-8601
 * strings; sub-second digits are taken from the string itself so microseconds from PostgreSQL survive
 * (a JS Date keeps only milliseconds).
 */
export function toPandaDatetime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`not an ISO-8601 timestamp: ${JSON.stringify(iso)}`);
  const fraction = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(iso)?.[1] ?? '';
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `datetime/${day} ${time}.${micros}`;
}

// ---------------------------------------------------------------------------------------------
// Workers (harvester/update_workers)

/**
 * One entry of update_workers' `workers` list (Harvester: WorkSpec.convert_to_propagate): the wire
 * type, with what a report built here always has. The status is sent raw: PanDA's worker table
 * knows every Harvester status.
 */
export type PandaWorkerReport = WorkerUpdate & { status: WorkerStatus; computingSite: string };

/** A worker row as the reporter sees it: errorDiag is the text that goes with errorCode (work_table.errorDiag). */
export type ReportableWorker = WorkSpec & { errorDiag?: string };

/** Values that come from the reporting process or the queue config rather than from the worker row. */
export interface WorkerReportContext {
  /** Host of the harvester process that reports (Harvester: harvesterHost). */
  harvesterHost?: string;
  /** From syncLevelFor(): 1 when the pilot, not Harvester, is authoritative for job states. */
  syncLevel?: number;
  /** Number of jobs the worker was made for; defaults to the number of bound PandaIDs. */
  nJobs?: number;
}

/** Log locations the submitter stored in workAttributes (Harvester: set_log_file). */
const LOG_ATTRIBUTES = ['stdOut', 'stdErr', 'batchLog', 'jdl'] as const;

/**
 * Builds the update_workers entry for a worker. Like Harvester, fields without a value are left out
 * (PanDA keeps what it had), times use the "datetime/…" format, and when errorCode is non-zero the
 * errorDiag text replaces diagMessage, because that is the message operators need to see.
 */
export function toPandaWorkerReport(
  worker: ReportableWorker,
  context: WorkerReportContext = {},
): PandaWorkerReport {
  const report: PandaWorkerReport = {
    workerID: worker.workerID,
    status: worker.status,
    computingSite: worker.computingSite,
  };
  const optional: Omit<PandaWorkerReport, 'workerID' | 'status' | 'computingSite'> = {
    batchID: worker.batchID,
    queueName: worker.queueName,
    nCore: worker.nCore,
    nodeID: worker.nodeID,
    submitTime: worker.submitTime === undefined ? undefined : toPandaDatetime(worker.submitTime),
    startTime: worker.startTime === undefined ? undefined : toPandaDatetime(worker.startTime),
    endTime: worker.endTime === undefined ? undefined : toPandaDatetime(worker.endTime),
    jobType: worker.jobType,
    resourceType: worker.resourceType,
    nativeExitCode: worker.nativeExitCode,
    nativeStatus: worker.nativeStatus,
    diagMessage:
      worker.errorCode !== undefined && worker.errorCode !== 0 && worker.errorDiag
        ? worker.errorDiag
        : worker.diagMessage,
    nJobs: context.nJobs ?? worker.pandaIDs?.length,
    computingElement: worker.computingElement,
    syncLevel: context.syncLevel,
    submissionHost: worker.submissionHost,
    harvesterHost: context.harvesterHost,
    errorCode: worker.errorCode,
    minRamCount: worker.minRamCount,
    pandaid_list: worker.pandaIDs,
  };
  for (const attr of LOG_ATTRIBUTES) {
    const value = worker.workAttributes?.[attr];
    if (typeof value === 'string') optional[attr] = value;
  }
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined && value !== null) (report as unknown as Record<string, unknown>)[key] = value;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Jobs (pilot/update_jobs_bulk)

/** The job facts the status mapping needs. */
export interface JobReportInput {
  status: JobStatus;
  subStatus: JobSubStatus;
  /** The pilot closed the worker itself (Harvester: pilotClosed=1). */
  pilotClosed?: boolean;
  /** False while event-service events of the job still wait for their report; default true. */
  allEventsDone?: boolean;
}

/** Statuses PanDA's update_jobs accepts from Harvester. */
export type PandaJobStatus = 'starting' | 'running' | 'transferring' | 'finished' | 'failed';

/**
 * Harvester's JobSpec.get_status: a final job is reported as `transferring` while its outputs are still
 * being staged out (subStatus to_transfer/transferring) or its events are not all reported, so PanDA does
 * not close the job before the files exist. A job killed before it ran (subStatus killed) has nothing to
 * transfer and is reported as it is.
 */
export function jobStatusBeforePanda(job: JobReportInput): JobStatus | 'transferring' {
  if (
    isFinalJobStatus(job.status) &&
    job.subStatus !== 'killed' &&
    (job.subStatus === 'to_transfer' || job.subStatus === 'transferring' || job.allEventsDone === false)
  ) {
    return 'transferring';
  }
  return job.status;
}

/**
 * The job_status / job_sub_status pair sent to PanDA. PanDA rejects `cancelled` and `missed` from
 * Harvester, so those go as `failed` with the reason in the sub-status: `pilot_closed` when the pilot closed
 * the worker, else the original status.
 */
export function toPandaJobStatus(job: JobReportInput): { jobStatus: PandaJobStatus; jobSubStatus: string } {
  const status = jobStatusBeforePanda(job);
  if (status === 'cancelled' || status === 'missed') {
    return { jobStatus: 'failed', jobSubStatus: job.pilotClosed ? 'pilot_closed' : status };
  }
  return { jobStatus: status, jobSubStatus: job.subStatus };
}

/**
 * A final report (status really final, not masked as transferring) carries meta_data and
 * job_output_report; earlier heartbeats do not.
 */
export function carriesFinalAttributes(job: JobReportInput): boolean {
  return isFinalJobStatus(job.status) && jobStatusBeforePanda(job) === job.status;
}

// ---------------------------------------------------------------------------------------------
// Heartbeat suppression for true pilots (queue config truePilot / noHeartbeat)

/** What a truePilot queue stops reporting when its noHeartbeat is empty: the pilot reports these itself. */
export const TRUE_PILOT_NO_HEARTBEAT = 'running,transferring,finished,failed';

/**
 * The job statuses Harvester must not report for a queue. With truePilot and an empty noHeartbeat the pilot
 * owns running/transferring/finished/failed (Harvester's queue-config default); otherwise the CSV as given.
 */
export function noHeartbeatStatuses(
  noHeartbeat: string | undefined,
  truePilot: boolean,
): ReadonlySet<string> {
  const csv = truePilot && (noHeartbeat ?? '').trim() === '' ? TRUE_PILOT_NO_HEARTBEAT : (noHeartbeat ?? '');
  return new Set(
    csv
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

/**
 * What the propagator does with one job (Harvester propagator): `update` = send update_jobs;
 * `check` = the status is suppressed but the job runs, so only ask get_status to catch a `tobekilled`
 * command; `skip` = suppressed, nothing to send. A `missed` job is always updated, since its pilot never
 * started and nobody else will tell PanDA.
 */
export function jobReportAction(
  job: JobReportInput,
  suppressed: ReadonlySet<string>,
): 'update' | 'check' | 'skip' {
  if (job.subStatus === 'missed') return 'update';
  if (!suppressed.has(jobStatusBeforePanda(job))) return 'update';
  return job.status === 'running' ? 'check' : 'skip';
}

/**
 * Harvester's get_synchronization_level: 1 tells PanDA that job states come from the pilot (pull mode,
 * true pilots, or queues where Harvester does not report finished), so PanDA syncs workers from pilots.
 */
export function syncLevelFor(
  mapType: MapType,
  truePilot: boolean,
  noHeartbeat: string | undefined,
): number | undefined {
  if (mapType === 'NoJob' || truePilot || noHeartbeatStatuses(noHeartbeat, false).has('finished')) return 1;
  return undefined;
}
