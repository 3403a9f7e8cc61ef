/**
 * SlurmMonitor (Harvester: slurm_monitor.SlurmMonitor, but bulk): ONE squeue call per checkWorkers
 * and Slurm cluster (`-M`, from the worker's submissionHost) for all the workers, then the job history (jobcomp file and/or sacct) for the ones squeue no
 * longer lists. The I/O is in checkWorkers; mapOneWorker is the pure per-worker decision
 * (Harvester's htcondor_monitor split).
 *
 * A failed squeue is `{ok: false}`: "the query failed" must never read as "no jobs".
 */
import type { WorkSpec } from '../../core/specs';
import { isFinalWorkerStatus } from '../../core/workerStatus';
import { chunkByLength } from '../common/batchName';
import { errorText } from '../common/files';
import { booleanParam, numberParam, optionalString } from '../common/params';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { CheckResult, CheckWorkersReply, Monitor, PluginContext, PluginParams } from '../types';
import {
  groupByCluster,
  parseSacct,
  parseSqueue,
  SACCT_FORMAT,
  SLURM_STATE_MAP,
  type SlurmJobRecord,
  SQUEUE_FORMAT,
  slurmClusterArgs,
  slurmClusterOf,
  slurmQueryEnv,
  slurmStateDiag,
} from './parse';
import { readJobComp, type SlurmDeps } from './submitter';

const PLUGIN = 'SlurmMonitor';

export interface SlurmMonitorOptions {
  /** jobcomp/filetxt file (slurm.conf JobCompLoc) for jobs that left squeue. */
  jobCompLoc?: string;
  /** Ask sacct for jobs neither squeue nor the jobcomp file knows (needs slurmdbd). */
  useSacct: boolean;
  /**
   * A job no source knows, submitted more than `unknownGraceSeconds` ago, is taken as gone and the
   * worker cancelled (HTCondorMonitor's cancelUnknown). Off by default: unknown means "cannot tell".
   */
  cancelUnknown: boolean;
  unknownGraceSeconds: number;
  commandTimeoutMs: number;
}

export function slurmMonitorOptions(params: PluginParams): SlurmMonitorOptions {
  return {
    jobCompLoc: optionalString(params, PLUGIN, 'jobCompLoc'),
    useSacct: booleanParam(params, PLUGIN, 'useSacct', false),
    cancelUnknown: booleanParam(params, PLUGIN, 'cancelUnknown', false),
    unknownGraceSeconds: numberParam(params, PLUGIN, 'unknownGraceSeconds', 600),
    commandTimeoutMs: numberParam(params, PLUGIN, 'commandTimeout', 60) * 1000,
  };
}

/** squeue -j with a single id that Slurm has purged fails with this; with two or more it just omits them. */
const INVALID_JOB_ID = /Invalid job id specified/;

/**
 * The status of one worker from what Slurm said about its job (undefined = no source knows it).
 * `historyNote` says why the job might be unknown (e.g. the history lookup failed).
 */
export function mapOneWorker(
  worker: WorkSpec,
  record: SlurmJobRecord | undefined,
  opts: { cancelUnknown: boolean; unknownGraceSeconds: number; now: Date; historyNote?: string },
): CheckResult {
  if (!worker.batchID) return { status: null, diag: `${PLUGIN}: worker ${worker.workerID} has no batchID` };
  if (record === undefined) {
    const submitted = worker.submitTime ? Date.parse(worker.submitTime) : Number.NaN;
    const old =
      Number.isFinite(submitted) && opts.now.getTime() - submitted > opts.unknownGraceSeconds * 1000;
    if (opts.cancelUnknown && old && !opts.historyNote) {
      return {
        status: 'cancelled',
        diag: `Slurm job ${worker.batchID} is unknown to squeue and the job history; taken as gone`,
        pilotClosed: true,
      };
    }
    return {
      status: null,
      diag: `Slurm job ${worker.batchID} not in squeue${opts.historyNote ? `; ${opts.historyNote}` : ' nor in the job history'}`,
    };
  }
  const mapped = SLURM_STATE_MAP[record.state];
  const base: CheckResult = {
    status: mapped ?? null,
    diag:
      mapped === undefined
        ? `Slurm job ${record.jobId} is in state ${record.state}, which this monitor does not know`
        : '',
    nativeStatus: record.state,
    nativeExitCode: record.exitCode,
    nodeID: record.nodeList,
    startTime: record.startTime,
    endTime: record.endTime,
  };
  if (mapped !== undefined && isFinalWorkerStatus(mapped)) base.diag = slurmStateDiag(record);
  if (record.state === 'PENDING' && record.reason) base.diag = `pending: ${record.reason}`;
  // Never move a worker backwards (running → submitted): Slurm requeue aside, that is a stale answer.
  if (base.status === 'submitted' && (worker.status === 'running' || worker.status === 'idle'))
    base.status = 'idle';
  return base;
}

export class SlurmMonitor implements Monitor {
  private readonly run: CommandRunner;

  constructor(
    readonly options: SlurmMonitorOptions,
    private readonly ctx: PluginContext,
    deps: SlurmDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
  }

