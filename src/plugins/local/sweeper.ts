/**
 * LocalSweeper: SIGTERM to each worker's process group, SIGKILL to those still alive after the
 * grace period (all workers in parallel, so killing a hundred takes one grace period, not a
 * hundred). A `pilot.killed` marker written first lets the monitor report `cancelled` rather
 * than `failed` for the exit code the signal causes.
 */
import { promises as fs } from 'node:fs';
import type { WorkSpec } from '../../core/specs';
import { workerAccessPoint } from '../common/accessPoint';
import { errorText } from '../common/files';
import { numberParam, optionalString } from '../common/params';
import { removeAccessPoint } from '../common/sweep';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
import { groupHasLiveMembers, isWorkerAlive, localFile, readPid, signalGroup } from './process';

const PLUGIN = 'LocalSweeper';

export interface LocalSweeperOptions {
  accessPoint?: string;
  /** Seconds between SIGTERM and SIGKILL. */
  killGraceSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalSweeper implements Sweeper {
  constructor(
    readonly options: LocalSweeperOptions,
    readonly ctx: PluginContext,
  ) {}

  private async killOne(w: WorkSpec): Promise<PluginResult> {
    let ap: string;
    try {
      ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
    } catch (err) {
      return { outcome: 'permanentFailure', diag: errorText(err) };
    }
    const pid = await readPid(ap);
    if (pid === undefined || !(await isWorkerAlive(pid, ap)))
      return { outcome: 'success', diag: 'not running' };
    await fs.writeFile(localFile(ap, 'killed'), `${new Date().toISOString()}\n`);
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + this.options.killGraceSeconds * 1000;
    const alive = async () => (await isWorkerAlive(pid, ap)) || (await groupHasLiveMembers(pid));
    while (Date.now() < deadline) {
      if (!(await alive())) return { outcome: 'success', diag: '' };
      await sleep(100);
    }
    signalGroup(pid, 'SIGKILL');
    // SIGKILL cannot be ignored, but on a loaded machine the kernel may take a moment to reap.
    for (let i = 0; i < 40; i++) {
      if (!(await alive())) return { outcome: 'success', diag: 'needed SIGKILL' };
      await sleep(50);
    }
    return { outcome: 'temporaryFailure', diag: `${PLUGIN}: process group ${pid} survived SIGKILL` };
  }

  killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
    return Promise.all(
      workers.map((w) =>
        this.killOne(w).catch(
          (err): PluginResult => ({
            outcome: 'temporaryFailure',
            diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}`,
          }),
        ),
      ),
    );
  }

  sweepWorker(worker: WorkSpec): Promise<PluginResult> {
    return removeAccessPoint(worker, this.options.accessPoint, PLUGIN);
  }
}

export function createLocalSweeper(params: PluginParams, ctx: PluginContext): LocalSweeper {
  return new LocalSweeper(
    {
      accessPoint: optionalString(params, PLUGIN, 'accessPoint'),
      killGraceSeconds: numberParam(params, PLUGIN, 'killGraceSeconds', 5),
    },
    ctx,
  );
}
