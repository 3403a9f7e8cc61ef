/**
 * LocalMonitor: all workers in one pass over their access points (no command per worker).
 * Order matters against the race "process ends between two reads": exit file first, then the
 * process, then the exit file again when the process turned out gone.
 */
import type { WorkSpec } from '../../core/specs';
import { workerAccessPoint } from '../common/accessPoint';
import { errorText, exists } from '../common/files';
import { optionalString } from '../common/params';
import type { CheckResult, CheckWorkersReply, Monitor, PluginContext, PluginParams } from '../types';
import { isWorkerAlive, localFile, readExitCode, readPid } from './process';

const PLUGIN = 'LocalMonitor';

export interface LocalMonitorOptions {
  accessPoint?: string;
}

/** The final status for a recorded exit code; `killed` = the sweeper asked for it. */
export function localExitStatus(code: number, killed: boolean): CheckResult {
  if (killed)
    return {
      status: 'cancelled',
      diag: `killed on request (exit code ${code})`,
      nativeExitCode: code,
      nativeStatus: 'killed',
    };
  if (code === 0) return { status: 'finished', diag: '', nativeExitCode: 0, nativeStatus: 'exited' };
  const signal = code > 128 ? ` (signal ${code - 128})` : '';
  return {
    status: 'failed',
    diag: `pilot exited with code ${code}${signal}`,
    nativeExitCode: code,
    nativeStatus: 'exited',
  };
}

export class LocalMonitor implements Monitor {
  constructor(
    readonly options: LocalMonitorOptions,
    readonly ctx: PluginContext,
  ) {}

  private async checkOne(w: WorkSpec): Promise<CheckResult> {
    let ap: string;
    try {
      ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
    } catch (err) {
      return { status: null, diag: errorText(err) };
    }
    const killed = await exists(localFile(ap, 'killed'));
    const code = await readExitCode(ap);
    if (code !== undefined) return localExitStatus(code, killed);
    const pid = (await readPid(ap)) ?? (w.batchID && /^\d+$/.test(w.batchID) ? Number(w.batchID) : undefined);
    if (pid === undefined) return { status: null, diag: `no pid file in ${ap}` };
    if (await isWorkerAlive(pid, ap)) return { status: 'running', diag: '', nativeStatus: 'alive' };
    const late = await readExitCode(ap);
    if (late !== undefined) return localExitStatus(late, killed);
    // Gone without a record: the wrapper itself was SIGKILLed (kill after grace, OOM killer, reboot).
    return killed
      ? { status: 'cancelled', diag: 'killed on request', nativeStatus: 'killed' }
      : {
          status: 'failed',
          diag: `process ${pid} ended without recording an exit code`,
          nativeStatus: 'vanished',
        };
  }

  async checkWorkers(workers: WorkSpec[]): Promise<CheckWorkersReply> {
    const results: CheckResult[] = [];
    for (const w of workers) {
      try {
        results.push(await this.checkOne(w));
      } catch (err) {
        // One unreadable access point says nothing about the others.
        results.push({ status: null, diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}` });
      }
    }
    return { ok: true, diag: '', results };
  }
}

export function createLocalMonitor(params: PluginParams, ctx: PluginContext): LocalMonitor {
  return new LocalMonitor({ accessPoint: optionalString(params, PLUGIN, 'accessPoint') }, ctx);
}