  /** One squeue for every job id of one cluster; an empty map when there are none. Throws on failure. */
  private async squeue(cluster: string | undefined, jobIds: string[]): Promise<Map<string, SlurmJobRecord>> {
    const out = new Map<string, SlurmJobRecord>();
    for (const ids of chunkByLength(jobIds)) {
      try {
        const res = await this.run(
          'squeue',
          [...slurmClusterArgs(cluster), '-h', '-t', 'all', '-j', ids.join(','), '-O', SQUEUE_FORMAT],
          { timeoutMs: this.options.commandTimeoutMs, env: slurmQueryEnv() },
        );
        for (const r of parseSqueue(res.stdout)) out.set(r.jobId, r);
      } catch (err) {
        if (
          err instanceof CommandError &&
          err.kind === 'exitCode' &&
          ids.length === 1 &&
          INVALID_JOB_ID.test(err.stderrTail)
        ) {
          continue; // the one job asked for has been purged: absent, not an error
        }
        throw err;
      }
    }
    return out;
  }

  /**
   * jobcomp file and/or sacct for ids of one cluster squeue did not list. Returns the records and a
   * note on failure. The jobcomp file is the local slurmctld's: a record answers for a worker of
   * another cluster only when its Cluster= says that cluster.
   */
  private async history(
    cluster: string | undefined,
    jobIds: string[],
  ): Promise<{ records: Map<string, SlurmJobRecord>; note?: string }> {
    const records = new Map<string, SlurmJobRecord>();
    const notes: string[] = [];
    if (this.options.jobCompLoc) {
      try {
        const all = await readJobComp(this.options.jobCompLoc);
        for (const id of jobIds) {
          const r = all.get(id);
          if (r && (cluster === undefined || r.cluster === cluster)) records.set(id, r);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          notes.push(`jobcomp file unreadable: ${errorText(err)}`);
      }
    }
    const rest = jobIds.filter((id) => !records.has(id));
    if (this.options.useSacct && rest.length > 0) {
      try {
        for (const ids of chunkByLength(rest)) {
          const res = await this.run(
            'sacct',
            [...slurmClusterArgs(cluster), '-n', '-P', '-X', '-j', ids.join(','), `--format=${SACCT_FORMAT}`],
            { timeoutMs: this.options.commandTimeoutMs, env: slurmQueryEnv() },
          );
          for (const [id, r] of parseSacct(res.stdout)) records.set(id, r);
        }
      } catch (err) {
        notes.push(`sacct failed: ${errorText(err)}`);
      }
    }
    if (!this.options.jobCompLoc && !this.options.useSacct)
      notes.push('no job history configured (jobCompLoc, useSacct)');
    return { records, note: notes.length > 0 ? notes.join('; ') : undefined };
  }

  async checkWorkers(workers: WorkSpec[]): Promise<CheckWorkersReply> {
    const clusterOf = new Map<number, string | undefined>();
    const badRecord = new Map<number, string>();
    for (const w of workers) {
      try {
        clusterOf.set(w.workerID, slurmClusterOf(w.submissionHost));
      } catch (err) {
        badRecord.set(w.workerID, `${PLUGIN}: ${errorText(err)}`);
      }
    }
    const known = workers.filter((w) => w.batchID && !badRecord.has(w.workerID));
    // key: cluster ('' = local) + '\n' + batch id: the same job id can exist on two clusters.
    const found = new Map<string, SlurmJobRecord>();
    const notes = new Map<string, string | undefined>();
    for (const [cluster, group] of groupByCluster(known, (w) => clusterOf.get(w.workerID))) {
      const c = cluster === '' ? undefined : cluster;
      const ids = [...new Set(group.map((w) => w.batchID as string))];
      let live: Map<string, SlurmJobRecord>;
      try {
        live = await this.squeue(c, ids);
      } catch (err) {
        const where = c === undefined ? '' : ` (cluster ${c})`;
        return { ok: false, diag: `${PLUGIN}${where}: ${errorText(err)}`, results: [] };
      }
      for (const [id, r] of live) found.set(`${cluster}\n${id}`, r);
      const missing = ids.filter((id) => !live.has(id));
      if (missing.length === 0) continue;
      const { records, note } = await this.history(c, missing);
      for (const [id, r] of records) found.set(`${cluster}\n${id}`, r);
      notes.set(cluster, note);
    }
    const now = this.ctx.now?.() ?? new Date();
    const results = workers.map((w): CheckResult => {
      const bad = badRecord.get(w.workerID);
      if (bad !== undefined) return { status: null, diag: bad };
      const cluster = clusterOf.get(w.workerID) ?? '';
      const record = w.batchID ? found.get(`${cluster}\n${w.batchID}`) : undefined;
      return mapOneWorker(w, record, {
        cancelUnknown: this.options.cancelUnknown,
        unknownGraceSeconds: this.options.unknownGraceSeconds,
        now,
        historyNote: notes.get(cluster),
      });
    });
    return { ok: true, diag: '', results };
  }
}

export function createSlurmMonitor(params: PluginParams, ctx: PluginContext, deps?: SlurmDeps): SlurmMonitor {
  return new SlurmMonitor(slurmMonitorOptions(params), ctx, deps);
}
