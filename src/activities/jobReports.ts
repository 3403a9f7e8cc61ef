/**
 * Push mode: the jobs bound to reported workers get their heartbeat (update_jobs) in the same
 * bulk as their workers, with the job status derived from the worker's (Harvester's
 * convert_to_job_status), and with truePilot / noHeartbeat suppression applied. Suppressed jobs
 * that run are still status-checked so a `tobekilled` command from PanDA is not missed.
 * The final report carries the pilot's own report (merged into the job's attributes when the
 * worker ended): meta_data, job_output_report (what PanDA's Adder needs to finish the job) and the
 * pilot's error codes and metrics.
 */
import {
  carriesFinalAttributes,
  jobReportAction,
  noHeartbeatStatuses,
  toPandaJobStatus,
} from '../core/pandaReport';
import {
  isFinalJobStatus,
  type JobState,
  jobStateFromWorker,
  jobStateFromWorkers,
} from '../core/transitions';
import { isFinalWorkerStatus, type WorkerStatus } from '../core/workerStatus';
import {
  type JobRecord,
  listJobsOfWorker,
  markJobsReported,
  type ReportedJob,
  updateJobStatus,
  workersOfJobs,
} from '../db/jobs';
import type { Db } from '../db/pool';
import type { PandaCommunicator } from '../panda/client';
import { formatPandaTime } from '../panda/format';
import type { JobUpdate } from '../panda/types';
import type { ReportWorkerInput } from './lifecycleTypes';

/** Pilot attributes (camelCase, as in Harvester's job attributes) → update_job parameters. */
const PILOT_ATTRIBUTES: Record<string, { key: keyof JobUpdate; type: 'number' | 'string' }> = {
  pilotErrorCode: { key: 'pilot_error_code', type: 'number' },
  pilotErrorDiag: { key: 'pilot_error_diag', type: 'string' },
  exeErrorCode: { key: 'exe_error_code', type: 'number' },
  exeErrorDiag: { key: 'exe_error_diag', type: 'string' },
  transExitCode: { key: 'trans_exit_code', type: 'number' },
  cpuConsumptionTime: { key: 'cpu_consumption_time', type: 'number' },
  cpuConsumptionUnit: { key: 'cpu_consumption_unit', type: 'string' },
  nEvents: { key: 'n_events', type: 'number' },
  maxRSS: { key: 'max_rss', type: 'number' },
  maxVMEM: { key: 'max_vmem', type: 'number' },
  maxPSS: { key: 'max_pss', type: 'number' },
};

