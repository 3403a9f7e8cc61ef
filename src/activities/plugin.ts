/**
 * Plugin activities: the only code that touches a batch system. They run wherever the queue's
 * config routes them (an edge worker next to the batch system, or the central worker), need no
 * DB, and receive the plugin section of the queue config with every call.
 */
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JobSpec } from '../core/specs';
import type { PluginRegistry } from '../plugins/registry';
import type {
  CheckWorkersReply,
  PluginKind,
  PluginKinds,
  PluginResult,
  SubmitResult,
} from '../plugins/types';
import type {
  FeedJobsCall,
  PilotJobAttributes,
  PluginCall,
  WorkerPluginCall,
  WorkersPluginCall,
} from './lifecycleTypes';

export const PERMANENT_PLUGIN_FAILURE = 'PermanentPluginFailure';

/**
 * The pilot's reports go into workflow history once per worker; an ATLAS jobReport.json can be
 * large, so above this size its metaData is cut down to the part PanDA's Adder needs (`files`).
 */
const MAX_PILOT_REPORT_CHARS = 256 * 1024;

function trimPilotReport(pandaID: string, attrs: Record<string, unknown>): Record<string, unknown> {
  if (JSON.stringify(attrs).length <= MAX_PILOT_REPORT_CHARS) return attrs;
  const meta = attrs.metaData as { files?: unknown } | undefined;
  log.warn('pilot job report too large for workflow history: metaData cut down to its files', {
    PandaID: pandaID,
  });
  return { ...attrs, metaData: meta && typeof meta === 'object' ? { files: meta.files } : undefined };
}

export interface PluginActivityDeps {
  registry: PluginRegistry;
}

/**
 * Heartbeats while a plugin call runs, so that when an edge process dies mid-call the server
 * notices within the heartbeat timeout (seconds), not the start-to-close timeout (minutes),
 * and the retry (which first looks the worker up in the batch system) runs elsewhere soon.
 */
async function withHeartbeats<T>(fn: () => Promise<T>): Promise<T> {
  heartbeat();
  const timer = setInterval(() => heartbeat(), 3000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

export function createPluginActivities(deps: PluginActivityDeps) {
  function plugin<K extends PluginKind>(kind: K, call: PluginCall, submitAttempt?: number): PluginKinds[K] {
    try {
      return deps.registry.create(kind, call.params, {
        harvesterID: call.harvesterID,
        queueName: call.queueName,
        submitAttempt,
      });
    } catch (err) {
      // A config naming an unknown plugin will not fix itself by retrying.
      throw ApplicationFailure.nonRetryable((err as Error).message, 'PluginConfigError');
    }
  }

  return {
    /**
     * Submits one worker. A retry first looks the worker id up in the batch system, so an attempt
     * that died after sbatch/condor_submit but before reporting never makes a second batch job.
     */
    async submitWorker(call: WorkerPluginCall): Promise<SubmitResult> {
      return withHeartbeats(() => submitOne(call));
    },

    /** One bulk status query for many workers (one squeue / condor_q). */
    async checkWorkers(call: WorkersPluginCall): Promise<CheckWorkersReply> {
      return withHeartbeats(() => plugin('monitor', call).checkWorkers(call.workers));
    },

    /** One kill call for many workers (one scancel / condor_rm). */
    async killWorkers(call: WorkersPluginCall): Promise<PluginResult[]> {
      return withHeartbeats(() => plugin('sweeper', call).killWorkers(call.workers));
    },

    /**
     * Push mode, before submission (Harvester's submitter step 7): the messenger prepares the
     * worker's access point and writes the job description where the pilot looks for it.
     */
    async feedJobs(call: FeedJobsCall): Promise<void> {
      await withHeartbeats(async () => {
        const messenger = plugin('messenger', call);
        const worker = { ...call.worker, pandaIDs: call.jobs.map((j) => j.PandaID) };
        if (!(await messenger.setupAccessPoints([worker])))
          throw ApplicationFailure.retryable(`setup_access_points failed for worker ${worker.workerID}`);
        const jobs: JobSpec[] = call.jobs.map((j) => ({
          PandaID: j.PandaID,
          status: 'starting',
          subStatus: 'prepared',
          computingSite: worker.computingSite,
          jobParams: j.jobParams,
          jobAttributes: {},
        }));
        if (!(await messenger.feedJobs(worker, jobs)))
          throw ApplicationFailure.nonRetryable(
            `feed_jobs failed for worker ${worker.workerID}`,
            PERMANENT_PLUGIN_FAILURE,
          );
      });
    },

    /**
     * Push mode, once the worker is final: what the pilot left in the access point (work
     * attributes, job report with output files), keyed by PandaID, for the final job report.
     */
    async getWorkAttributes(call: WorkerPluginCall): Promise<PilotJobAttributes> {
      const all = await withHeartbeats(() => plugin('messenger', call).getWorkAttributes(call.worker));
      const out: PilotJobAttributes = {};
      for (const [pandaID, attrs] of Object.entries(all)) {
        if (typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs))
          out[pandaID] = trimPilotReport(pandaID, attrs as Record<string, unknown>);
      }
      return out;
    },

    async sweepWorker(call: WorkerPluginCall): Promise<PluginResult> {
      const result = await withHeartbeats(() => plugin('sweeper', call).sweepWorker(call.worker));
      if (result.outcome === 'temporaryFailure')
        throw ApplicationFailure.retryable(result.diag || 'sweep failed');
      return result;
    },
  };

  async function submitOne(call: WorkerPluginCall): Promise<SubmitResult> {
    const submitter = plugin('submitter', call, activityInfo().attempt);
    if (activityInfo().attempt > 1 && submitter.findSubmittedWorkers) {
      const found = (await submitter.findSubmittedWorkers([call.worker])).get(call.worker.workerID);
      if (found?.batchID) {
        log.info('retried submit found the existing batch job', {
          workerID: call.worker.workerID,
          batchID: found.batchID,
        });
        return { ...found, outcome: 'success', diag: found.diag ?? '' };
      }
    }
    const [result] = await submitter.submitWorkers([call.worker]);
    if (!result) throw new Error(`submitter ${call.params.module}/${call.params.name} returned no result`);
    if (result.outcome === 'permanentFailure') {
      throw ApplicationFailure.nonRetryable(result.diag || 'submission failed', PERMANENT_PLUGIN_FAILURE);
    }
    if (result.outcome === 'temporaryFailure')
      throw ApplicationFailure.retryable(result.diag || 'submission failed');
    return result;
  }
}

export type PluginActivities = ReturnType<typeof createPluginActivities>;
