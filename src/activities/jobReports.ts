/**
 * Push mode: the jobs bound to reported workers get their heartbeat (update_jobs) in the same
 * bulk as their workers, with the job status derived from the worker's (Harvester's
 * convert_to_job_status), and with truePilot / noHeartbeat suppression applied. Suppressed jobs
 * that run are still status-checked so a `tobekilled` command from PanDA is not missed.
 */
import { jobReportAction, noHeartbeatStatuses, toPandaJobStatus } from '../core/pandaReport';
import { isFinalJobStatus, jobStateFromWorker } from '../core/transitions';
import { listJobsOfWorker, markJobsReported, type ReportedJob } from '../db/jobs';
import type { Db } from '../db/pool';
import type { PandaCommunicator } from '../panda/client';
import { formatPandaTime } from '../panda/format';
import type { JobUpdate } from '../panda/types';
import type { ReportWorkerInput } from './lifecycleTypes';

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
  for (const [idx, item] of items.entries()) {
    if (item.policy.mapType === 'NoJob') continue;
    const suppressed = noHeartbeatStatuses(item.policy.noHeartbeat.join(','), item.policy.truePilot);
    for (const job of await listJobsOfWorker(db, item.worker.workerID)) {
      if (job.subStatus === 'done') continue;
      const state = jobStateFromWorker(item.worker.status, job.jobAttributes.jobStatus);
      const input = { status: state.status, subStatus: state.subStatus };
      const action = jobReportAction(input, suppressed);
      if (action === 'skip') continue;
      if (action === 'check') {
        checks.push(job.PandaID);
        checkOwner.push(idx);
        continue;
      }
      const { jobStatus, jobSubStatus } = toPandaJobStatus(input);
      updates.push({
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