function pilotFields(attrs: Record<string, unknown>): Partial<JobUpdate> {
  const out: Record<string, unknown> = {};
  for (const [name, { key, type }] of Object.entries(PILOT_ATTRIBUTES)) {
    const v = attrs[name];
    if (type === 'number' && typeof v === 'number' && Number.isFinite(v)) out[key] = Math.trunc(v);
    // PanDA truncates diagnostics at 500 characters; longer ones are cut here rather than refused.
    if (type === 'string' && typeof v === 'string') out[key] = v.slice(0, 500);
  }
  return out as Partial<JobUpdate>;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** "ad:0a1b2c3d" / "md5:..." / bare adler32 → the output-report keys. */
function checksumFields(checksum: unknown): Record<string, string> {
  if (typeof checksum !== 'string' || checksum === '') return {};
  if (checksum.startsWith('md5:')) return { md5sum: checksum.slice(4) };
  return { adler32: checksum.startsWith('ad:') ? checksum.slice(3) : checksum };
}

/**
 * The job_output_report ({lfn: {guid, fsize, adler32|md5sum, ...}}): given ready-made by the pilot
 * (`xml` / `outputFilesToReport`, as Harvester's attributes name it), else built from the output
 * files of its job report (metaData.files.output[].subFiles[], the ATLAS jobReport.json layout).
 */
export function outputReportFromPilot(attrs: Record<string, unknown>): string | undefined {
  for (const key of ['outputFilesToReport', 'xml']) {
    const v = attrs[key];
    if (typeof v === 'string' && v !== '') return v;
    if (asRecord(v)) return JSON.stringify(v);
  }
  const files = asRecord(asRecord(attrs.metaData)?.files)?.output;
  if (!Array.isArray(files)) return undefined;
  const report: Record<string, Record<string, unknown>> = {};
  for (const group of files) {
    const subFiles = asRecord(group)?.subFiles;
    for (const f of Array.isArray(subFiles) ? subFiles : [group]) {
      const file = asRecord(f);
      const lfn = file?.name ?? file?.lfn;
      if (!file || typeof lfn !== 'string') continue;
      const entry: Record<string, unknown> = {
        guid: file.file_guid ?? file.guid,
        fsize: file.file_size ?? file.fsize,
        ...checksumFields(file.checksum),
        ...(typeof file.adler32 === 'string' ? { adler32: file.adler32 } : {}),
        ...(typeof file.md5sum === 'string' ? { md5sum: file.md5sum } : {}),
      };
      for (const k of Object.keys(entry)) if (entry[k] === undefined) delete entry[k];
      report[lfn] = entry;
    }
  }
  return Object.keys(report).length > 0 ? JSON.stringify(report) : undefined;
}

/**
 * The job's state as reported with this worker, or undefined when another worker reports it.
 * One worker per job (the usual case): the worker's state, the pilot's verdict winning. Several
 * workers per job (OneToMany): the job is final only when all its workers are (core/transitions),
 * and it is reported by its lowest-numbered live worker (Harvester: the smallest workerID leads),
 * or, once all are final, by the first of them to report, once.
 */
function jobState(
  item: ReportWorkerInput,
  job: JobRecord,
  sharers: { workerID: number; status: WorkerStatus }[] | undefined,
): JobState | undefined {
  if (!sharers || sharers.length <= 1)
    return jobStateFromWorker(item.worker.status, job.jobAttributes.jobStatus);
  // The DB may not have this worker's newest status yet (the report carries it).
  const statuses = sharers.map((w) => ({
    ...w,
    status: w.workerID === item.worker.workerID ? item.worker.status : w.status,
  }));
  const live = statuses.filter((w) => !isFinalWorkerStatus(w.status));
  if (live.length > 0 && live[0].workerID !== item.worker.workerID) return undefined;
  const state = jobStateFromWorkers(
    statuses.map((w) => w.status),
    job.status === 'running',
  );
  const pilot = job.jobAttributes.jobStatus;
  return live.length === 0 && (pilot === 'finished' || pilot === 'failed')
    ? jobStateFromWorker(pilot)
    : state;
}

export interface JobReportOutcome {
  jobsReported: number;
  killRequested: boolean;
  detail: string;
}

export async function reportJobsOfWorkers(
  db: Db,
  panda: PandaCommunicator,
  items: readonly ReportWorkerInput[],
  now: Date,
): Promise<JobReportOutcome[]> {
  const outcomes: JobReportOutcome[] = items.map(() => ({
    jobsReported: 0,
    killRequested: false,
    detail: '',
  }));
  const updates: JobUpdate[] = [];
  const updateOwner: number[] = [];
  const reported: (number | ReportedJob)[] = [];
  const checks: number[] = [];
  const checkOwner: number[] = [];
  const jobsOf = new Map<number, JobRecord[]>();
  for (const item of items) {
    if (item.policy.mapType !== 'NoJob')
      jobsOf.set(item.worker.workerID, await listJobsOfWorker(db, item.worker.workerID));
  }
  // OneToMany: a job run by several workers is reported once, from one of them (below).
  const shared =
    items.some((i) => i.policy.mapType === 'OneToMany') && jobsOf.size > 0
      ? await workersOfJobs(
          db,
          [...jobsOf.values()].flat().map((j) => j.PandaID),
        )
      : new Map<number, { workerID: number; status: WorkerStatus }[]>();
  const inThisCall = new Set<number>();
  for (const [idx, item] of items.entries()) {
    if (item.policy.mapType === 'NoJob') continue;
    const suppressed = noHeartbeatStatuses(item.policy.noHeartbeat.join(','), item.policy.truePilot);
    for (const job of jobsOf.get(item.worker.workerID) ?? []) {
      if (job.subStatus === 'done' || inThisCall.has(job.PandaID)) continue;
      const state = jobState(item, job, shared.get(job.PandaID));
      if (!state) continue; // another worker of the job reports it
      // No stage-out step runs here (no stager; the messenger lists no files to stage out): the
      // pilot has staged its outputs and listed them in its report. So a final job's stage-out is
      // complete at once (Harvester: to_transfer → staged) and the final report goes out with the
      // final status, not as `transferring`, which PanDA would never see end.
      if (isFinalJobStatus(state.status) && state.subStatus === 'to_transfer') state.subStatus = 'staged';
      const input = { status: state.status, subStatus: state.subStatus };
      const action = jobReportAction(input, suppressed);
      if (action === 'skip') continue;
      if (action === 'check') {
        checks.push(job.PandaID);
        checkOwner.push(idx);
        continue;
      }
      const { jobStatus, jobSubStatus } = toPandaJobStatus(input);
      // The DB follows the state reported, so the final report can close the job (subStatus done).
      await updateJobStatus(db, job.PandaID, {
        status: state.status,
        subStatus: state.subStatus,
        startTime: item.worker.startTime,
        endTime: item.worker.endTime,
      });
      const attrs = job.jobAttributes;
      const finalFields: Partial<JobUpdate> = {};
      if (carriesFinalAttributes(input)) {
        if (attrs.metaData !== undefined)
          finalFields.meta_data =
            typeof attrs.metaData === 'string' ? attrs.metaData : JSON.stringify(attrs.metaData);
        const outputReport = outputReportFromPilot(attrs);
        if (outputReport !== undefined) finalFields.job_output_report = outputReport;
      }
      updates.push({
        ...pilotFields(attrs),
        ...finalFields,
        job_id: job.PandaID,
        job_status: jobStatus,
        job_sub_status: jobSubStatus,
        attempt_nr: job.attemptNr,
        site_name: item.worker.computingSite,
        batch_id: item.worker.batchID,
        node: item.worker.nodeID,
        core_count: item.worker.nCore,
        start_time: item.worker.startTime ? formatPandaTime(new Date(item.worker.startTime)) : undefined,
        end_time: item.worker.endTime ? formatPandaTime(new Date(item.worker.endTime)) : undefined,
      });
      updateOwner.push(idx);
      inThisCall.add(job.PandaID);
      reported.push(
        isFinalJobStatus(state.status) ? { pandaID: job.PandaID, finalStatus: state.status } : job.PandaID,
      );
    }
  }
  if (updates.length > 0) {
    const results = await panda.updateJobs(updates);
    results.forEach((r, i) => {
      const o = outcomes[updateOwner[i]];
      o.jobsReported++;
      if (r.killRequested) {
        o.killRequested = true;
        o.detail = `PanDA command for job ${r.PandaID}: ${r.command ?? 'tobekilled'}`;
      }
    });
    await markJobsReported(db, reported, now);
  }
  if (checks.length > 0) {
    const results = await panda.checkJobs(checks);
    results.forEach((r, i) => {
      const o = outcomes[checkOwner[i]];
      if (r.killRequested || r.status === 'unknown') {
        o.killRequested = true;
        o.detail = r.killRequested
          ? `PanDA command for job ${r.PandaID}: ${r.command ?? 'tobekilled'}`
          : `PanDA does not know job ${r.PandaID} any more (status unknown)`;
      }
    });
  }
  return outcomes;
}
