/**
 * HTCondorSweeper: one condor_rm per schedd for the whole list, always with `cluster.proc` ids, so
 * condor_rm answers one line per job (parse.ts parseCondorRm has the wordings and their sources).
 * condor_rm exits 1 when no job of the call was removed (a job already gone counts as not removed),
 * and 0 when at least one was, whatever the others' lines say (captured, 23.9.6); each job's own
 * line decides its outcome (parse.ts condorRmOutcome).
 */
import { hostname } from 'node:os';
import type { WorkSpec } from '../../core/specs';
import { errorText } from '../common/files';
import { numberParam, optionalString } from '../common/params';
import { removeAccessPoint } from '../common/sweep';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
import { type CondorRmResult, condorJobId, condorRmOutcome, parseCondorRm } from './parse';
import { scheddArgs } from './schedd';
import type { CondorDeps } from './submitter';

const PLUGIN = 'HTCondorSweeper';

/** condor_rm's exit codes with per-job lines; 1 when no job was removed; the lines say which and why. */
export const CONDOR_RM_OK_EXIT_CODES = [0, 1] as const;

/**
 * One condor_rm for the ids of one schedd: each id's outcome. Shared by the sweeper and the
 * monitor (which removes held jobs that will never run).
 */
export async function condorRm(
  run: CommandRunner,
  hostArgs: string[],
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, PluginResult>> {
  const out = new Map<string, PluginResult>();
  let lines = new Map<string, CondorRmResult>();
  let failure: string | undefined;
  try {
    const res = await run('condor_rm', [...hostArgs, ...ids], {
      timeoutMs,
      okExitCodes: CONDOR_RM_OK_EXIT_CODES,
    });
    lines = parseCondorRm(`${res.stdout}\n${res.stderr}`);
    if (res.exitCode !== 0)
      failure = `condor_rm exited with code ${res.exitCode}: ${res.stderr.trim().slice(-500)}`;
  } catch (err) {
    // A timeout or crash after some lines were printed: those jobs' lines still count.
    if (err instanceof CommandError) lines = parseCondorRm(`${err.stdout}\n${err.stderrTail}`);
    failure = errorText(err);
  }
  for (const id of ids) out.set(id, condorRmOutcome(id, lines.get(id), failure));
  return out;
}

export class HTCondorSweeper implements Sweeper {
  private readonly run: CommandRunner;
  private readonly localName: string;
  private readonly timeoutMs: number;
  private readonly accessPoint: string | undefined;

  constructor(
    params: PluginParams,
    readonly ctx: PluginContext,
    deps: CondorDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
    this.localName = deps.localName ?? hostname();
    this.timeoutMs = numberParam(params, PLUGIN, 'commandTimeout', 120) * 1000;
    this.accessPoint = optionalString(params, PLUGIN, 'accessPoint');
  }

  async killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
    const results: PluginResult[] = new Array(workers.length);
    const byHost = new Map<string, Array<{ index: number; id: string }>>();
    for (const [index, w] of workers.entries()) {
      if (!w.batchID) {
        results[index] = { outcome: 'success', diag: `worker ${w.workerID} has no batch job to remove` };
        continue;
      }
      try {
        const host = w.submissionHost ?? '';
        byHost.set(host, [...(byHost.get(host) ?? []), { index, id: condorJobId(w.batchID) }]);
      } catch (err) {
        results[index] = {
          outcome: 'permanentFailure',
          diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}`,
        };
      }
    }
    for (const [host, jobs] of byHost) {
      const ids = [...new Set(jobs.map((j) => j.id))];
      const outcome = await condorRm(
        this.run,
        scheddArgs(host || undefined, this.localName),
        ids,
        this.timeoutMs,
      );
      for (const { index, id } of jobs) {
        const r = outcome.get(id) as PluginResult;
        results[index] = r.outcome === 'success' ? r : { ...r, diag: `${PLUGIN}: ${r.diag}` };
      }
    }
    return results;
  }

  sweepWorker(worker: WorkSpec): Promise<PluginResult> {
    return removeAccessPoint(worker, this.accessPoint, PLUGIN);
  }
}

export function createHTCondorSweeper(
  params: PluginParams,
  ctx: PluginContext,
  deps?: CondorDeps,
): HTCondorSweeper {
  return new HTCondorSweeper(params, ctx, deps);
}
