/**
 * SlurmSweeper (Harvester: slurm_sweeper.SlurmSweeper): ONE scancel per cluster for the whole list,
 * and the access point removed on sweep. A job Slurm no longer knows or that already ended counts
 * as killed: the goal (the job does not run) holds; the monitor reports the final state.
 */
import type { WorkSpec } from '../../core/specs';
import { chunkByLength } from '../common/batchName';
import { errorText } from '../common/files';
import { numberParam, optionalString } from '../common/params';
import { removeAccessPoint } from '../common/sweep';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
import { groupByCluster, parseScancelStderr, slurmClusterArgs, slurmClusterOf } from './parse';
import type { SlurmDeps } from './submitter';

const PLUGIN = 'SlurmSweeper';

export interface SlurmSweeperOptions {
  accessPoint?: string;
  commandTimeoutMs: number;
}

export function slurmSweeperOptions(params: PluginParams): SlurmSweeperOptions {
  return {
    accessPoint: optionalString(params, PLUGIN, 'accessPoint'),
    commandTimeoutMs: numberParam(params, PLUGIN, 'commandTimeout', 60) * 1000,
  };
}

export class SlurmSweeper implements Sweeper {
  private readonly run: CommandRunner;

  constructor(
    readonly options: SlurmSweeperOptions,
    readonly ctx: PluginContext,
    deps: SlurmDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
  }

  /** scancel for one cluster's ids; returns the ids that were not killed, with why. */
  private async cancel(cluster: string | undefined, ids: string[]): Promise<Map<string, string>> {
    const errors = new Map<string, string>();
    const where = cluster === undefined ? '' : ` on cluster ${cluster}`;
    for (const chunk of chunkByLength(ids, 100_000, ' ')) {
      let stderr: string;
      let callFailure: string | undefined;
      try {
        // scancel may exit 0 with per-job errors on stderr (24.05+ with -M): read stderr either way.
        stderr = (
          await this.run('scancel', [...slurmClusterArgs(cluster), ...chunk], {
            timeoutMs: this.options.commandTimeoutMs,
          })
        ).stderr;
      } catch (err) {
        if (!(err instanceof CommandError) || err.kind !== 'exitCode') {
          // The call itself failed (timeout, not installed): every job of the chunk is still to kill.
          for (const id of chunk) errors.set(id, errorText(err));
          continue;
        }
        stderr = err.stderrTail;
        callFailure = err.message;
      }
      const report = parseScancelStderr(stderr);
      for (const [id, msg] of report.failed) errors.set(id, `${msg}${where}`);
      // An error naming no job (no controller, bad -M), or a non-zero exit no job line explains:
      // the jobs without their own line cannot be taken as killed.
      const general =
        report.general.length > 0
          ? report.general.join('; ')
          : callFailure !== undefined && report.failed.size === 0
            ? callFailure
            : undefined;
      if (general !== undefined) {
        for (const id of chunk) if (!errors.has(id)) errors.set(id, `${general}${where}`);
      }
    }
    return errors;
  }

  async killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
    const clusterOf = new Map<number, string | undefined>();
    const bad = new Map<number, string>();
    for (const w of workers) {
      try {
        clusterOf.set(w.workerID, slurmClusterOf(w.submissionHost));
      } catch (err) {
        bad.set(w.workerID, errorText(err));
      }
    }
    const withJob = workers.filter((w) => w.batchID && !bad.has(w.workerID));
    const errors = new Map<string, string>(); // key: cluster + '\n' + batch id
    for (const [cluster, group] of groupByCluster(withJob, (w) => clusterOf.get(w.workerID))) {
      const ids = [...new Set(group.map((w) => w.batchID as string))];
      const c = cluster === '' ? undefined : cluster;
      for (const [id, msg] of await this.cancel(c, ids)) errors.set(`${cluster}\n${id}`, msg);
    }
    return workers.map((w): PluginResult => {
      if (!w.batchID) return { outcome: 'success', diag: `worker ${w.workerID} has no batch job to cancel` };
      const invalid = bad.get(w.workerID);
      if (invalid !== undefined) return { outcome: 'permanentFailure', diag: `${PLUGIN}: ${invalid}` };
      const e = errors.get(`${clusterOf.get(w.workerID) ?? ''}\n${w.batchID}`);
      return e === undefined
        ? { outcome: 'success', diag: '' }
        : { outcome: 'temporaryFailure', diag: `${PLUGIN}: scancel ${w.batchID}: ${e}` };
    });
  }

  sweepWorker(worker: WorkSpec): Promise<PluginResult> {
    return removeAccessPoint(worker, this.options.accessPoint, PLUGIN);
  }
}

export function createSlurmSweeper(params: PluginParams, ctx: PluginContext, deps?: SlurmDeps): SlurmSweeper {
  return new SlurmSweeper(slurmSweeperOptions(params), ctx, deps);
}
