/**
 * SlurmSweeper (Harvester: slurm_sweeper.SlurmSweeper): ONE scancel for the whole list, and the
 * access point removed on sweep. A job Slurm no longer knows or that already ended counts as
 * killed: the goal (the job does not run) holds; the monitor reports the final state.
 */
import type { WorkSpec } from '../../core/specs';
import { chunkByLength } from '../common/batchName';
import { errorText } from '../common/files';
import { numberParam, optionalString } from '../common/params';
import { removeAccessPoint } from '../common/sweep';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
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

/** `scancel: error: Kill job error on job id 123: Some message` */
const KILL_ERROR = /job id (\d+(?:_\d+)?):\s*(.*)$/;
const ALREADY_GONE = /already completing or completed|Invalid job id/i;

/** Per-job errors from scancel's stderr; jobs that are merely gone are not errors. */
export function parseScancelErrors(stderr: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stderr.split('\n')) {
    const m = KILL_ERROR.exec(line);
    if (m && !ALREADY_GONE.test(m[2])) out.set(m[1], m[2]);
  }
  return out;
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

  async killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
    const ids = [...new Set(workers.map((w) => w.batchID).filter((id): id is string => !!id))];
    const errors = new Map<string, string>();
    for (const chunk of chunkByLength(ids, 100_000, ' ')) {
      try {
        await this.run('scancel', chunk, { timeoutMs: this.options.commandTimeoutMs });
      } catch (err) {
        const perJob =
          err instanceof CommandError && err.kind === 'exitCode'
            ? parseScancelErrors(err.stderrTail)
            : new Map();
        if (perJob.size > 0) {
          for (const [id, msg] of perJob) errors.set(id, msg);
        } else if (
          !(err instanceof CommandError && err.kind === 'exitCode' && ALREADY_GONE.test(err.stderrTail))
        ) {
          // The call itself failed (timeout, no slurmctld): every job of the chunk is still to kill.
          for (const id of chunk) errors.set(id, errorText(err));
        }
      }
    }
    return workers.map((w): PluginResult => {
      if (!w.batchID) return { outcome: 'success', diag: `worker ${w.workerID} has no batch job to cancel` };
      const e = errors.get(w.batchID);
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
