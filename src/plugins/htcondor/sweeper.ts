/**
 * HTCondorSweeper: one condor_rm per schedd for the whole list. condor_rm prints one line per job
 * ("Job 4242.0 marked for removal" / "... not found") and exits 1 if any failed; a job that is not
 * found is already gone, which is what a kill wants.
 */
import { hostname } from 'node:os';
import type { WorkSpec } from '../../core/specs';
import { errorText } from '../common/files';
import { numberParam, optionalString } from '../common/params';
import { removeAccessPoint } from '../common/sweep';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
import { scheddArgs } from './schedd';
import type { CondorDeps } from './submitter';

const PLUGIN = 'HTCondorSweeper';

/** Per-job outcome lines of condor_rm; ids without a line are unknown. */
export function parseCondorRm(output: string): Map<string, 'removed' | 'gone' | string> {
  const out = new Map<string, string>();
  for (const line of output.split('\n')) {
    const m = /^Job (\d+\.\d+) (.*)$/.exec(line.trim());
    if (!m) continue;
    if (/marked for removal|already marked/.test(m[2])) out.set(m[1], 'removed');
    else if (/not found/.test(m[2])) out.set(m[1], 'gone');
    else out.set(m[1], m[2]);
  }
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
    const byHost = new Map<string, string[]>();
    for (const w of workers)
      if (w.batchID)
        byHost.set(w.submissionHost ?? '', [...(byHost.get(w.submissionHost ?? '') ?? []), w.batchID]);
    const outcome = new Map<string, PluginResult>(); // host + id
    const key = (host: string, id: string) => `${host}\u0000${id}`;
    for (const [host, ids] of byHost) {
      let text: string;
      let callError: string | undefined;
      try {
        const res = await this.run('condor_rm', [...scheddArgs(host || undefined, this.localName), ...ids], {
          timeoutMs: this.timeoutMs,
        });
        text = `${res.stdout}\n${res.stderr}`;
      } catch (err) {
        text = err instanceof CommandError ? `${err.stdout}\n${err.stderrTail}` : '';
        callError = errorText(err);
      }
      const lines = parseCondorRm(text);
      for (const id of ids) {
        const r = lines.get(id);
        if (r === 'removed' || r === 'gone')
          outcome.set(key(host, id), { outcome: 'success', diag: r === 'gone' ? 'already gone' : '' });
        else if (r === undefined && callError === undefined)
          outcome.set(key(host, id), { outcome: 'success', diag: '' });
        else
          outcome.set(key(host, id), {
            outcome: 'temporaryFailure',
            diag: `${PLUGIN}: condor_rm ${id}: ${r ?? callError}`,
          });
      }
    }
    return workers.map((w) =>
      w.batchID
        ? (outcome.get(key(w.submissionHost ?? '', w.batchID)) as PluginResult)
        : { outcome: 'success', diag: `worker ${w.workerID} has no batch job to remove` },
    );
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
